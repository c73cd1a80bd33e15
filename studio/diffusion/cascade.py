"""The super-resolution stage of a cascade (Ho et al. 2022, "Cascaded Diffusion Models").

The SR network's input is [x_t, upsample(low_res_aug)] along channels — the C channels of x_t
first, then the 3 RGB channels of the upsampled low-res image — and its embedding also gets the
augmentation level s_aug. low_res_aug is the low-res image noised to timestep s_aug by the forward
process, x = √ᾱ_{s_aug} low_res + √(1−ᾱ_{s_aug}) z, *before* upsampling (noise-conditioning
augmentation), so that the SR model learns to ignore the base model's artefacts. s_aug = 0 means no
noise. Training (`studio.train`) and sampling build the conditioning with the same functions here.

The network is any callable `network(x_t, t, *, extra, aug_level) -> raw output`; the concatenation
itself happens inside it (as guided-diffusion's `SuperResModel` does with `low_res=`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.core.enums import PredictionType, VarianceType
from studio.diffusion.denoiser import ConditionedNetwork, Denoiser, bind_conditioning, model_denoiser
from studio.diffusion.forward_process import q_sample, randn_like


@dataclass(frozen=True, eq=False)
class SRConditioning:
    """What the SR network gets besides x_t and t."""

    extra: torch.Tensor  # [B, 3, R, R]: the augmented low-res image, upsampled; follows x_t's channels
    aug_level: torch.Tensor  # [B] long: s_aug as a training timestep, for the embedding


def aug_timestep(level: float, num_timesteps: int) -> int:
    """The augmentation level as a timestep: level ∈ [0, 1] of the process, 0 = no noise."""
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"noise augmentation must lie in [0, 1], got {level}")
    return round(level * (num_timesteps - 1))


def augment_low_res(
    low_res: torch.Tensor,
    aug_t: int | torch.Tensor,
    alphas_cumprod: torch.Tensor,
    noise: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """q-sample of the low-res image at timestep s_aug (an int, or one per image [B]).

    ᾱ is read from `alphas_cumprod` (the SR model's training process); s_aug = 0 returns the image
    unchanged. The noise z is `noise` when given (training draws its own), else drawn from `generator`.
    """
    aug_t = torch.as_tensor(aug_t, device=low_res.device).long()
    if bool((aug_t < 0).any()) or bool((aug_t >= alphas_cumprod.shape[0]).any()):
        raise ValueError(f"augmentation timesteps must lie in [0, {alphas_cumprod.shape[0] - 1}]")
    abar = alphas_cumprod.to(low_res.device)[aug_t].to(low_res.dtype)
    # Timestep 0 of the training process still carries noise (ᾱ_0 = 1 − β_0); we reserve it for "none".
    abar = torch.where(aug_t == 0, torch.ones_like(abar), abar)
    if noise is None:
        noise = randn_like(low_res, generator)
    return q_sample(low_res, abar, noise)


def upsample(low_res: torch.Tensor, size: int) -> torch.Tensor:
    """Bicubic resize to size × size with torch's antialiased kernel (PIL's a = −0.5 cubic).

    The antialiasing only acts when shrinking; when enlarging it is the plain cubic, whose gentler
    a = −0.5 rings less than a = −0.75. No clamping: a noised input lies outside [−1, 1] on purpose.
    """
    return F.interpolate(low_res, size=(size, size), mode="bicubic", align_corners=False, antialias=True)


def sr_conditioning(
    low_res: torch.Tensor,
    size: int,
    aug_t: int | torch.Tensor,
    alphas_cumprod: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> SRConditioning:
    """Noise the low-res image to s_aug, then upsample it to the SR resolution."""
    low_aug = augment_low_res(low_res, aug_t, alphas_cumprod, noise, generator=generator)
    level = torch.as_tensor(aug_t, device=low_res.device).long().expand(low_res.shape[0]).clone()
    return SRConditioning(extra=upsample(low_aug, size), aug_level=level)


def sr_denoiser(
    network: ConditionedNetwork,
    alphas_cumprod: torch.Tensor,
    prediction: PredictionType,
    variance: VarianceType,
    extra: torch.Tensor,
    aug_t: int | torch.Tensor,
) -> Denoiser:
    """The SR model as a Denoiser: `network(x_t, t, extra=extra, aug_level=s_aug)` via `model_denoiser`.

    `alphas_cumprod` is ᾱ of the SR model's own training process. Under classifier-free guidance the
    doubled batch gets extra and aug_level doubled (see `bind_conditioning`).
    """
    level = torch.as_tensor(aug_t, device=extra.device).long().expand(extra.shape[0]).clone()
    bound = bind_conditioning(network, extra=extra, aug_level=level)
    return model_denoiser(bound, alphas_cumprod, prediction, variance)
