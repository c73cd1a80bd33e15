"""An independent reference: the exact output distribution of a sampler of the table on Gaussian data.

With the exact ε* of x₀ ~ N(μ, Σ), x̂₀ = P x_t + q and ε̂ are affine in x_t, so every step of a
sampler is x' = M x + b + σ z (z fresh noise). Starting from x_T ~ N(0, I) the output is Gaussian; its
mean and covariance follow m' = M m + b, S' = M S Mᵀ + σ² I. Each step's (M, b, σ²) is written here
from the formulas of DESIGN §4, sharing no code with the samplers.

The reference is found from the sampler's spec: `REFERENCE_STEPS` is keyed by the spec's step builder,
and the spec's own variance (DDPM-β's σ² = β) overrides the model's. A sampler with a new step
builder needs one entry here; the contract tests fail until it has one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from studio.core.enums import VarianceType
from studio.diffusion.samplers import SamplerOptions, SamplerSpec, ddim_step, ddpm_step
from tests.diffusion.oracles import F64, Gaussian


@dataclass(frozen=True)
class ChainPoint:
    """ᾱ at a step's x_t and at the position it moves to (ᾱ_{−1} = 1: the clean image)."""

    abar: float
    abar_prev: float
    last: bool  # the step to position −1 adds no noise


@dataclass(frozen=True, eq=False)
class AffineStep:
    """x' = M x + b + √var z."""

    matrix: torch.Tensor
    offset: torch.Tensor
    var: float


def _x0_affine(data: Gaussian, a: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x̂₀ = P x + q for the exact ε* = √(1−ᾱ) C⁻¹ (x − √ᾱ μ), C = ᾱΣ + (1−ᾱ)I."""
    eye = torch.eye(data.dim, dtype=F64)
    inv = torch.linalg.inv(data.noised_cov(a))
    return (eye - (1 - a) * inv) / math.sqrt(a), (1 - a) * inv @ data.mean


def ddpm_reference(data: Gaussian, p: ChainPoint, variance: VarianceType, options: SamplerOptions) -> AffineStep:
    """μ̃ = √ᾱ_{t−1} β_t/(1−ᾱ_t) x̂₀ + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) x_t, σ² = β̃_t or β_t (0 at the last step)."""
    a, ap = p.abar, p.abar_prev
    mat_x0, off_x0 = _x0_affine(data, a)
    beta = 1 - a / ap
    c0 = math.sqrt(ap) * beta / (1 - a)
    ct = math.sqrt(1 - beta) * (1 - ap) / (1 - a)
    var = (1 - ap) / (1 - a) * beta if variance is VarianceType.POSTERIOR else beta
    return AffineStep(c0 * mat_x0 + ct * torch.eye(data.dim, dtype=F64), c0 * off_x0, 0.0 if p.last else var)


def ddim_reference(data: Gaussian, p: ChainPoint, variance: VarianceType, options: SamplerOptions) -> AffineStep:
    """x' = √ᾱ_{t−1} x̂₀ + √(1−ᾱ_{t−1}−σ²) ε̂ + σ z, σ = η √((1−ᾱ_{t−1})/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_{t−1})."""
    a, ap = p.abar, p.abar_prev
    mat_x0, off_x0 = _x0_affine(data, a)
    inv = torch.linalg.inv(data.noised_cov(a))
    mat_eps, off_eps = math.sqrt(1 - a) * inv, -math.sqrt(1 - a) * math.sqrt(a) * inv @ data.mean
    sigma = options.eta * math.sqrt((1 - ap) / (1 - a)) * math.sqrt(1 - a / ap)
    direction = math.sqrt(max(1 - ap - sigma**2, 0.0))
    return AffineStep(math.sqrt(ap) * mat_x0 + direction * mat_eps, math.sqrt(ap) * off_x0 + direction * off_eps,
                      0.0 if p.last else sigma**2)


ReferenceStep = Callable[[Gaussian, ChainPoint, VarianceType, SamplerOptions], AffineStep]
REFERENCE_STEPS: dict[object, ReferenceStep] = {ddpm_step: ddpm_reference, ddim_step: ddim_reference}


def reference_for(spec: SamplerSpec) -> ReferenceStep:
    try:
        return REFERENCE_STEPS[spec.make_step]
    except KeyError:
        raise LookupError(f"no exact one-step reference for {spec.kind.value!r}: add its formula to "
                          "tests/diffusion/chain_reference.py REFERENCE_STEPS") from None


def chain_moments(data: Gaussian, abars: list[float], spec: SamplerSpec, *,
                  options: SamplerOptions = SamplerOptions(),  # noqa: B008 (frozen)
                  variance: VarianceType = VarianceType.POSTERIOR) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance after sampling from x_T ~ N(0, I) down the chain with ᾱ values `abars`
    (ascending), with the sampler `spec` for a model whose own variance type is `variance`."""
    reference = reference_for(spec)
    variance = spec.variance or variance
    m, s = torch.zeros(data.dim, dtype=F64), torch.eye(data.dim, dtype=F64)
    for i in range(len(abars) - 1, -1, -1):
        point = ChainPoint(abars[i], abars[i - 1] if i > 0 else 1.0, last=i == 0)
        step = reference(data, point, variance, options)
        m = step.matrix @ m + step.offset
        s = step.matrix @ s @ step.matrix.T + step.var * torch.eye(data.dim, dtype=F64)
    return m, s
