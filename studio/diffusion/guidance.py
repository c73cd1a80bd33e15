"""Guidance as denoiser wrappers.

Classifier-free guidance (Ho & Salimans 2022): ε̂ = ε_u + s (ε_c − ε_u), both halves in one
batched forward. Classifier guidance (Dhariwal & Nichol 2021) with the gradient
∇_{x_t} log p_φ(y | x_t, t) of a noise-aware classifier: for DDIM the score form
ε̂ − s √(1−ᾱ_t) ∇; for DDPM the mean shift μ + s Σ ∇, which we express as the equivalent shift of
x̂₀ (the posterior mean is c₀ x̂₀ + c_t x_t, so μ + sΣ∇ is x̂₀ + sΣ∇ / c₀) so that the sampler stays
unaware of guidance.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from studio.core.enums import VarianceType
from studio.diffusion.denoiser import Denoiser, Prediction
from studio.diffusion.forward_process import posterior_coefficients
from studio.diffusion.schedule import Schedule
from studio.diffusion.variance import step_variance

# (x_t, t) -> ∇_{x_t} log p(y | x_t, t), the target labels bound inside.
GradLogProb = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def classifier_free_guidance(paired: Denoiser, scale: float) -> Denoiser:
    """`paired` denoises a doubled batch whose first half is conditional and second unconditional.

    The unconditional half carries the negative prompt when there is one. Learned variance, if
    any, is taken from the conditional half (as GLIDE does).
    """

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        both = paired(torch.cat([x_t, x_t]), torch.cat([t, t]))
        eps_c, eps_u = both.eps.chunk(2)
        var_frac = None if both.var_frac is None else both.var_frac.chunk(2)[0]
        abar = both.abar.chunk(2)[0]
        return Prediction.from_eps(x_t, abar, eps_u + scale * (eps_c - eps_u), var_frac=var_frac)

    return denoise


def classifier_guidance_ddim(denoise: Denoiser, grad_log_prob: GradLogProb, scale: float) -> Denoiser:
    """ε̂' = ε̂ − s √(1−ᾱ_t) ∇_{x_t} log p(y | x_t)."""

    def guided(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        pred = denoise(x_t, t)
        grad = _grad(grad_log_prob, pred.x_t, t)
        return pred.with_eps(pred.eps - scale * (1 - pred.abar).sqrt() * grad)

    return guided


def classifier_guidance_ddpm(
    denoise: Denoiser,
    grad_log_prob: GradLogProb,
    scale: float,
    chain: Schedule,
    variance: VarianceType = VarianceType.POSTERIOR,
) -> Denoiser:
    """Shift the DDPM step's mean by s Σ ∇ log p(y | x_t), Σ being the step variance on `chain`."""
    position = {int(t): i for i, t in enumerate(chain.timesteps)}

    def guided(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        pred = denoise(x_t, t)
        grad = _grad(grad_log_prob, pred.x_t, t)
        index = position[int(t[0])]
        sigma2 = step_variance(chain, index, variance, pred)
        c0, _ = posterior_coefficients(chain, index)
        return pred.with_x0(pred.x0 + scale * sigma2 * grad / float(c0))

    return guided


def _grad(grad_log_prob: GradLogProb, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode(False), torch.enable_grad():
        return grad_log_prob(x_t.detach().clone(), t).to(x_t.dtype)
