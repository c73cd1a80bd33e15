"""The studio's own family: the guided U-Net with its in-file tokenizer and text encoder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from studio.core.enums import Architecture, Role
from studio.models.classifier import NoisyClassifier
from studio.models.config import ModelConfig
from studio.models.families.base import Conditioning, StageSampling
from studio.models.network import DiffusionNet


def _rows(tensor: torch.Tensor | None, paired: bool) -> torch.Tensor | None:
    """Per-image inputs repeated for the unconditional half of a paired batch."""
    if tensor is None:
        return None
    return torch.cat([tensor, tensor]) if paired else tensor


class StudioFamily:
    architecture = Architecture.STUDIO

    def recognises(self, names) -> bool:
        return False  # studio files say what they are in their metadata

    def file_tensor_names(self, names) -> dict[str, str]:
        return {name: name for name in names}  # our files hold the module's state dict as it is

    def module_tensor(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def build_module(self, config: ModelConfig) -> nn.Module:
        return NoisyClassifier(config.classifier) if config.role is Role.CLASSIFIER else DiffusionNet(config)

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
        # Without a text encoder there is nothing to guide with: the batch stays single.
        paired = negative is not None and config.text is not None
        kwargs = {
            "text": module.encode_prompts([*prompts, *(negative if paired else ())]) if config.text else None,
            "class_labels": _rows(class_labels, paired),
            "extra": _rows(extra, paired),
            "aug_level": _rows(aug_level, paired),
        }
        return Conditioning({k: v for k, v in kwargs.items() if v is not None}, paired)

    def sampling(self, config: ModelConfig) -> StageSampling:
        eta = config.diffusion.sample_eta if config.role is not Role.CLASSIFIER else 0.0
        return StageSampling(eta=eta or None)

    def forward(self, module: nn.Module, config: ModelConfig, x: torch.Tensor, t: torch.Tensor,
                **conditioning) -> torch.Tensor:
        return module(x, t, **conditioning)

    def latent_space(self, module: nn.Module, config: ModelConfig) -> None:
        return None  # pixel space

    def import_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
        raise ValueError("studio models are read directly from their own files; there is nothing to import")
