"""Samplers: plain functions over a denoiser and a chain of timesteps (as k-diffusion's sampling.py).

Each sampler walks the chain from position `start` down to 0, calls the denoiser once per step,
reports every step to `callback` and checks `cancel` between steps. Guidance, thresholding and
masking arrive already folded into the denoiser. DDPM follows Ho et al. 2020; DDIM follows
Song et al. 2021.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from studio.core.enums import VarianceType
from studio.diffusion.denoiser import Denoiser, Prediction
from studio.diffusion.forward_process import posterior_coefficients, randn_like
from studio.diffusion.guidance import step_variance
from studio.diffusion.schedule import Schedule


@dataclass(frozen=True, eq=False)
class StepState:
    """One denoising step, as reported to the callback."""

    step: int  # 0-based number of this step within the run
    total: int  # number of steps in the run
    index: int  # chain position i of x_t
    t: int  # original timestep of x_t
    x_t: torch.Tensor  # the input of this step
    x0: torch.Tensor  # x̂₀ predicted from it


Callback = Callable[[StepState], None]
# (prediction, chain position) -> x at the next lower chain position
StepFn = Callable[[Prediction, int], torch.Tensor]
# (x at chain position lo, lo, hi) -> x at the higher position hi, by the forward process
Renoise = Callable[[torch.Tensor, int, int], torch.Tensor]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class SamplingCancelled(Exception):
    """Raised between steps when the cancel token is set; carries the last x̂₀ (None before step 1)."""

    def __init__(self, step: int, x0: torch.Tensor | None) -> None:
        super().__init__(f"cancelled before step {step + 1}")
        self.step = step
        self.x0 = x0


def ddpm_step(
    chain: Schedule,
    variance: VarianceType = VarianceType.POSTERIOR,
    generator: torch.Generator | None = None,
) -> StepFn:
    """Ancestral step: x_{t−1} = μ̃(x_t, x̂₀) + σ_t z, with σ_t² ∈ {β̃_t, β_t, learned}."""

    def step(pred: Prediction, i: int) -> torch.Tensor:
        c0, ct = posterior_coefficients(chain, i)
        mean = float(c0) * pred.x0 + float(ct) * pred.x_t
        if i == 0:
            return mean
        sigma = step_variance(chain, i, variance, pred).sqrt()
        return mean + sigma * randn_like(pred.x_t, generator)

    return step


def ddim_sigma(chain: Schedule, i: int, eta: float) -> float:
    """σ_t = η √((1−ᾱ_{t−1})/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_{t−1})."""
    abar, abar_prev = float(chain.alphas_cumprod[i]), float(chain.alphas_cumprod_prev[i])
    return eta * math.sqrt((1 - abar_prev) / (1 - abar)) * math.sqrt(1 - abar / abar_prev)


def ddim_step(chain: Schedule, eta: float = 0.0, generator: torch.Generator | None = None) -> StepFn:
    """x_{t−1} = √ᾱ_{t−1} x̂₀ + √(1−ᾱ_{t−1}−σ_t²) ε̂ + σ_t z; η = 0 is deterministic."""
    if eta < 0:
        raise ValueError("DDIM eta must be non-negative")

    def step(pred: Prediction, i: int) -> torch.Tensor:
        abar_prev = float(chain.alphas_cumprod_prev[i])
        sigma = ddim_sigma(chain, i, eta)
        direction = math.sqrt(max(1 - abar_prev - sigma**2, 0.0))
        x = math.sqrt(abar_prev) * pred.x0 + direction * pred.eps
        if sigma > 0 and i > 0:
            x = x + sigma * randn_like(pred.x_t, generator)
        return x

    return step


def run_chain(
    denoise: Denoiser,
    step: StepFn,
    x: torch.Tensor,
    chain: Schedule,
    positions: Sequence[int],
    *,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
    renoise: Renoise | None = None,
) -> torch.Tensor:
    """Denoise x through the given chain positions, one denoiser call each.

    Each step takes x from position i to wherever `step` goes (i − 1 for samplers). Given
    `renoise`, a next position above i − 1 is reached by climbing there with the forward process
    (RePaint's resampling jumps).
    """
    last_x0: torch.Tensor | None = None
    total = len(positions)
    for n, i in enumerate(positions):
        if cancel is not None and cancel.is_set():
            raise SamplingCancelled(n, last_x0)
        t = int(chain.timesteps[i])
        pred = denoise(x, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long))
        if callback is not None:
            callback(StepState(step=n, total=total, index=i, t=t, x_t=pred.x_t, x0=pred.x0))
        x = step(pred, i)
        last_x0 = pred.x0
        following = positions[n + 1] if n + 1 < total else None
        if renoise is not None and following is not None and following > i - 1:
            x = renoise(x, i - 1, following)
    return x


def sample_ddpm(
    denoise: Denoiser,
    x: torch.Tensor,
    chain: Schedule,
    *,
    variance: VarianceType = VarianceType.POSTERIOR,
    start: int | None = None,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Ancestral sampling from x at chain position `start` (default: the last) down to x₀."""
    positions = _descending(chain, start)
    step = ddpm_step(chain, variance, generator)
    return run_chain(denoise, step, x, chain, positions, callback=callback, cancel=cancel)


def sample_ddim(
    denoise: Denoiser,
    x: torch.Tensor,
    chain: Schedule,
    *,
    eta: float = 0.0,
    start: int | None = None,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """DDIM sampling from x at chain position `start` (default: the last) down to x₀."""
    positions = _descending(chain, start)
    step = ddim_step(chain, eta, generator)
    return run_chain(denoise, step, x, chain, positions, callback=callback, cancel=cancel)


def invert_ddim(
    denoise: Denoiser,
    x0: torch.Tensor,
    chain: Schedule,
    *,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Run deterministic DDIM backwards: treat x₀ as x at position 0 and climb to the last position.

    x_{t_{i+1}} = √ᾱ_{i+1} x̂₀(x_{t_i}) + √(1−ᾱ_{i+1}) ε̂(x_{t_i}); sampling the result with η = 0
    returns (approximately) x₀.
    """
    abar = chain.alphas_cumprod
    positions = list(range(len(chain) - 1))

    def climb(pred: Prediction, i: int) -> torch.Tensor:
        a = float(abar[i + 1])
        return math.sqrt(a) * pred.x0 + math.sqrt(1 - a) * pred.eps

    return run_chain(denoise, climb, x0, chain, positions, callback=callback, cancel=cancel)


def _descending(chain: Schedule, start: int | None) -> list[int]:
    start = len(chain) - 1 if start is None else start
    if not 0 <= start < len(chain):
        raise ValueError(f"start position {start} is outside the chain of {len(chain)} steps")
    return list(range(start, -1, -1))
