"""Keeping x̂₀ inside the data range: static clipping and Imagen's dynamic thresholding."""

from __future__ import annotations

import torch

from studio.core.enums import Thresholding
from studio.diffusion.denoiser import Denoiser, Prediction


def dynamic_threshold(x0: torch.Tensor, percentile: float) -> torch.Tensor:
    """Saharia et al. 2022: s = max(1, p-th percentile of |x̂₀|) per image; clip to [−s, s], divide by s."""
    flat = x0.reshape(x0.shape[0], -1).abs().float()
    s = torch.quantile(flat, percentile, dim=1).clamp_min(1.0).to(x0.dtype)
    s = s.reshape(-1, *([1] * (x0.ndim - 1)))
    return torch.maximum(torch.minimum(x0, s), -s) / s


def thresholded(denoise: Denoiser, kind: Thresholding, percentile: float = 0.995) -> Denoiser:
    """Wrap a denoiser so its x̂₀ is clipped (and ε̂ recomputed from the clipped x̂₀, so DDIM agrees)."""
    if kind is Thresholding.NONE:
        return denoise
    if not 0.0 < percentile <= 1.0:
        raise ValueError("the dynamic-thresholding percentile must lie in (0, 1]")

    def denoise_clipped(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        pred = denoise(x_t, t)
        if kind is Thresholding.STATIC:
            return pred.with_x0(pred.x0.clamp(-1.0, 1.0))
        return pred.with_x0(dynamic_threshold(pred.x0, percentile))

    return denoise_clipped
