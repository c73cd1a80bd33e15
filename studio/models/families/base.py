"""The contract every model family keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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


@dataclass(frozen=True, eq=False)
class LatentSpace:
    """Where a latent family's diffusion runs (DESIGN §15): the engine samples tensors of `channels` at
    1/`factor` of the image size and turns them into pixels with these callables."""

    channels: int
    factor: int  # image size / latent size
    encode: Callable[[torch.Tensor], torch.Tensor]  # images [B, 3, H, W] in [−1, 1] → latents
    decode: Callable[[torch.Tensor], torch.Tensor]  # latents → images in (about) [−1, 1]: exact, costly
    preview: Callable[[torch.Tensor], torch.Tensor]  # latents → images at latent size: cheap, approximate


class Family(Protocol):
    architecture: Architecture

    def recognises(self, names: Iterable[str]) -> bool:
        """Whether a safetensors file without studio metadata, with these tensor names, is read in place
        by this family (which then also has `config_from_shapes`, `card`, `file_tensor_names` and
        `module_tensor`; docs/models.md)."""

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

    def latent_space(self, module: nn.Module, config: ModelConfig) -> LatentSpace | None:
        """None for pixel-space families."""

    def import_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
        """A foreign checkpoint's config and tensors under our names (ValueError if it is not one)."""

    def forward(self, module: nn.Module, config: ModelConfig, x: torch.Tensor, t: torch.Tensor,
                **conditioning: Any) -> torch.Tensor:
        """One forward as the engine calls it: t are original timesteps, `conditioning` this family's
        kwargs plus the tasks' own (`extra`: the SR stage's upsampled low-res image or a mask-channel
        model's [mask (1 = regenerate), masked image]; `aug_level`)."""
