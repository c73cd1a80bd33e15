"""The contract every model family keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from studio.core.enums import Architecture
from studio.models.config import ModelConfig


@dataclass(frozen=True, eq=False)
class Conditioning:
    """The network's keyword arguments for one batch of B images.

    `paired`: the rows are [cond; uncond] (2B) for classifier-free guidance in one forward; the
    sampler's x_t is doubled to match and the two halves of the output combined."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    paired: bool = False


class Family(Protocol):
    architecture: Architecture

    def build_module(self, config: ModelConfig) -> nn.Module:
        """The untrained network of this config (weights come from the file)."""

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
        """The batch's conditioning; with `negative`, [prompts; negative] rows for guidance."""

    def import_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
        """A foreign checkpoint's config and tensors under our names (ValueError if it is not one)."""

    def forward(self, module: nn.Module, config: ModelConfig, x: torch.Tensor, t: torch.Tensor,
                **conditioning: Any) -> torch.Tensor:
        """One forward as the engine calls it: t are original timesteps, `conditioning` this family's
        kwargs plus the tasks' own (`extra`: the SR stage's upsampled low-res image or a mask-channel
        model's [mask (1 = regenerate), masked image]; `aug_level`)."""
