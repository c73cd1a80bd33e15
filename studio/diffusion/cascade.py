"""The super-resolution stage of a cascade (Ho et al. 2022, "Cascaded Diffusion Models").

The SR network sees [x_t, upsample(low_res_aug)] along channels (x_t first) and the augmentation
level s_aug in its embedding, where low_res_aug is the low-resolution image noised to s_aug by the
forward process (noise-conditioning augmentation), so the SR model learns to ignore the base
model's artefacts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from studio.diffusion.forward_process import q_sample


def aug_timestep(level: float, num_timesteps: int) -> int:
    """The augmentation level as a timestep: level ∈ [0, 1] of the process, 0 = no noise."""
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"noise augmentation must lie in [0, 1], got {level}")
    return round(level * (num_timesteps - 1))


def augment_low_res(low_res: torch.Tensor, aug_t: torch.Tensor, alphas_cumprod: torch.Tensor,
                    noise: torch.Tensor) -> torch.Tensor:
    """q-sample of the low-res image at timesteps aug_t ([B]); a timestep of 0 leaves it clean."""
    abar = alphas_cumprod.to(low_res.device)[aug_t.long()].to(low_res.dtype)
    abar = torch.where(aug_t.to(low_res.device) == 0, torch.ones_like(abar), abar)
    return q_sample(low_res, abar, noise)


def upsample(low_res: torch.Tensor, size: int) -> torch.Tensor:
    """Bicubic upsampling to the SR model's resolution (no clamping: noised inputs exceed [−1, 1])."""
    return F.interpolate(low_res, size=(size, size), mode="bicubic", align_corners=False)
