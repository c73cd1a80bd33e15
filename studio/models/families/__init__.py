"""Model families: what a network of one `architecture` needs besides its weights.

A family builds its module from a config, builds the conditioning of a batch — the [cond; uncond]
rows classifier-free guidance runs in one forward, pooled and token text features, extra input
channels — and brings foreign checkpoints in as our tensors. Sampling, training and classifier
guidance all ask the family, so the conditioning is written once. docs/models.md shows how to add one.
"""

from __future__ import annotations

from collections.abc import Iterable

from studio.core.enums import Architecture
from studio.models.config import ModelConfig
from studio.models.families.base import Conditioning, Family, LatentSpace, StageSampling
from studio.models.families.openai import OpenAIFamily
from studio.models.families.sd1 import SD1Family
from studio.models.families.sd_x4 import SDX4Family
from studio.models.families.studio import StudioFamily

FAMILIES: dict[Architecture, Family] = {
    Architecture.STUDIO: StudioFamily(),
    **{a: OpenAIFamily(a) for a in (Architecture.ADM, Architecture.IDDPM, Architecture.GLIDE)},
    Architecture.SD_X4: SDX4Family(),  # before SD 1.x, whose layout it shares: the first that recognises wins
    Architecture.SD1: SD1Family(),
}


def family_of(config: ModelConfig) -> Family:
    try:
        return FAMILIES[config.architecture]
    except KeyError:
        raise ValueError(f"no model family {config.architecture.value!r} in this studio") from None


def family_reading_in_place(names: Iterable[str]) -> Family | None:
    """The family whose key layout a file without studio metadata has (read in place), if any."""
    names = list(names)
    return next((f for f in FAMILIES.values() if f.recognises(names)), None)


__all__ = ["FAMILIES", "Conditioning", "Family", "LatentSpace", "StageSampling", "family_of", "family_reading_in_place"]
