"""An independent reference: the exact output distribution of a sampler of the table on Gaussian data.

With the exact ε* of x₀ ~ N(μ, Σ), x̂₀ = P x_t + q and ε̂ are affine in x_t, so every step of a
sampler is x' = M x + M_n x_{i+1} + b + noise with a known covariance Q (fresh noise; M_n only for a
multistep method, which reuses the prediction at the position before). Starting from x_T ~ N(0, I)
the output is Gaussian; the joint mean and covariance of (x_i, x_{i+1}) follow the affine maps.
Each step's (M, M_n, b, Q) is written here from the formulas of DESIGN §4 and the papers the
samplers name, sharing no code with the samplers.

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
from studio.diffusion.samplers import (
    SamplerOptions,
    SamplerSpec,
    ddim_step,
    ddpm_step,
    dpmpp_2m_step,
    euler_ancestral_step,
    euler_step,
    heun_step,
    predictor_corrector_step,
)
from studio.diffusion.schedule import Schedule
from tests.diffusion.oracles import F64, Gaussian


@dataclass(frozen=True)
class ChainPoint:
    """ᾱ at a step's x_t and at the position it moves to (ᾱ_{−1} = 1: the clean image)."""

    abar: float
    abar_prev: float
    last: bool  # the step to position −1 adds no noise
    abar_next: float | None = None  # ᾱ one position higher (None at the top): a multistep method's history
    abar_hat: float | None = None  # ᾱ of the training timestep churn raises x_t to (None: no churn)


@dataclass(frozen=True, eq=False)
class AffineStep:
    """x' = M x + M_n x_{i+1} + b + noise of covariance var·I + cov."""

    matrix: torch.Tensor
    offset: torch.Tensor
    var: float
    cov: torch.Tensor | None = None
    matrix_next: torch.Tensor | None = None


def _sigma(a: float) -> float:
    return math.sqrt((1 - a) / a)


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


def _eps_affine(data: Gaussian, a: float) -> tuple[torch.Tensor, torch.Tensor]:
    """ε̂ = E x + e for ε* = √(1−ᾱ) C⁻¹ (x − √ᾱ μ)."""
    inv = torch.linalg.inv(data.noised_cov(a))
    return math.sqrt(1 - a) * inv, -math.sqrt(1 - a) * math.sqrt(a) * inv @ data.mean


def _ode_reference(data: Gaussian, p: ChainPoint, second_order: bool) -> AffineStep:
    """Karras et al.: churn x to σ̂ (x̂ = √ᾱ̂ (x/√ᾱ + √(σ̂² − σ²) z)), then with y = x̂/√ᾱ̂ an Euler step
    y' = y + (σ' − σ̂) ε̂(x̂), or Heun's y' = y + (σ' − σ̂)(ε̂(x̂) + ε̂(√ᾱ' y_Euler))/2 when σ' > 0."""
    eye = torch.eye(data.dim, dtype=F64)
    a_hat = p.abar if p.abar_hat is None else p.abar_hat
    s, s_hat, s_next, ap = _sigma(p.abar), _sigma(a_hat), _sigma(p.abar_prev) if p.abar_prev < 1 else 0.0, p.abar_prev
    scale, noise = math.sqrt(a_hat / p.abar), math.sqrt(a_hat) * math.sqrt(max(s_hat**2 - s**2, 0.0))
    mat_e, off_e = _eps_affine(data, a_hat)
    # y as an affine function of x̂: y = x̂/√ᾱ̂
    mat_y, off_y = eye / math.sqrt(a_hat), torch.zeros(data.dim, dtype=F64)
    mat, off = mat_y + (s_next - s_hat) * mat_e, off_y + (s_next - s_hat) * off_e
    if second_order and not p.last:
        mat_e2, off_e2 = _eps_affine(data, ap)
        e2_mat, e2_off = mat_e2 @ (math.sqrt(ap) * mat), mat_e2 @ (math.sqrt(ap) * off) + off_e2
        mat = mat_y + (s_next - s_hat) * (mat_e + e2_mat) / 2
        off = off_y + (s_next - s_hat) * (off_e + e2_off) / 2
    mat, off = math.sqrt(ap) * mat, math.sqrt(ap) * off
    return AffineStep(mat * scale, off, 0.0, cov=noise**2 * mat @ mat.T)


def euler_reference(data: Gaussian, p: ChainPoint, variance: VarianceType, options: SamplerOptions) -> AffineStep:
    return _ode_reference(data, p, second_order=False)


def heun_reference(data: Gaussian, p: ChainPoint, variance: VarianceType, options: SamplerOptions) -> AffineStep:
    return _ode_reference(data, p, second_order=True)


def euler_ancestral_reference(data: Gaussian, p: ChainPoint, variance: VarianceType,
                              options: SamplerOptions) -> AffineStep:
    """y' = x̂₀ + σ_down ε̂ + σ_up z, σ_up = σ'√((σ² − σ'²)/σ²), σ_down = √(σ'² − σ_up²); x' = √ᾱ' y'."""
    mat_x0, off_x0 = _x0_affine(data, p.abar)
    if p.last:
        return AffineStep(mat_x0, off_x0, 0.0)
    mat_e, off_e = _eps_affine(data, p.abar)
    s, s_next, ap = _sigma(p.abar), _sigma(p.abar_prev), p.abar_prev
    up = s_next * math.sqrt((s**2 - s_next**2) / s**2)
    down = math.sqrt(s_next**2 - up**2)
    return AffineStep(math.sqrt(ap) * (mat_x0 + down * mat_e), math.sqrt(ap) * (off_x0 + down * off_e), ap * up**2)


def dpmpp_2m_reference(data: Gaussian, p: ChainPoint, variance: VarianceType, options: SamplerOptions) -> AffineStep:
    """Lu et al.'s DPM-Solver++(2M): y' = (σ'/σ) y + (1 − σ'/σ) D, D = (1 + 1/2r) x̂₀ − (1/2r) x̂₀(x_{i+1}),
    r = log(σ_{i+1}/σ) / log(σ/σ'); D = x̂₀ at the top; x̂₀ at the last step."""
    mat_x0, off_x0 = _x0_affine(data, p.abar)
    if p.last:
        return AffineStep(mat_x0, off_x0, 0.0)
    s, s_next, ap = _sigma(p.abar), _sigma(p.abar_prev), p.abar_prev
    ratio = s_next / s
    mat, off, mat_n = ratio * torch.eye(data.dim, dtype=F64) / math.sqrt(p.abar), 0.0 * off_x0, None
    if p.abar_next is None:
        mat, off = mat + (1 - ratio) * mat_x0, off + (1 - ratio) * off_x0
    else:
        r = math.log(_sigma(p.abar_next) / s) / math.log(s / s_next)
        mat_x0n, off_x0n = _x0_affine(data, p.abar_next)
        mat = mat + (1 - ratio) * (1 + 1 / (2 * r)) * mat_x0
        off = off + (1 - ratio) * ((1 + 1 / (2 * r)) * off_x0 - off_x0n / (2 * r))
        mat_n = -math.sqrt(ap) * (1 - ratio) / (2 * r) * mat_x0n
    return AffineStep(math.sqrt(ap) * mat, math.sqrt(ap) * off, 0.0, matrix_next=mat_n)


def pc_reference(data: Gaussian, p: ChainPoint, variance: VarianceType, options: SamplerOptions) -> AffineStep:
    """Song et al.: Langevin x_c = x + ε s(x) + √(2ε) z, ε = 2 α r² (1 − ᾱ), s = −ε̂/√(1−ᾱ); then
    x' = (2 − √(1−β)) x_c + β s(x_c) + √β z', β = 1 − ᾱ/ᾱ'; x̂₀ at the last step."""
    mat_x0, off_x0 = _x0_affine(data, p.abar)
    if p.last:
        return AffineStep(mat_x0, off_x0, 0.0)
    eye = torch.eye(data.dim, dtype=F64)
    mat_e, off_e = _eps_affine(data, p.abar)
    root = math.sqrt(1 - p.abar)
    beta = 1 - p.abar / p.abar_prev
    size = 2 * (1 - beta) * options.snr**2 * (1 - p.abar)
    corr_mat, corr_off = eye - size * mat_e / root, -size * off_e / root
    pred_mat, pred_off = (2 - math.sqrt(1 - beta)) * eye - beta * mat_e / root, -beta * off_e / root
    return AffineStep(pred_mat @ corr_mat, pred_mat @ corr_off + pred_off, beta,
                      cov=2 * size * pred_mat @ pred_mat.T)


ReferenceStep = Callable[[Gaussian, ChainPoint, VarianceType, SamplerOptions], AffineStep]
REFERENCE_STEPS: dict[object, ReferenceStep] = {
    ddpm_step: ddpm_reference, ddim_step: ddim_reference, euler_step: euler_reference, heun_step: heun_reference,
    euler_ancestral_step: euler_ancestral_reference, dpmpp_2m_step: dpmpp_2m_reference,
    predictor_corrector_step: pc_reference,
}


def reference_for(spec: SamplerSpec) -> ReferenceStep:
    try:
        return REFERENCE_STEPS[spec.make_step]
    except KeyError:
        raise LookupError(f"no exact one-step reference for {spec.kind.value!r}: add its formula to "
                          "tests/diffusion/chain_reference.py REFERENCE_STEPS") from None


def churn_abar(chain: Schedule, i: int, churn: float) -> float | None:
    """ᾱ of the training timestep t ≥ t_i whose σ is nearest (1 + γ) σ_i in log, γ = min(churn/K, √2 − 1)."""
    if churn == 0:
        return None
    gamma = min(churn / len(chain), math.sqrt(2) - 1)
    train = chain.train_alphas_cumprod.tolist()
    t_i = int(chain.timesteps[i])
    target = math.log(_sigma(train[t_i]) * (1 + gamma))
    best = min(range(t_i, len(train)), key=lambda t: abs(math.log(_sigma(train[t])) - target))
    return None if best == t_i else train[best]


def chain_moments(data: Gaussian, abars: list[float], spec: SamplerSpec, *,
                  options: SamplerOptions = SamplerOptions(),  # noqa: B008 (frozen)
                  variance: VarianceType = VarianceType.POSTERIOR,
                  chain: Schedule | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance after sampling from x_T ~ N(0, I) down the chain with ᾱ values `abars`
    (ascending), with the sampler `spec` for a model whose own variance type is `variance`. With churn,
    `chain` (whose ᾱ are `abars`) gives the training timesteps churn may raise x_t to."""
    reference = reference_for(spec)
    variance = spec.variance or variance
    d = data.dim
    eye = torch.eye(d, dtype=F64)
    m, s = torch.zeros(2 * d, dtype=F64), torch.zeros(2 * d, 2 * d, dtype=F64)  # (x_i, x_{i+1})
    s[:d, :d] = eye
    for i in range(len(abars) - 1, -1, -1):
        abar_hat = churn_abar(chain, i, options.churn) if "churn" in spec.options else None
        point = ChainPoint(abars[i], abars[i - 1] if i > 0 else 1.0, last=i == 0,
                           abar_next=abars[i + 1] if i + 1 < len(abars) else None, abar_hat=abar_hat)
        step = reference(data, point, variance, options)
        both = torch.cat([step.matrix, step.matrix_next if step.matrix_next is not None else 0 * eye], dim=1)
        noise = step.var * eye + (step.cov if step.cov is not None else 0 * eye)
        new_m = torch.cat([both @ m + step.offset, m[:d]])
        new_s = torch.zeros_like(s)
        new_s[:d, :d] = both @ s @ both.T + noise
        new_s[:d, d:] = both @ s[:, :d]
        new_s[d:, :d] = new_s[:d, d:].T
        new_s[d:, d:] = s[:d, :d]
        m, s = new_m, new_s
    return m[:d], s[:d, :d]
