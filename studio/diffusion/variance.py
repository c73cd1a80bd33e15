"""σ_t² of an ancestral (DDPM) step: β̃_t, β_t, or a learned interpolation of their logs.

Both the DDPM step and the DDPM form of classifier guidance (which shifts the mean by s σ_t² ∇) need
the same σ_t², so it lives here rather than in either.
"""

from __future__ import annotations

import torch

from studio.core.enums import VarianceType
from studio.diffusion.denoiser import Prediction
from studio.diffusion.forward_process import per_sample
from studio.diffusion.schedule import Schedule


def step_variance(
    chain: Schedule, index: int, variance: VarianceType, pred: Prediction
) -> torch.Tensor:
    """σ_t² at chain position `index`: β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t) β_t, β_t, or exp(v log β_t + (1−v) log β̃_t)."""
    if variance is VarianceType.POSTERIOR:
        return per_sample(chain.posterior_variance[index], pred.x_t)
    if variance is VarianceType.BETA:
        return per_sample(chain.betas[index], pred.x_t)
    if pred.var_frac is None:
        raise ValueError("learned variance needs a model that predicts it")
    lo = float(chain.posterior_log_variance_clipped[index])
    hi = float(torch.log(chain.betas[index]))
    return torch.exp(pred.var_frac * hi + (1 - pred.var_frac) * lo)
