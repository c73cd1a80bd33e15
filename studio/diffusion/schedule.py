"""Noise schedules and respacing (Ho et al. 2020, "Denoising Diffusion Probabilistic Models").

A `Schedule` is a chain of timesteps t_0 < t_1 < … < t_{K−1} of the model's training process
together with the betas of *that* chain. The full training schedule has t_i = i; a respaced chain
keeps a subset of timesteps and recomputes its betas so that ᾱ at every kept timestep is unchanged
(Nichol & Dhariwal's respacing). Schedules are immutable: respacing returns a new object.

The σ view (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models"):
x_t = √ᾱ_t (x₀ + σ_t ε) with σ_t = √((1−ᾱ_t)/ᾱ_t), so x_t/√ᾱ_t is the variance-exploding state the
continuous samplers integrate over σ. `Schedule.sigmas` gives σ at every chain position and
`karras_respace` picks the chain's timesteps by Karras's ρ-spacing of σ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from studio.core.enums import ScheduleKind


@dataclass(frozen=True, eq=False)
class Schedule:
    """A chain of K timesteps with their betas. Tensors are float64 on the CPU."""

    betas: torch.Tensor  # β_i of the chain, shape [K]
    timesteps: torch.Tensor  # original timestep t_i of chain position i, shape [K], ascending
    num_train_timesteps: int  # T of the training process
    # ᾱ of the full training process (index = original timestep), carried through respacing so that a
    # sampler may evaluate the denoiser between the chain's timesteps (Karras's churn); None: unknown.
    train_alphas_cumprod: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.betas.ndim != 1 or self.betas.shape != self.timesteps.shape:
            raise ValueError("betas and timesteps must be 1-D tensors of the same length")
        if not bool(((self.betas > 0) & (self.betas <= 1)).all()):
            raise ValueError("every beta must lie in (0, 1]")

    def __len__(self) -> int:
        return int(self.betas.shape[0])

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """ᾱ_i = ∏_{s≤i} α_s."""
        return torch.cumprod(self.alphas, dim=0)

    @property
    def alphas_cumprod_prev(self) -> torch.Tensor:
        """ᾱ_{i−1}, with ᾱ_{−1} = 1 (the clean image)."""
        return torch.cat([torch.ones(1, dtype=self.betas.dtype), self.alphas_cumprod[:-1]])

    @property
    def posterior_variance(self) -> torch.Tensor:
        """β̃_i = (1 − ᾱ_{i−1}) / (1 − ᾱ_i) · β_i (zero at i = 0)."""
        return (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod) * self.betas

    @property
    def posterior_log_variance_clipped(self) -> torch.Tensor:
        """log β̃_i with the i = 0 entry (log 0) replaced by log β̃_1, as improved-diffusion does."""
        var = self.posterior_variance
        if len(self) > 1:
            var = torch.cat([var[1:2], var[1:]])
        return torch.log(var.clamp_min(1e-20))

    @property
    def log_snr(self) -> torch.Tensor:
        """log(ᾱ / (1 − ᾱ)), for plots of the schedule."""
        ab = self.alphas_cumprod
        return torch.log(ab) - torch.log1p(-ab)

    @property
    def sigmas(self) -> torch.Tensor:
        """σ_i = √((1 − ᾱ_i)/ᾱ_i): the noise level of chain position i in the σ (variance-exploding) view."""
        return sigma_of(self.alphas_cumprod)

    @property
    def sigmas_prev(self) -> torch.Tensor:
        """σ_{i−1}, with σ_{−1} = 0 (the clean image)."""
        return sigma_of(self.alphas_cumprod_prev)

    def timestep_near_sigma(self, sigma: float, at_least: int = 0) -> int:
        """The training timestep t ≥ `at_least` whose σ is nearest `sigma` (in log σ)."""
        if self.train_alphas_cumprod is None:
            raise ValueError("this chain does not carry its training process's ᾱ")
        log_sigma = torch.log(sigma_of(self.train_alphas_cumprod[at_least:]))
        return at_least + int((log_sigma - math.log(sigma)).abs().argmin())

    def index_of(self, t: int) -> int:
        """Chain position of original timestep t."""
        hits = (self.timesteps == t).nonzero()
        if hits.numel() == 0:
            raise ValueError(f"timestep {t} is not in this chain")
        return int(hits[0, 0])


def sigma_of(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """σ = √((1 − ᾱ)/ᾱ) (0 where ᾱ = 1)."""
    return ((1.0 - alphas_cumprod) / alphas_cumprod).sqrt()


def linear_schedule(num_timesteps: int = 1000) -> Schedule:
    """β linear from 1e-4 to 0.02 at T = 1000, scaled by 1000/T so other T give the same process."""
    scale = 1000.0 / num_timesteps
    betas = torch.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=torch.float64)
    return _full_chain(betas.clamp(max=0.999))


def cosine_schedule(num_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2), betas clipped at max_beta (Nichol & Dhariwal 2021)."""

    def abar(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [
        min(1 - abar((i + 1) / num_timesteps) / abar(i / num_timesteps), max_beta)
        for i in range(num_timesteps)
    ]
    return _full_chain(torch.tensor(betas, dtype=torch.float64))


def scaled_linear_schedule(num_timesteps: int = 1000, start: float = 0.00085, end: float = 0.012) -> Schedule:
    """√β linear from √0.00085 to √0.012: latent diffusion's schedule (Rombach et al. 2022, SD 1.x)."""
    betas = torch.linspace(start**0.5, end**0.5, num_timesteps, dtype=torch.float64) ** 2
    return _full_chain(betas)


def make_schedule(kind: ScheduleKind, num_timesteps: int = 1000) -> Schedule:
    if num_timesteps < 1:
        raise ValueError("a schedule needs at least one timestep")
    if kind is ScheduleKind.LINEAR:
        return linear_schedule(num_timesteps)
    if kind is ScheduleKind.COSINE:
        return cosine_schedule(num_timesteps)
    if kind is ScheduleKind.SCALED_LINEAR:
        return scaled_linear_schedule(num_timesteps)
    if kind is ScheduleKind.SCALED_LINEAR_X4:  # ldm's "linear" is √β-linear; the x4 config's ends
        return scaled_linear_schedule(num_timesteps, 1e-4, 0.02)
    raise ValueError(f"unknown schedule {kind!r}")


def respace(schedule: Schedule, num_steps: int) -> Schedule:
    """Keep `num_steps` evenly spaced positions of `schedule` (always the first and the last).

    The kept chain's betas are β_i = 1 − ᾱ(t_i)/ᾱ(t_{i−1}), so q(x_t | x_0) is unchanged at every
    kept timestep and both DDPM and DDIM run over the shorter chain.
    """
    length = len(schedule)
    if not 1 <= num_steps <= length:
        raise ValueError(f"steps must be between 1 and {length}, got {num_steps}")
    if num_steps == 1:
        positions = torch.tensor([length - 1])
    else:
        positions = torch.linspace(0, length - 1, num_steps, dtype=torch.float64).round().long()
    return _keep(schedule, positions)


def karras_respace(schedule: Schedule, num_steps: int, rho: float = 7.0) -> Schedule:
    """Keep `num_steps` positions of `schedule` spaced as Karras et al.'s σ_i (their eq. 5):
    σ_i^{1/ρ} evenly spaced between σ_min^{1/ρ} and σ_max^{1/ρ}, ρ = 7 — dense at low noise.

    Each σ_i is matched to the position of nearest log σ; where several match one position (the
    densest end), the later ones move up to the next free position, so the chain has exactly
    `num_steps` distinct positions and always keeps the first and the last.
    """
    length = len(schedule)
    if not 1 <= num_steps <= length:
        raise ValueError(f"steps must be between 1 and {length}, got {num_steps}")
    if num_steps == 1:
        return _keep(schedule, torch.tensor([length - 1]))
    log_sigma = torch.log(schedule.sigmas)
    lo, hi = float(schedule.sigmas[0]) ** (1 / rho), float(schedule.sigmas[-1]) ** (1 / rho)
    targets = torch.linspace(lo, hi, num_steps, dtype=torch.float64) ** rho
    wanted = [int((log_sigma - math.log(s)).abs().argmin()) for s in targets.tolist()]
    positions = []
    for n, p in enumerate(wanted):  # strictly increasing, leaving room for the positions still to come
        floor = positions[-1] + 1 if positions else 0
        positions.append(min(max(p, floor), length - num_steps + n))
    return _keep(schedule, torch.tensor(positions))


def _keep(schedule: Schedule, positions: torch.Tensor) -> Schedule:
    """The chain of `schedule`'s given (ascending) positions, with betas recomputed from ᾱ."""
    kept = schedule.alphas_cumprod[positions]
    prev = torch.cat([torch.ones(1, dtype=kept.dtype), kept[:-1]])
    return Schedule(
        betas=1.0 - kept / prev,
        timesteps=schedule.timesteps[positions].clone(),
        num_train_timesteps=schedule.num_train_timesteps,
        train_alphas_cumprod=schedule.train_alphas_cumprod,
    )


def _full_chain(betas: torch.Tensor) -> Schedule:
    return Schedule(
        betas=betas,
        timesteps=torch.arange(betas.shape[0], dtype=torch.long),
        num_train_timesteps=int(betas.shape[0]),
        train_alphas_cumprod=torch.cumprod(1.0 - betas, dim=0),
    )
