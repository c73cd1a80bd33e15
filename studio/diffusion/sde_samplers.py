"""Samplers of the reverse-time SDE (Song et al. 2021, "Score-Based Generative Modeling through
Stochastic Differential Equations"): the Euler-ancestral step in the σ view (as k-diffusion writes
it) and the predictor–corrector sampler — a reverse-diffusion predictor with a Langevin corrector.

The score is ∇ log p_t(x_t) = −ε̂/√(1−ᾱ_t). Like every step of the table, these take x at chain
position i to position i − 1 and end on x̂₀ at the last step (ᾱ_{−1} = 1).
"""

from __future__ import annotations

import math

import torch

from studio.core.enums import VarianceType
from studio.diffusion.chain import Step, StepOutput, timestep_batch
from studio.diffusion.denoiser import Denoiser
from studio.diffusion.forward_process import randn_like
from studio.diffusion.sampler_options import DEFAULT_OPTIONS, SamplerOptions
from studio.diffusion.schedule import Schedule


def euler_ancestral_step(chain: Schedule, variance: VarianceType = VarianceType.POSTERIOR,
                         generator: torch.Generator | None = None,
                         options: SamplerOptions = DEFAULT_OPTIONS) -> Step:
    """From σ to σ' = σ_{i−1}: σ_up = σ'√((σ² − σ'²)/σ²), σ_down = √(σ'² − σ_up²),
    y' = x̂₀ + σ_down ε̂ + σ_up z (y = x_t/√ᾱ_t). The noise of this step is the reverse SDE's; written in
    the chain's scaling it is the DDPM step with σ² = β̃ (the same samples, to rounding)."""
    sigma, sigma_next = chain.sigmas.tolist(), chain.sigmas_prev.tolist()
    root_abar_next = chain.alphas_cumprod_prev.sqrt().tolist()

    def step(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        pred = denoise(x, timestep_batch(chain, i, x))
        if i == 0:
            return StepOutput(pred.x0, pred)
        s, s_next = sigma[i], sigma_next[i]
        up = s_next * math.sqrt((s**2 - s_next**2) / s**2)
        down = math.sqrt(max(s_next**2 - up**2, 0.0))
        y_next = pred.x0 + down * pred.eps + up * randn_like(pred.x_t, generator)
        return StepOutput(root_abar_next[i] * y_next, pred)

    return step


def predictor_corrector_step(chain: Schedule, variance: VarianceType = VarianceType.POSTERIOR,
                             generator: torch.Generator | None = None,
                             options: SamplerOptions = DEFAULT_OPTIONS) -> Step:
    """One Langevin corrector step at t_i, then the reverse-diffusion predictor to t_{i−1}.

    Corrector: x ← x + ε s(x) + √(2ε) z with ε = 2 α_i r² (1 − ᾱ_i). This is Song et al.'s rule
    ε = 2α (r ‖z‖/‖s‖)² with the norms replaced by their values for noise of level t_i (‖z‖² = D,
    ‖s‖² = D/(1−ᾱ_i)), so each image's step is the same whatever the batch holds (reproducible from
    the recipe). r = 0 turns the corrector off. Predictor (the reverse SDE discretised like the
    forward one): x' = (2 − √(1−β_i)) x + β_i s(x) + √β_i z. The last step gives x̂₀. Two denoiser calls.
    """
    snr = options.snr
    if snr < 0:
        raise ValueError("the corrector's signal-to-noise ratio must be non-negative")
    betas, abar = chain.betas.tolist(), chain.alphas_cumprod.tolist()

    def step(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        t = timestep_batch(chain, i, x)
        pred = denoise(x, t)
        if i == 0:
            return StepOutput(pred.x0, pred)
        root_var = math.sqrt(1 - abar[i])  # s(x) = −ε̂/√(1−ᾱ_i)
        current = pred
        if snr > 0:
            size = 2 * (1 - betas[i]) * snr**2 * (1 - abar[i])
            x_c = pred.x_t - size * pred.eps / root_var + math.sqrt(2 * size) * randn_like(x, generator)
            current = denoise(x_c, t)
        beta = betas[i]
        mean = (2 - math.sqrt(1 - beta)) * current.x_t - beta * current.eps / root_var
        return StepOutput(mean + math.sqrt(beta) * randn_like(x, generator), pred)

    return step
