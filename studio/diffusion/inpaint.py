"""Inpainting: replacement of the known region (and RePaint's resampling, Lugmayr et al. 2022).

Mask convention: `mask` is 1 where the model paints (the region to regenerate) and 0 where the
input is known and kept; it broadcasts over channels ([B or 1, 1, H, W]).
"""

from __future__ import annotations

import math

import torch

from studio.diffusion.denoiser import Denoiser, Prediction, abar_at
from studio.diffusion.forward_process import q_sample, randn_like
from studio.diffusion.schedule import Schedule


def replace_known(denoise: Denoiser, known: torch.Tensor, mask: torch.Tensor,
                  alphas_cumprod: torch.Tensor, generator: torch.Generator | None) -> Denoiser:
    """Before each step, the known region of x_t becomes a fresh q-sample of the known image at t;
    the known region of x̂₀ becomes the known image, so the last step outputs it."""

    def denoise_masked(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        abar = abar_at(alphas_cumprod, t, x_t)
        known_t = q_sample(known.to(x_t.dtype), abar, randn_like(x_t, generator))
        x_t = mask * x_t + (1 - mask) * known_t
        pred = denoise(x_t, t)
        return pred.with_x0(mask * pred.x0 + (1 - mask) * known.to(pred.x0.dtype))

    return denoise_masked


def composite(x: torch.Tensor, known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The final image: generated pixels under the mask, the known pixels bit-for-bit elsewhere."""
    return torch.where(mask.bool().expand_as(x), x, known.to(x.dtype).expand_as(x))


def mask_channels(known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Extra input of a model trained with mask channels, in this order: [mask, masked image].

    The masked image is the known image with the region to regenerate set to 0 (mid-grey).
    """
    return torch.cat([mask.expand(known.shape[0], 1, *known.shape[2:]), known * (1 - mask)], dim=1)


def repaint_positions(start: int, jump_length: int, resample_count: int) -> list[int]:
    """The chain positions RePaint denoises, in order, for a chain entered at `start`.

    Going down, every `jump_length` positions the chain climbs back up `jump_length` positions by
    the forward process, `resample_count − 1` times, and denoises that stretch again. With
    resample_count 1 this is the plain descending chain (replacement).
    """
    if jump_length < 1 or resample_count < 1:
        raise ValueError("jump length and resample count must be at least 1")
    positions, jumps_done, i = [], {}, start
    while i >= 0:
        positions.append(i)
        reached = i - 1
        due = reached >= 0 and (start - reached) % jump_length == 0 and reached + jump_length <= start
        if due and jumps_done.get(reached, 0) < resample_count - 1:
            jumps_done[reached] = jumps_done.get(reached, 0) + 1
            i = reached + jump_length
        else:
            i = reached
    return positions


def forward_jump(chain: Schedule, generator: torch.Generator | None):
    """q(x_hi | x_lo): x_hi = √(ᾱ_hi/ᾱ_lo) x_lo + √(1 − ᾱ_hi/ᾱ_lo) z, a `renoise` for run_chain."""

    def renoise(x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        ratio = float(chain.alphas_cumprod[hi] / chain.alphas_cumprod[lo])
        return math.sqrt(ratio) * x + math.sqrt(1 - ratio) * randn_like(x, generator)

    return renoise
