"""The sampler table: every sampler's step, its form of classifier guidance and its cost, by kind.

A sampler is a step builder `make_step(chain, variance, generator, options) -> Step` (the step
receives the denoiser: see chain.py) plus an entry in `SAMPLERS`. The engine, the diffusion tasks,
the window, the CLI and the contract tests (tests/diffusion/test_sampler_contract.py) all look a
sampler up here; nothing else switches on `SamplerKind`. DDPM follows Ho et al. 2020; DDIM follows
Song et al. 2021; the σ-view samplers of the probability-flow ODE are in ode_samplers.py and those of
the reverse SDE in sde_samplers.py.

Adding a sampler is three files: its `SamplerKind` member (core/enums.py), its step builder and
table entry (here), and its exact one-step reference for the contract tests
(tests/diffusion/chain_reference.py) — see docs/samplers.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from studio.core.enums import SamplerKind, VarianceType
from studio.diffusion.chain import (
    Callback,
    CancelToken,
    Step,
    StepOutput,
    descending,
    run_chain,
    timestep_batch,
)
from studio.diffusion.denoiser import Denoiser
from studio.diffusion.forward_process import posterior_coefficients, randn_like
from studio.diffusion.guidance import GradLogProb, classifier_guidance_ddim, classifier_guidance_ddpm
from studio.diffusion.ode_samplers import dpmpp_2m_step, euler_step, heun_step
from studio.diffusion.sampler_options import DEFAULT_OPTIONS, SamplerOptions
from studio.diffusion.schedule import Schedule
from studio.diffusion.sde_samplers import euler_ancestral_step, predictor_corrector_step
from studio.diffusion.step_noise import position_keyed
from studio.diffusion.variance import step_variance

# (chain, the model's variance type, generator, options) -> the step
StepBuilder = Callable[[Schedule, VarianceType, "torch.Generator | None", SamplerOptions], Step]
# (denoiser, ∇ log p(y | x_t), scale, chain, variance type) -> the guided denoiser
GuidanceForm = Callable[[Denoiser, GradLogProb, float, Schedule, VarianceType], Denoiser]


@dataclass(frozen=True)
class SamplerSpec:
    """One row of the sampler table."""

    kind: SamplerKind
    label: str  # one line for the window's tooltip and the CLI's help
    make_step: StepBuilder
    guidance: GuidanceForm  # how classifier guidance reaches this sampler's steps
    network_calls: int = 1  # denoiser calls per step (what a progress bar or a cost estimate counts)
    options: tuple[str, ...] = ()  # the SamplerOptions fields it reads (the window enables only those)
    variance: VarianceType | None = None  # σ_t² it always uses; None: the model's own variance type
    # keeps earlier steps' predictions: a run started mid-chain (fork, SDEdit) begins at first order
    multistep: bool = False

    def step(self, chain: Schedule, variance: VarianceType, generator: torch.Generator | None,
             options: SamplerOptions) -> Step:
        """This sampler's step on `chain`, for a model whose variance type is `variance`; its noise is keyed
        by chain position (diffusion/step_noise.py), so a run restarted mid-chain draws what the run drew."""
        return position_keyed(self.make_step(chain, self.variance or variance, generator, options), generator)

    def with_classifier_guidance(self, denoise: Denoiser, grad_log_prob: GradLogProb, scale: float,
                                 chain: Schedule, variance: VarianceType) -> Denoiser:
        """Classifier guidance in the form this sampler's step needs (mean shift or ε correction)."""
        return self.guidance(denoise, grad_log_prob, scale, chain, self.variance or variance)


def ddpm_step(
    chain: Schedule,
    variance: VarianceType = VarianceType.POSTERIOR,
    generator: torch.Generator | None = None,
    options: SamplerOptions = DEFAULT_OPTIONS,
) -> Step:
    """Ancestral step: x_{t−1} = μ̃(x_t, x̂₀) + σ_t z, with σ_t² ∈ {β̃_t, β_t, learned}; one denoiser call."""

    def step(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        pred = denoise(x, timestep_batch(chain, i, x))
        c0, ct = posterior_coefficients(chain, i)
        mean = float(c0) * pred.x0 + float(ct) * pred.x_t  # μ̃ = √ᾱ_{t−1}β_t/(1−ᾱ_t) x̂₀ + √α_t(1−ᾱ_{t−1})/(1−ᾱ_t) x_t
        if i == 0:
            return StepOutput(mean, pred)
        sigma = step_variance(chain, i, variance, pred).sqrt()
        return StepOutput(mean + sigma * randn_like(pred.x_t, generator), pred)

    return step


def ddim_sigma(chain: Schedule, i: int, eta: float) -> float:
    """σ_t = η √((1−ᾱ_{t−1})/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_{t−1})."""
    abar, abar_prev = float(chain.alphas_cumprod[i]), float(chain.alphas_cumprod_prev[i])
    return eta * math.sqrt((1 - abar_prev) / (1 - abar)) * math.sqrt(1 - abar / abar_prev)


def ddim_step(
    chain: Schedule,
    variance: VarianceType = VarianceType.POSTERIOR,
    generator: torch.Generator | None = None,
    options: SamplerOptions = DEFAULT_OPTIONS,
) -> Step:
    """x_{t−1} = √ᾱ_{t−1} x̂₀ + √(1−ᾱ_{t−1}−σ_t²) ε̂ + σ_t z; η = 0 is deterministic. (σ_t comes from η,
    not from the model's variance type.)"""
    eta = options.eta
    if eta < 0:
        raise ValueError("DDIM eta must be non-negative")

    def step(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        pred = denoise(x, timestep_batch(chain, i, x))
        abar_prev = float(chain.alphas_cumprod_prev[i])
        sigma = ddim_sigma(chain, i, eta)
        direction = math.sqrt(max(1 - abar_prev - sigma**2, 0.0))
        x_prev = math.sqrt(abar_prev) * pred.x0 + direction * pred.eps
        if sigma > 0 and i > 0:
            x_prev = x_prev + sigma * randn_like(pred.x_t, generator)
        return StepOutput(x_prev, pred)

    return step


def eps_correction(denoise: Denoiser, grad_log_prob: GradLogProb, scale: float, chain: Schedule,
                   variance: VarianceType) -> Denoiser:
    """Classifier guidance as ε̂ − s √(1−ᾱ_t) ∇ (the score form: chain and variance do not enter)."""
    return classifier_guidance_ddim(denoise, grad_log_prob, scale)


SAMPLERS: Mapping[SamplerKind, SamplerSpec] = MappingProxyType({spec.kind: spec for spec in (
    SamplerSpec(SamplerKind.DDPM, "DDPM: ancestral steps, σ² = β̃ (or the model's learned variance)",
                ddpm_step, classifier_guidance_ddpm),
    SamplerSpec(SamplerKind.DDIM, "DDIM: deterministic at η = 0, as noisy as DDPM at η = 1",
                ddim_step, eps_correction, options=("eta",)),
    SamplerSpec(SamplerKind.DDPM_BETA, "DDPM with σ² = β: Ho et al.'s other variance, a little more noise",
                ddpm_step, classifier_guidance_ddpm, variance=VarianceType.BETA),
    SamplerSpec(SamplerKind.EULER, "Euler on the probability-flow ODE in σ (DDIM at η = 0); churn adds noise first",
                euler_step, eps_correction, options=("churn",)),
    SamplerSpec(SamplerKind.HEUN, "Heun: 2nd-order probability-flow ODE steps, two network calls each (Karras)",
                heun_step, eps_correction, network_calls=2, options=("churn",)),
    SamplerSpec(SamplerKind.EULER_ANCESTRAL, "Euler-ancestral: the reverse SDE's steps in σ (noise every step)",
                euler_ancestral_step, eps_correction),
    SamplerSpec(SamplerKind.DPMPP_2M, "DPM-Solver++(2M): 2nd-order multistep ODE solver, one call per step",
                dpmpp_2m_step, eps_correction, multistep=True),
    SamplerSpec(SamplerKind.PC, "Predictor–corrector: reverse diffusion + a Langevin step at the set SNR",
                predictor_corrector_step, eps_correction, network_calls=2, options=("snr",)),
)})


def sampler_spec(kind: SamplerKind) -> SamplerSpec:
    try:
        return SAMPLERS[SamplerKind(kind)]
    except (KeyError, ValueError):
        raise ValueError(f"no sampler {kind!r}: choose one of {', '.join(k.value for k in SAMPLERS)}") from None


def sampler_kinds() -> tuple[SamplerKind, ...]:
    """Every sampler in the table, in its order (the window's list and the CLI's choices)."""
    return tuple(SAMPLERS)


def sample(
    kind: SamplerKind,
    denoise: Denoiser,
    x: torch.Tensor,
    chain: Schedule,
    *,
    variance: VarianceType = VarianceType.POSTERIOR,
    options: SamplerOptions = DEFAULT_OPTIONS,
    start: int | None = None,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Sample with the table's sampler `kind` from x at chain position `start` (default: the last) to x₀."""
    step = sampler_spec(kind).step(chain, variance, generator, options)
    return run_chain(denoise, step, x, chain, descending(chain, start), callback=callback, cancel=cancel)


def sample_ddpm(denoise: Denoiser, x: torch.Tensor, chain: Schedule, *,
                variance: VarianceType = VarianceType.POSTERIOR, start: int | None = None,
                generator: torch.Generator | None = None, callback: Callback | None = None,
                cancel: CancelToken | None = None) -> torch.Tensor:
    """Ancestral sampling with the model's variance type: `sample(SamplerKind.DDPM, …)`."""
    return sample(SamplerKind.DDPM, denoise, x, chain, variance=variance, start=start, generator=generator,
                  callback=callback, cancel=cancel)


def sample_ddim(denoise: Denoiser, x: torch.Tensor, chain: Schedule, *, eta: float = 0.0,
                start: int | None = None, generator: torch.Generator | None = None,
                callback: Callback | None = None, cancel: CancelToken | None = None) -> torch.Tensor:
    """DDIM sampling with η: `sample(SamplerKind.DDIM, …)`."""
    return sample(SamplerKind.DDIM, denoise, x, chain, options=SamplerOptions(eta=eta), start=start,
                  generator=generator, callback=callback, cancel=cancel)


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
    returns (approximately) x₀. Not a sampler of the table: it climbs instead of descending.
    """
    abar = chain.alphas_cumprod

    def climb(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        pred = denoise(x, timestep_batch(chain, i, x))
        a = float(abar[i + 1])
        return StepOutput(math.sqrt(a) * pred.x0 + math.sqrt(1 - a) * pred.eps, pred)

    return run_chain(denoise, climb, x0, chain, list(range(len(chain) - 1)), callback=callback, cancel=cancel)
