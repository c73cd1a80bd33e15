"""Particular samplers against closed forms: discretisation error, the data, a mixture's mode weights.

What every sampler of the table must do (exact discrete-chain moments, callback, cancel, start, seeds,
guidance) is in test_sampler_contract.py. Here: facts about DDPM and DDIM in particular. With the exact
ε* of Gaussian data the output of a discrete K-step chain is exactly Gaussian (`chain_reference`), and
the chain approaches the data as K grows — its discretisation error is real: 50 linear steps of DDPM
give std 0.252 for data of std 0.3.
"""

from functools import cache

import pytest
import torch

from studio.core.enums import SamplerKind, VarianceType
from studio.diffusion.samplers import SamplerOptions, ddim_step, sample, sampler_spec
from studio.diffusion.schedule import Schedule, cosine_schedule, linear_schedule, respace
from tests.diffusion.chain_reference import chain_moments
from tests.diffusion.oracles import (
    F64,
    Gaussian,
    Mixture,
    correlated_gaussian,
    denoiser,
    empirical,
    flat,
    image,
    isotropic,
    one_thread,  # noqa: F401  (autouse fixture)
)

LINEAR, COSINE = linear_schedule(), cosine_schedule()
FULL = correlated_gaussian(3)  # full covariance, eigenvalues 0.07, 0.46, 2.63
DIAGONAL = Gaussian(torch.tensor([0.5, -1.0], dtype=F64), torch.diag(torch.tensor([0.3, 1.2], dtype=F64) ** 2))
EYE2 = torch.eye(2, dtype=F64)
MIXTURE = Mixture(
    torch.tensor([0.5, 0.3, 0.2], dtype=F64),
    (Gaussian(torch.tensor([-2.0, 0.0], dtype=F64), 0.1 * EYE2),
     Gaussian(torch.tensor([2.0, 0.0], dtype=F64), 0.2 * EYE2),
     Gaussian(torch.tensor([0.0, 2.5], dtype=F64), 0.1 * EYE2)),
)
DDPM, DDIM = SamplerKind.DDPM, SamplerKind.DDIM
ETA1 = SamplerOptions(eta=1.0)


def _sample(data, kind: SamplerKind, chain: Schedule, n: int, *, options: SamplerOptions = SamplerOptions(),  # noqa: B008
            variance: VarianceType = VarianceType.POSTERIOR, seed: int = 1, full: Schedule = LINEAR) -> torch.Tensor:
    x_T = image(torch.randn(n, data.dim, dtype=F64, generator=torch.Generator().manual_seed(seed)))
    return sample(kind, denoiser(data.eps, full.alphas_cumprod), x_T, chain, variance=variance, options=options,
                  generator=torch.Generator().manual_seed(seed + 1))


@cache
def _diagonal_ddpm50() -> torch.Tensor:
    return _sample(DIAGONAL, DDPM, respace(LINEAR, 50), 10_000)


def _relative_error(cov: torch.Tensor, target: torch.Tensor) -> float:
    return float((cov - target).norm() / target.norm())


# --- discretisation error -----------------------------------------------------------------------


def test_exact_chain_check_tells_the_two_ddpm_variances_apart():
    """The contract's exact-chain test is sharp: the β̃ and β chains' output variances (std 0.252 vs 0.323 for
    data std 0.3) differ by 27 SE of a variance estimate at N = 10 000, so a wrong σ_t² would fail it."""
    samples = _diagonal_ddpm50()
    _, cov_beta = chain_moments(DIAGONAL, respace(LINEAR, 50).alphas_cumprod.tolist(), sampler_spec(DDPM),
                                variance=VarianceType.BETA)
    var_hat = empirical(samples)[1][0, 0]
    se = cov_beta[0, 0] * (2 / 10_000) ** 0.5
    assert (cov_beta[0, 0] - var_hat) / se > 20


@pytest.mark.parametrize(("kind", "steps", "options", "variance", "std"), [
    (DDPM, 1000, SamplerOptions(), VarianceType.POSTERIOR, 0.2963),
    (DDPM, 50, SamplerOptions(), VarianceType.POSTERIOR, 0.2522),
    (DDPM, 50, SamplerOptions(), VarianceType.BETA, 0.3229),
    (DDIM, 50, SamplerOptions(), VarianceType.POSTERIOR, 0.2745),
    (DDIM, 50, ETA1, VarianceType.POSTERIOR, 0.2522),
], ids=["ddpm1000", "ddpm50-beta_tilde", "ddpm50-beta", "ddim50-eta0", "ddim50-eta1"])
def test_fifty_linear_steps_shrink_the_data_spread_by_the_chains_discretisation_error(kind, steps, options, variance,
                                                                                     std):
    """1-D data N(0.5, 0.3²), N = 20 000 samples from the sampler itself: the output std is the exact chain's
    (listed; within 4.5 SE ≈ 0.007 of it), not the data's 0.3 — 50 steps of DDPM with β̃ lose 16 % of it,
    with β overshoot by 8 %; 1000 steps come within 1.3 %."""
    data = isotropic([0.5], 0.3)
    out = _sample(data, kind, respace(LINEAR, steps), 20_000, options=options, variance=variance)
    assert abs(float(flat(out).std()) - std) < 4.5 * std / (2 * 20_000) ** 0.5


def test_ddim_with_eta_one_is_ddpm_with_the_posterior_variance():
    """σ_t² = β̃_t at η = 1 and √(1−ᾱ_{t−1}−β̃_t)/√(1−ᾱ_t) equals the posterior's coefficient on x_t, so with
    the same noise the two samplers give the same samples (to rounding)."""
    chain = respace(LINEAR, 50)
    ddpm = _sample(FULL, DDPM, chain, 2000)
    ddim = _sample(FULL, DDIM, chain, 2000, options=ETA1)
    assert torch.allclose(ddpm, ddim, atol=1e-10)


def test_a_negative_eta_is_refused():
    with pytest.raises(ValueError, match="eta"):
        ddim_step(respace(LINEAR, 10), options=SamplerOptions(eta=-0.5))


# --- against the data ---------------------------------------------------------------------------


@pytest.mark.parametrize("data_name", ["full", "diagonal"])
def test_thousand_step_ddpm_matches_the_data_mean_and_covariance(data_name):
    """DDPM on the full 1000-step linear chain, N = 20 000 / 10 000: mean within 4.5 SE of μ and covariance within
    4.5 SE + 1 % of Σ per entry (the chain's own bias is 0.7 % of Σ in Frobenius norm)."""
    data, n = (FULL, 20_000) if data_name == "full" else (DIAGONAL, 10_000)
    samples = _sample(data, DDPM, LINEAR, n)
    m_hat, s_hat = empirical(samples)
    var = data.cov.diagonal()
    se_cov = ((var[:, None] * var[None, :] + data.cov**2) / n).sqrt()
    assert ((m_hat - data.mean).abs() <= 4.5 * (var / n).sqrt()).all(), (m_hat, data.mean)
    assert ((s_hat - data.cov).abs() <= 4.5 * se_cov + 0.01 * data.cov.abs().max()).all(), (s_hat, data.cov)


def test_ddim_on_the_cosine_schedule_approaches_the_data_as_steps_grow():
    """Deterministic DDIM from the same N = 20 000 x_T: covariance error (relative Frobenius) falls
    25 → 100 → 400 steps (exact chain: 10.8 %, 2.7 %, 0.7 %; measured 11.2 %, 3.2 %, 1.2 %, the extra being
    the sampling error of a covariance estimate at this N);
    at 400 steps the samples match the data: mean within 4.5 SE, covariance within 2.5 %."""
    errors = []
    for steps in (25, 100, 400):
        samples = _sample(FULL, DDIM, respace(COSINE, steps), 20_000, full=COSINE)
        m_hat, s_hat = empirical(samples)
        errors.append(_relative_error(s_hat, FULL.cov))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[0] > 0.08 and errors[2] < 0.025, errors
    assert ((m_hat - FULL.mean).abs() <= 4.5 * (FULL.cov.diagonal() / 20_000).sqrt()).all()


# --- a Gaussian mixture -------------------------------------------------------------------------

MIXTURE_N = 4000
MIXTURE_CASES = [(DDPM, 1000, SamplerOptions()), (DDPM, 50, SamplerOptions()), (DDIM, 50, SamplerOptions()),
                 (DDIM, 50, ETA1)]
MIXTURE_IDS = ["ddpm1000", "ddpm50", "ddim50-eta0", "ddim50-eta1"]


@cache
def _mixture_samples(kind: SamplerKind, steps: int, options: SamplerOptions) -> torch.Tensor:
    return flat(_sample(MIXTURE, kind, respace(LINEAR, steps), MIXTURE_N, options=options, seed=11))


@pytest.mark.parametrize(("kind", "steps", "options"), MIXTURE_CASES, ids=MIXTURE_IDS)
def test_samplers_recover_the_mode_weights_of_a_three_component_mixture(kind, steps, options):
    """N = 4000 samples classified by nearest mean: each weight within 4 SE (SE ≤ √(0.25/4000) = 0.008) of
    w = (0.5, 0.3, 0.2); each mode's mean within 0.05 of μ_k (SE ≤ 0.011)."""
    x = _mixture_samples(kind, steps, options)
    labels = MIXTURE.nearest(x)
    freq = torch.bincount(labels, minlength=3).to(F64) / MIXTURE_N
    se = (MIXTURE.weights * (1 - MIXTURE.weights) / MIXTURE_N).sqrt()
    assert ((freq - MIXTURE.weights).abs() <= 4 * se).all(), freq
    for k, component in enumerate(MIXTURE.components):
        assert (x[labels == k].mean(0) - component.mean).abs().max() < 0.05


@pytest.mark.parametrize(("kind", "steps", "options", "tolerance"), [
    (*case, tol) for case, tol in zip(MIXTURE_CASES, (0.02, 0.05, 0.05, 0.05), strict=True)], ids=MIXTURE_IDS)
def test_mixture_samples_match_the_data_mean_and_covariance(kind, steps, options, tolerance):
    """N = 4000: mean within 4.5 SE of Σ w_k μ_k; covariance within `tolerance` (relative Frobenius) of the
    mixture's — 2 % at 1000 steps (measured 0.8 %), 5 % at 50 (measured 2.3–2.7 %: the modes come out a
    little too narrow, σ² ≈ 0.075 instead of 0.1, but the between-mode spread dominates)."""
    x = _mixture_samples(kind, steps, options)
    mean, cov = MIXTURE.moments()
    m_hat, s_hat = empirical(x)
    assert ((m_hat - mean).abs() <= 4.5 * (cov.diagonal() / MIXTURE_N).sqrt()).all(), (m_hat, mean)
    assert _relative_error(s_hat, cov) < tolerance


def test_a_thousand_ddpm_steps_keep_each_mode_at_its_own_spread():
    """Samples nearest mode k have variance Σ_k per axis within 12 % (N_k ≥ 800, SE ≤ 5 %; measured ≤ 7 %)."""
    x = _mixture_samples(DDPM, 1000, SamplerOptions())
    labels = MIXTURE.nearest(x)
    for k, component in enumerate(MIXTURE.components):
        var = x[labels == k].var(0)
        assert torch.allclose(var, component.cov.diagonal(), rtol=0.12), (k, var)
