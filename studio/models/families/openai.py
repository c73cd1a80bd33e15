"""OpenAI's families — `adm` (guided-diffusion), `iddpm` (improved-diffusion), `glide` — one class, three
instances: their networks differ only in what their configs say."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from studio.core.enums import Architecture
from studio.models.config import ModelConfig
from studio.models.families.base import Conditioning
from studio.models.openai.convert import build_network, convert
from studio.models.openai.flags import spec_from_flags
from studio.models.openai.recognise import recognise


def network_timesteps(config: ModelConfig, t: torch.Tensor) -> torch.Tensor:
    """What the network receives for original timesteps t: t itself, or improved-diffusion's t·1000/T when
    the file was trained with rescale_timesteps."""
    if config.openai is not None and config.openai.rescale_timesteps:
        return t.float() * (1000.0 / config.diffusion.timesteps)
    return t


class OpenAIFamily:
    def __init__(self, architecture: Architecture) -> None:
        self.architecture = architecture

    def build_module(self, config: ModelConfig) -> nn.Module:
        return build_network(config)

    def conditioning(
        self,
        module: nn.Module,
        config: ModelConfig,
        prompts: Sequence[str],
        negative: Sequence[str] | None = None,
        *,
        class_labels: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
        aug_level: torch.Tensor | None = None,
    ) -> Conditioning:
        kwargs = {}
        if config.openai.num_classes and class_labels is not None:
            kwargs["y"] = class_labels
        if extra is not None:
            kwargs["low_res"] = extra
        return Conditioning(kwargs, paired=False)

    def import_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
        """Recognise the file among this family's presets and convert it."""
        spec = spec_from_flags(self.architecture, recognise(self.architecture, tensors).flags)
        return spec.config, convert(spec, tensors)
