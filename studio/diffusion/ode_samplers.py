"""Samplers of the probability-flow ODE in the σ view (Karras et al. 2022, "Elucidating the Design
Space of Diffusion-Based Generative Models"; DPM-Solver++ from Lu et al. 2022).

With x_t = √ᾱ_t (x₀ + σ_t ε) (schedule.py's σ view), the state y = x_t/√ᾱ_t obeys dy/dσ = ε̂(y, σ) =
(y − x̂₀)/σ. The steps integrate that ODE between the chain's σ_i and σ_{i−1} (σ_{−1} = 0) and hand
back x at position i − 1 in the chain's own scaling, so masking, previews and forks see the same x_t
as with DDPM and DDIM. Every network call is at a timestep of the training process, so any model
works unchanged. Euler on this ODE is DDIM at η = 0, written in σ (Karras et al. §3).
"""

from __future__ import annotations

import math

import torch

from studio.core.enums import VarianceType
from studio.diffusion.chain import Step, StepOutput, timestep_batch
from studio.diffusion.denoiser import Denoiser
from studio.diffusion.forward_process import randn_like
from studio.diffusion.sampler_options import DEFAULT_OPTIONS, SamplerOptions
from studio.diffusion.schedule import Schedule, sigma_of

MAX_GAMMA = math.sqrt(2) - 1  # Karras's bound on γ: the churned σ̂ stays within √2 σ


def euler_step(chain: Schedule, variance: VarianceType = VarianceType.POSTERIOR,
               generator: torch.Generator | None = None, options: SamplerOptions = DEFAULT_OPTIONS) -> Step:
    """y_{i−1} = y_i + (σ_{i−1} − σ_i) ε̂ (after churn, if any); one denoiser call."""
    return _karras_step(chain, generator, options.churn, second_order=False)


def heun_step(chain: Schedule, variance: VarianceType = VarianceType.POSTERIOR,
              generator: torch.Generator | None = None, options: SamplerOptions = DEFAULT_OPTIONS) -> Step:
    """Heun's method (Karras et al. Algorithm 2): an Euler step, then the trapezoid of ε̂ at both ends;
    the last step, to σ = 0, stays Euler. Two denoiser calls per step (one on the last)."""
    return _karras_step(chain, generator, options.churn, second_order=True)


def _karras_step(chain: Schedule, generator: torch.Generator | None, churn: float, *, second_order: bool) -> Step:
    if churn < 0:
        raise ValueError("churn must be non-negative")
    gamma = min(churn / len(chain), MAX_GAMMA)
    sigma_next = chain.sigmas_prev.tolist()
    root_abar_next = chain.alphas_cumprod_prev.sqrt().tolist()

    def step(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        x, t, sigma = churned(chain, x, i, gamma, generator)
        pred = denoise(x, t)
        y_next = pred.x0 + sigma_next[i] * pred.eps  # y + (σ_{i−1} − σ̂) ε̂, with y = x̂₀ + σ̂ ε̂
        if second_order and i > 0:
            second = denoise(root_abar_next[i] * y_next, timestep_batch(chain, i - 1, x))
            y = pred.x0 + sigma * pred.eps
            y_next = y + (sigma_next[i] - sigma) * (pred.eps + second.eps) / 2
        return StepOutput(root_abar_next[i] * y_next, pred)

    return step


def churned(chain: Schedule, x: torch.Tensor, i: int, gamma: float,
            generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Karras's churn: raise the noise of x from σ_i to σ̂ ≈ (1 + γ) σ_i by adding fresh noise.

    σ̂ is the σ of the training timestep t̂ ≥ t_i nearest (1 + γ) σ_i, so the denoiser is called at a
    timestep the model was trained on. Returns (x at t̂ in the chain's scaling, t̂ per image, σ̂); with
    γ = 0, or no higher timestep to go to, x is returned unchanged at t_i and no noise is drawn.
    """
    sigma = float(chain.sigmas[i])
    t_i = int(chain.timesteps[i])
    if gamma > 0:
        t_hat = chain.timestep_near_sigma(sigma * (1 + gamma), at_least=t_i)
        if t_hat > t_i:
            abar_hat = chain.train_alphas_cumprod[t_hat]
            sigma_hat = float(sigma_of(abar_hat))
            y = x / math.sqrt(float(chain.alphas_cumprod[i]))
            y = y + math.sqrt(sigma_hat**2 - sigma**2) * randn_like(x, generator)
            t = torch.full((x.shape[0],), t_hat, device=x.device, dtype=torch.long)
            return math.sqrt(float(abar_hat)) * y, t, sigma_hat
    return x, timestep_batch(chain, i, x), sigma


def dpmpp_2m_step(chain: Schedule, variance: VarianceType = VarianceType.POSTERIOR,
                  generator: torch.Generator | None = None, options: SamplerOptions = DEFAULT_OPTIONS) -> Step:
    """DPM-Solver++(2M) in λ = −log σ, h = λ_{i−1} − λ_i:
    y_{i−1} = (σ_{i−1}/σ_i) y_i + (1 − σ_{i−1}/σ_i) D, D = (1 + 1/2r) x̂₀ − (1/2r) x̂₀ of the step before,
    r = h_before / h. The first step of a run (and any step not right after position i + 1: a fork, an
    SDEdit start, a RePaint jump) has no history and takes D = x̂₀ (first order); the last step gives x̂₀."""
    sigma, sigma_next = chain.sigmas.tolist(), chain.sigmas_prev.tolist()
    root_abar_next = chain.alphas_cumprod_prev.sqrt().tolist()
    history: dict[str, object] = {}  # the step before: its position, x̂₀ and h

    def step(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        pred = denoise(x, timestep_batch(chain, i, x))
        before = history.copy()
        history.clear()
        if i == 0:
            return StepOutput(pred.x0, pred)
        ratio = sigma_next[i] / sigma[i]
        h = math.log(sigma[i] / sigma_next[i])
        d = pred.x0
        if before.get("index") == i + 1:
            r = before["h"] / h
            d = (1 + 1 / (2 * r)) * pred.x0 - (1 / (2 * r)) * before["x0"]
        history.update(index=i, x0=pred.x0, h=h)
        y_next = ratio * (pred.x0 + sigma[i] * pred.eps) + (1 - ratio) * d
        return StepOutput(root_abar_next[i] * y_next, pred)

    return step

