"""The contract every model family keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from studio.core.enums import Architecture, SamplerKind
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


@dataclass(frozen=True)
class StageSampling:
    """How a family's reference code samples one of its networks, beyond the schedule and the sampler.

    The engine reads it off the model's family (`Family.sampling`) for the stage that runs the model, so
    no call carries it as a flag."""

    temperature: float = 1.0  # x_T drawn as temperature·z (glide-text2im's upsample_temp, 0.997)
    low_res_8bit: bool = False  # the low-res input rounded to 8 bits first, as the upsampler was trained
    known_into_x0: bool = False  # inpainting: the known pixels forced into x̂₀ before clipping (denoised_fn)
    # an upsampler that resizes the low-res image itself, bilinearly, and was sampled with it clean: the
    # stage gives it that (the same bilinear resize done before the network is the identity inside it)
    low_res_bilinear: bool = False
    # an upsampler with inpainting channels: after the low-res image come [mask (1 = regenerate), known]
    sr_mask_channels: bool = False
    # an upsampler that takes the low-res image at whatever size it comes and makes it `resolution / low_res`
    # times larger (the x4), instead of fitting it to its low_res first
    any_size: bool = False
    max_noise_augmentation: float = 1.0  # the highest noise augmentation the upsampler was trained with
    # the authors' scales, the settings' defaults when the model is opened (None: keep the user's)
    guidance_scale: float | None = None  # classifier-free guidance
    class_guidance: float | None = None  # classifier guidance, with the classifier the authors paired
    eta: float | None = None  # DDIM η (our own models: DiffusionConfig.sample_eta)
    sampler: SamplerKind | None = None  # the authors' sampler (OpenAI's p_sample_loop: ancestral DDPM)
    respacing: str | None = None  # the chain as the authors' respacing string (OpenAI's "100", "fast27")
    noise_augmentation: float | None = None  # an upsampler's noise augmentation (the x4's noise_level 20)

    def setting_defaults(self) -> dict[str, float | str | SamplerKind]:
        """The `Settings` fields this model's authors chose, by field name (the respacing as `respacing`:
        the caller knows whether the model is a cascade's base or its SR stage)."""
        chosen = {"guidance_scale": self.guidance_scale, "class_guidance": self.class_guidance, "eta": self.eta,
                  "sampler": self.sampler, "respacing": self.respacing,
                  "noise_augmentation": self.noise_augmentation}
        return {name: value for name, value in chosen.items() if value is not None}

    def low_res_input(self, low_res: torch.Tensor) -> torch.Tensor:
        """The low-res image as this stage's network takes it: (x+1)·127.5 rounded, back to [−1, 1]."""
        if not self.low_res_8bit:
            return low_res
        return ((low_res + 1) * 127.5).round().clamp(0, 255) / 127.5 - 1


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

    def sampling(self, config: ModelConfig) -> StageSampling:
        """How the family's references sample this network (temperature, low-res rounding, inpainting)."""

    def forward(self, module: nn.Module, config: ModelConfig, x: torch.Tensor, t: torch.Tensor,
                **conditioning: Any) -> torch.Tensor:
        """One forward as the engine calls it: t are original timesteps, `conditioning` this family's
        kwargs plus the tasks' own (`extra`: the SR stage's upsampled low-res image or a mask-channel
        model's [mask (1 = regenerate), masked image]; `aug_level`)."""
