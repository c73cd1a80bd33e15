"""Model families: what a network of one `architecture` needs besides its weights.

A family builds its module from a config, builds the conditioning of a batch — the [cond; uncond]
rows classifier-free guidance runs in one forward, pooled and token text features, extra input
channels — and brings foreign checkpoints in as our tensors. Sampling, training and classifier
guidance all ask the family, so the conditioning is written once. docs/models.md shows how to add one.
"""

from __future__ import annotations

from studio.core.enums import Architecture
from studio.models.config import ModelConfig
from studio.models.families.base import Conditioning, Family, StageSampling
from studio.models.families.openai import OpenAIFamily
from studio.models.families.studio import StudioFamily

FAMILIES: dict[Architecture, Family] = {
    Architecture.STUDIO: StudioFamily(),
    **{a: OpenAIFamily(a) for a in (Architecture.ADM, Architecture.IDDPM, Architecture.GLIDE)},
}


def family_of(config: ModelConfig) -> Family:
    try:
        return FAMILIES[config.architecture]
    except KeyError:
        raise ValueError(f"no model family {config.architecture.value!r} in this studio") from None


__all__ = ["FAMILIES", "Conditioning", "Family", "StageSampling", "family_of"]
