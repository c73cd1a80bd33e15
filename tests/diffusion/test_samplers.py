"""Samplers against closed forms: the exact discrete chain, the data, a mixture's mode weights.

With the exact ε* of Gaussian data every DDPM/DDIM step is affine in x_t plus independent Gaussian
noise, so the output of the *discrete* K-step chain is exactly Gaussian; `chain_reference` propagates
its mean and covariance from DESIGN §4's formulas with no sampler code. The samplers must match that
within sampling error (tight), and the chain itself approaches the data as K grows (its discretisation
error is real: 50 linear steps of DDPM give std 0.252 for data of std 0.3).
"""

import threading
from functools import cache

import pytest
import torch

from studio.core.enums import VarianceType
from studio.diffusion.samplers import SamplingCancelled, StepState, sample_ddim, sample_ddpm
from studio.diffusion.schedule import Schedule, cosine_schedule, linear_schedule, respace
from tests.diffusion.chain_reference import chain_moments
from tests.diffusion.oracles import (
    F64,
    Gaussian,
    Mixture,
    assert_moments_match,
    correlated_gaussian,
    denoiser,
    empirical,
    flat,
    image,
    isotropic,
    one_thread,  # noqa: F401  (autouse fixture)
)

N = 20_000  # samples per statistical test on the 3-D Gaussian (10 000 on the cheaper 2-D diagonal one)
LINEAR, COSINE = linear_schedule(), cosine_schedule()
FULL = correlated_gaussian(3)  # full covariance, eigenvalues 0.07, 0.46, 2.63
DIAGONAL = Gaussian(torch.tensor([0.5, -1.0], dtype=F64), torch.diag(torch.tensor([0.3, 1.2], dtype=F64) ** 2))
DATA = {"full": FULL, "diagonal": DIAGONAL}
SAMPLES = {"full": N, "diagonal": N // 2}
EYE2 = torch.eye(2, dtype=F64)
MIXTURE = Mixture(
    torch.tensor([0.5, 0.3, 0.2], dtype=F64),
    (Gaussian(torch.tensor([-2.0, 0.0], dtype=F64), 0.1 * EYE2),
     Gaussian(torch.tensor([2.0, 0.0], dtype=F64), 0.2 * EYE2),
     Gaussian(torch.tensor([0.0, 2.5], dtype=F64), 0.1 * EYE2)),
)

# (sampler, steps, η, variance): the chains of the issue, each on the linear schedule
CASES = [
    ("ddpm", 1000, 0.0, VarianceType.POSTERIOR),
    ("ddpm", 50, 0.0, VarianceType.POSTERIOR),
    ("ddpm", 50, 0.0, VarianceType.BETA),
    ("ddim", 50, 0.0, VarianceType.POSTERIOR),
    ("ddim", 50, 1.0, VarianceType.POSTERIOR),
]
IDS = ["ddpm1000", "ddpm50-beta_tilde", "ddpm50-beta", "ddim50-eta0", "ddim50-eta1"]


def _sample(eps_fn, dim: int, kind: str, chain: Schedule, eta: float, variance: VarianceType, n: int,
            seed: int = 1, full: Schedule = LINEAR) -> torch.Tensor:
    x_T = image(torch.randn(n, dim, dtype=F64, generator=torch.Generator().manual_seed(seed)))
    denoise = denoiser(eps_fn, full.alphas_cumprod)
    g = torch.Generator().manual_seed(seed + 1)
    if kind == "ddpm":
        return sample_ddpm(denoise, x_T, chain, variance=variance, generator=g)
    return sample_ddim(denoise, x_T, chain, eta=eta, generator=g)


@cache
def _gaussian_samples(data_name: str, kind: str, steps: int, eta: float, variance: VarianceType) -> torch.Tensor:
    data = DATA[data_name]
    return _sample(data.eps, data.dim, kind, respace(LINEAR, steps), eta, variance, SAMPLES[data_name])


def _reference(data: Gaussian, kind: str, chain: Schedule, eta: float = 0.0,
               variance: VarianceType = VarianceType.POSTERIOR) -> tuple[torch.Tensor, torch.Tensor]:
    return chain_moments(data, chain.alphas_cumprod.tolist(), kind, eta=eta,
                         variance="beta" if variance is VarianceType.BETA else "posterior")


def _relative_error(cov: torch.Tensor, target: torch.Tensor) -> float:
    return float((cov - target).norm() / target.norm())


# --- the exact discrete chain -------------------------------------------------------------------


@pytest.mark.parametrize("data_name", ["full", "diagonal"])
@pytest.mark.parametrize(("kind", "steps", "eta", "variance"), CASES, ids=IDS)
def test_sampler_output_has_the_exact_mean_and_covariance_of_its_discrete_chain(data_name, kind, steps, eta,
                                                                                 variance):
    """N = 20 000 (full) / 10 000 (diagonal); every mean and covariance entry within 4.5 SE of the exact
    chain's (SE of a covariance entry √((S_ii S_jj + S_ij²)/N), e.g. 0.0013 for a variance of 0.09 at 10 000)."""
    samples = _gaussian_samples(data_name, kind, steps, eta, variance)
    mean, cov = _reference(DATA[data_name], kind, respace(LINEAR, steps), eta, variance)
    assert_moments_match(samples, mean, cov, z=4.5)


def test_exact_chain_check_tells_the_two_ddpm_variances_apart():
    """The test above is sharp: the β̃ and β chains' output variances (std 0.252 vs 0.323 for data std 0.3)
    differ by 27 SE of a variance estimate at N = 10 000, so a sampler with the wrong σ_t² would fail it."""
    samples = _gaussian_samples("diagonal", "ddpm", 50, 0.0, VarianceType.POSTERIOR)
    _, cov_beta = _reference(DIAGONAL, "ddpm", respace(LINEAR, 50), variance=VarianceType.BETA)
    var_hat = empirical(samples)[1][0, 0]
    se = cov_beta[0, 0] * (2 / SAMPLES["diagonal"]) ** 0.5
    assert (cov_beta[0, 0] - var_hat) / se > 20


def test_fifty_linear_steps_have_the_discretisation_error_the_chain_predicts():
    """1-D data N(0.5, 0.3²), linear schedule: the exact chains' output std (the measured stds of the issue,
    0.2955 / 0.250 / 0.319 / 0.274 / 0.250, are these values plus sampling error)."""
    data, chain = isotropic([0.5], 0.3), respace(LINEAR, 50)
    stds = {
        "ddpm1000": _reference(data, "ddpm", LINEAR)[1],
        "ddpm50-beta_tilde": _reference(data, "ddpm", chain)[1],
        "ddpm50-beta": _reference(data, "ddpm", chain, variance=VarianceType.BETA)[1],
        "ddim50-eta0": _reference(data, "ddim", chain)[1],
        "ddim50-eta1": _reference(data, "ddim", chain, eta=1.0)[1],
    }
    expected = {"ddpm1000": 0.2963, "ddpm50-beta_tilde": 0.2522, "ddpm50-beta": 0.3229, "ddim50-eta0": 0.2745,
                "ddim50-eta1": 0.2522}
    for name, var in stds.items():
        assert float(var.sqrt()) == pytest.approx(expected[name], abs=5e-4), name


def test_ddim_with_eta_one_is_ddpm_with_the_posterior_variance():
    """σ_t² = β̃_t at η = 1 and √(1−ᾱ_{t−1}−β̃_t)/√(1−ᾱ_t) equals the posterior's coefficient on x_t, so with
    the same noise the two samplers give the same samples (to rounding)."""
    ddpm = _gaussian_samples("full", "ddpm", 50, 0.0, VarianceType.POSTERIOR)
    ddim = _gaussian_samples("full", "ddim", 50, 1.0, VarianceType.POSTERIOR)
    assert torch.allclose(ddpm, ddim, atol=1e-10)


# --- against the data ---------------------------------------------------------------------------


@pytest.mark.parametrize("data_name", ["full", "diagonal"])
def test_thousand_step_ddpm_matches_the_data_mean_and_covariance(data_name):
    """DDPM on the full 1000-step linear chain, N = 20 000 / 10 000: mean within 4.5 SE of μ and covariance within
    4.5 SE + 1 % of Σ per entry (the chain's own bias is 0.7 % of Σ in Frobenius norm)."""
    data = DATA[data_name]
    samples = _gaussian_samples(data_name, "ddpm", 1000, 0.0, VarianceType.POSTERIOR)
    m_hat, s_hat = empirical(samples)
    var = data.cov.diagonal()
    n = SAMPLES[data_name]
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
        samples = _sample(FULL.eps, 3, "ddim", respace(COSINE, steps), 0.0, VarianceType.POSTERIOR, N,
                          full=COSINE)
        m_hat, s_hat = empirical(samples)
        errors.append(_relative_error(s_hat, FULL.cov))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[0] > 0.08 and errors[2] < 0.025, errors
    assert ((m_hat - FULL.mean).abs() <= 4.5 * (FULL.cov.diagonal() / N).sqrt()).all()


@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
@pytest.mark.parametrize(("kind", "eta", "variance"), [
    ("ddpm", 0.0, VarianceType.POSTERIOR), ("ddpm", 0.0, VarianceType.BETA), ("ddim", 0.0, VarianceType.POSTERIOR),
])
def test_every_exact_chain_converges_to_the_data_as_steps_grow(schedule_name, kind, eta, variance):
    """Exact chain moments (no sampling noise): the covariance error falls strictly 25 → 50 → 100 → 400
    → 1000 steps and is below 2 % at 400 steps (measured 0.3 %–1.8 %); the mean error stays below 0.003."""
    full = LINEAR if schedule_name == "linear" else COSINE
    errors = []
    for steps in (25, 50, 100, 400, 1000):
        mean, cov = _reference(FULL, kind, respace(full, steps), eta, variance)
        errors.append(_relative_error(cov, FULL.cov))
        assert (mean - FULL.mean).abs().max() < 0.003
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[3] < 0.02, errors


# --- a Gaussian mixture -------------------------------------------------------------------------

MIXTURE_N = 4000


@cache
def _mixture_samples(kind: str, steps: int, eta: float) -> torch.Tensor:
    chain = respace(LINEAR, steps)
    return flat(_sample(MIXTURE.eps, 2, kind, chain, eta, VarianceType.POSTERIOR, MIXTURE_N, seed=11))


MIXTURE_CASES = [("ddpm", 1000, 0.0), ("ddpm", 50, 0.0), ("ddim", 50, 0.0), ("ddim", 50, 1.0)]
MIXTURE_IDS = ["ddpm1000", "ddpm50", "ddim50-eta0", "ddim50-eta1"]


@pytest.mark.parametrize(("kind", "steps", "eta"), MIXTURE_CASES, ids=MIXTURE_IDS)
def test_samplers_recover_the_mode_weights_of_a_three_component_mixture(kind, steps, eta):
    """N = 4000 samples classified by nearest mean: each weight within 4 SE (SE ≤ √(0.25/4000) = 0.008) of
    w = (0.5, 0.3, 0.2); each mode's mean within 0.05 of μ_k (SE ≤ 0.011)."""
    x = _mixture_samples(kind, steps, eta)
    labels = MIXTURE.nearest(x)
    freq = torch.bincount(labels, minlength=3).to(F64) / MIXTURE_N
    se = (MIXTURE.weights * (1 - MIXTURE.weights) / MIXTURE_N).sqrt()
    assert ((freq - MIXTURE.weights).abs() <= 4 * se).all(), freq
    for k, component in enumerate(MIXTURE.components):
        assert (x[labels == k].mean(0) - component.mean).abs().max() < 0.05


@pytest.mark.parametrize(("kind", "steps", "eta", "tolerance"), [
    ("ddpm", 1000, 0.0, 0.02), ("ddpm", 50, 0.0, 0.05), ("ddim", 50, 0.0, 0.05), ("ddim", 50, 1.0, 0.05),
], ids=MIXTURE_IDS)
def test_mixture_samples_match_the_data_mean_and_covariance(kind, steps, eta, tolerance):
    """N = 4000: mean within 4.5 SE of Σ w_k μ_k; covariance within `tolerance` (relative Frobenius) of the
    mixture's — 2 % at 1000 steps (measured 0.8 %), 5 % at 50 (measured 2.3–2.7 %: the modes come out a
    little too narrow, σ² ≈ 0.075 instead of 0.1, but the between-mode spread dominates)."""
    x = _mixture_samples(kind, steps, eta)
    mean, cov = MIXTURE.moments()
    m_hat, s_hat = empirical(x)
    assert ((m_hat - mean).abs() <= 4.5 * (cov.diagonal() / MIXTURE_N).sqrt()).all(), (m_hat, mean)
    assert _relative_error(s_hat, cov) < tolerance


def test_a_thousand_ddpm_steps_keep_each_mode_at_its_own_spread():
    """Samples nearest mode k have variance Σ_k per axis within 12 % (N_k ≥ 800, SE ≤ 5 %; measured ≤ 7 %)."""
    x = _mixture_samples("ddpm", 1000, 0.0)
    labels = MIXTURE.nearest(x)
    for k, component in enumerate(MIXTURE.components):
        var = x[labels == k].var(0)
        assert torch.allclose(var, component.cov.diagonal(), rtol=0.12), (k, var)


# --- seeds, callbacks, start, cancel ------------------------------------------------------------

SMALL = respace(LINEAR, 10)


def _small_denoiser():
    return denoiser(FULL.eps, LINEAR.alphas_cumprod)


def _x(n: int = 4, seed: int = 0) -> torch.Tensor:
    return image(torch.randn(n, 3, dtype=F64, generator=torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("kind", ["ddpm", "ddim-eta1"])
def test_same_seed_gives_identical_samples_and_another_seed_does_not(kind):
    def run(seed):
        g = torch.Generator().manual_seed(seed)
        if kind == "ddpm":
            return sample_ddpm(_small_denoiser(), _x(64), SMALL, generator=g)
        return sample_ddim(_small_denoiser(), _x(64), SMALL, eta=1.0, generator=g)

    assert torch.equal(run(5), run(5))
    assert (run(5) - run(6)).abs().min() > 0  # every value differs


def test_deterministic_ddim_ignores_the_generator():
    a = sample_ddim(_small_denoiser(), _x(), SMALL, generator=torch.Generator().manual_seed(1))
    b = sample_ddim(_small_denoiser(), _x(), SMALL, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


@pytest.mark.parametrize("sampler", [sample_ddpm, sample_ddim])
def test_callback_gets_every_step_numbered_from_zero_with_descending_timesteps(sampler):
    seen: list[StepState] = []
    x = _x()
    out = sampler(_small_denoiser(), x, SMALL, generator=torch.Generator().manual_seed(0), callback=seen.append)
    assert [s.step for s in seen] == list(range(10))
    assert [s.index for s in seen] == list(range(9, -1, -1))
    assert [s.t for s in seen] == SMALL.timesteps.flip(0).tolist()
    assert seen[0].t == 999 and seen[-1].t == 0
    assert all(s.total == 10 and s.x0.shape == x.shape for s in seen)
    assert torch.equal(seen[0].x_t, x)
    assert torch.allclose(seen[-1].x0, out)  # the last step returns its x̂₀ (σ = 0 at position 0)


def test_start_runs_only_start_plus_one_steps_and_continues_the_same_chain():
    """Stopping a deterministic run at position 3 and starting again there gives the same result."""
    seen: list[StepState] = []
    x = _x()
    full_run: list[StepState] = []
    out = sample_ddim(_small_denoiser(), x, SMALL, callback=full_run.append)
    x_at_3 = full_run[6].x_t  # the input of the step at chain position 3
    resumed = sample_ddim(_small_denoiser(), x_at_3, SMALL, start=3, callback=seen.append)
    assert [s.index for s in seen] == [3, 2, 1, 0]
    assert [s.step for s in seen] == [0, 1, 2, 3] and seen[0].total == 4
    assert torch.allclose(resumed, out, atol=1e-12)


@pytest.mark.parametrize("start", [-1, 10])
def test_a_start_outside_the_chain_is_refused(start):
    with pytest.raises(ValueError, match="outside the chain"):
        sample_ddim(_small_denoiser(), _x(), SMALL, start=start)


def test_a_negative_eta_is_refused():
    with pytest.raises(ValueError, match="eta"):
        sample_ddim(_small_denoiser(), _x(), SMALL, eta=-0.5)


@pytest.mark.parametrize("sampler", [sample_ddpm, sample_ddim])
@pytest.mark.parametrize("k", [1, 4, 9])
def test_cancel_set_after_step_k_raises_with_step_k_and_the_last_prediction(sampler, k):
    token = threading.Event()
    seen: list[StepState] = []
    calls: list[int] = []

    def callback(state: StepState) -> None:
        seen.append(state)
        if state.step == k - 1:
            token.set()

    denoise = denoiser(FULL.eps, LINEAR.alphas_cumprod, calls)
    with pytest.raises(SamplingCancelled) as info:
        sampler(denoise, _x(), SMALL, generator=torch.Generator().manual_seed(0), callback=callback, cancel=token)
    assert info.value.step == k and len(seen) == k and len(calls) == k
    assert torch.equal(info.value.x0, seen[-1].x0)


def test_cancel_before_the_first_step_carries_no_prediction():
    token = threading.Event()
    token.set()
    with pytest.raises(SamplingCancelled) as info:
        sample_ddpm(_small_denoiser(), _x(), SMALL, cancel=token)
    assert info.value.step == 0 and info.value.x0 is None
