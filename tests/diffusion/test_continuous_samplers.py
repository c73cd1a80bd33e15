"""The σ-view samplers against closed forms (Song et al. 2021; Karras et al. 2022; Lu et al. 2022).

For x₀ ~ N(μ, Σ) the probability-flow ODE in y = x_t/√ᾱ_t has the exact solution
(Σ + σ²I)^{−1/2}(y − μ) = const, so the exact transport of a starting point is known and each ODE
sampler's error can be measured against it as the step count grows. The SDE samplers are checked on
the data's moments, and the Langevin corrector on a mixture.
"""

import math

import pytest
import torch

from studio.core.enums import SamplerKind, VarianceType
from studio.diffusion.samplers import SamplerOptions, sample
from studio.diffusion.schedule import karras_respace, linear_schedule, respace
from tests.diffusion.oracles import (
    F64,
    correlated_gaussian,
    denoiser,
    empirical,
    flat,
    image,
    one_thread,  # noqa: F401  (autouse fixture)
)
from tests.diffusion.test_samplers import MIXTURE

LINEAR = linear_schedule()
AB = LINEAR.alphas_cumprod
FULL = correlated_gaussian(3)  # eigenvalues 0.07, 0.46, 2.63
K = SamplerKind


def _x(n: int, dim: int = 3, seed: int = 0) -> torch.Tensor:
    return image(torch.randn(n, dim, dtype=F64, generator=torch.Generator().manual_seed(seed)))


def _exact_transport(x_T: torch.Tensor, abar_T: float) -> torch.Tensor:
    """x₀ = μ + Σ^{1/2} (Σ + σ_T² I)^{−1/2} (x_T/√ᾱ_T − μ): where the exact ODE takes x_T."""
    sigma2 = (1 - abar_T) / abar_T
    values, vectors = torch.linalg.eigh(FULL.cov)
    gain = vectors @ torch.diag((values / (values + sigma2)).sqrt()) @ vectors.T
    y = flat(x_T) / math.sqrt(abar_T)
    return (FULL.mean + (y - FULL.mean) @ gain.T).reshape(x_T.shape)


def _slope(kind: SamplerKind, spacing, counts=(10, 20, 40, 80)) -> tuple[float, list[float]]:
    """Least-squares slope of −log(RMS error) against log(steps)."""
    x_T = _x(200)
    exact = _exact_transport(x_T, float(AB[-1]))
    errors = [float((sample(kind, denoiser(FULL.eps, AB), x_T, spacing(LINEAR, n)) - exact).pow(2).mean().sqrt())
              for n in counts]
    logs_n, logs_e = torch.tensor(counts, dtype=F64).log(), torch.tensor(errors, dtype=F64).log()
    dn, de = logs_n - logs_n.mean(), logs_e - logs_e.mean()
    return -float((dn * de).sum() / (dn * dn).sum()), errors


# --- the σ view and Karras spacing --------------------------------------------------------------


def test_sigma_is_the_noise_to_signal_ratio_of_every_chain_position_and_zero_below_the_first():
    chain = respace(LINEAR, 10)
    abar = chain.alphas_cumprod
    assert torch.allclose(chain.sigmas, ((1 - abar) / abar).sqrt(), rtol=1e-14)
    assert float(chain.sigmas_prev[0]) == 0.0 and torch.equal(chain.sigmas_prev[1:], chain.sigmas[:-1])
    assert float(LINEAR.sigmas[0]) == pytest.approx(0.0100005, rel=1e-5)  # β₀ = 1e-4
    assert float(LINEAR.sigmas[-1]) == pytest.approx(157.4, rel=1e-3)


def test_karras_spacing_keeps_both_ends_and_spaces_sigma_to_the_power_one_seventh_evenly():
    """10 steps of the linear schedule: positions distinct and ascending, first and last kept; σ^{1/7} of the
    kept positions within 2 % of evenly spaced between σ_min^{1/7} and σ_max^{1/7} (timesteps are integers)."""
    chain = karras_respace(LINEAR, 10)
    t = chain.timesteps
    assert int(t[0]) == 0 and int(t[-1]) == 999 and bool((t[1:] > t[:-1]).all())
    root = chain.sigmas ** (1 / 7)
    even = torch.linspace(float(root[0]), float(root[-1]), 10, dtype=F64)
    assert torch.allclose(root, even, rtol=0.02)
    assert torch.allclose(chain.alphas_cumprod, AB[t], rtol=1e-12)  # the kept positions' ᾱ unchanged


def test_karras_spacing_with_as_many_steps_as_timesteps_keeps_every_timestep():
    """At the dense end several σ_i round to one timestep; they move up, so 1000 steps keep all 1000."""
    assert torch.equal(karras_respace(LINEAR, 1000).timesteps, torch.arange(1000))
    assert karras_respace(LINEAR, 1).timesteps.tolist() == [999]
    with pytest.raises(ValueError, match="between 1 and 1000"):
        karras_respace(LINEAR, 0)


# --- order of the ODE samplers ------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "low", "high"), [(K.EULER, 0.9, 1.1), (K.HEUN, 1.8, 2.4), (K.DPMPP_2M, 1.8, 2.4)])
def test_ode_samplers_converge_to_the_exact_transport_at_their_order(kind, low, high):
    """Karras spacing, 10/20/40/80 steps, 200 starting points: the RMS distance to the exact ODE solution falls
    as steps^−p with p ≈ 1 for Euler and ≈ 2 for Heun and DPM++(2M) (measured 0.98, 2.19, 2.05)."""
    slope, errors = _slope(kind, karras_respace)
    assert low < slope < high, (slope, errors)
    assert errors[-1] < 0.04


@pytest.mark.parametrize(("kind", "low", "high"), [(K.EULER, 0.9, 1.1), (K.HEUN, 1.8, 2.4)])
def test_euler_and_heun_keep_their_order_on_uniform_spacing(kind, low, high):
    """Measured 1.00 and 2.17. (DPM++(2M) reaches order 2 only on finer uniform chains: its first, first-order
    step spans most of log σ there.)"""
    slope, errors = _slope(kind, respace)
    assert low < slope < high, (slope, errors)


def test_heun_at_80_steps_transports_standard_noise_to_the_data_distribution():
    """N = 20 000 from x_T ~ N(0, I): mean within 4.5 SE, covariance within 3 % of the data's."""
    out = flat(sample(K.HEUN, denoiser(FULL.eps, AB), _x(20_000), karras_respace(LINEAR, 80)))
    m_hat, s_hat = empirical(out)
    assert ((m_hat - FULL.mean).abs() <= 4.5 * (FULL.cov.diagonal() / 20_000).sqrt()).all()
    assert float((s_hat - FULL.cov).norm() / FULL.cov.norm()) < 0.03


def test_euler_is_ddim_at_eta_zero_and_euler_ancestral_is_ddpm_written_in_sigma():
    """Karras et al. §3: the same steps in another coordinate; same noise, same samples to rounding."""
    chain, x = respace(LINEAR, 20), _x(64)

    def run(kind, **kw):
        return sample(kind, denoiser(FULL.eps, AB), x, chain, generator=torch.Generator().manual_seed(3), **kw)

    assert torch.allclose(run(K.EULER), run(K.DDIM), rtol=0, atol=1e-10)
    assert torch.allclose(run(K.EULER_ANCESTRAL), run(K.DDPM, variance=VarianceType.POSTERIOR), rtol=0, atol=1e-10)


def test_churn_adds_noise_only_when_set():
    chain, x = respace(LINEAR, 20), _x(64)

    def run(churn, seed):
        return sample(K.HEUN, denoiser(FULL.eps, AB), x, chain, options=SamplerOptions(churn=churn),
                      generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(0.0, 1), run(0.0, 2))
    assert (run(10.0, 1) - run(10.0, 2)).abs().min() > 0


def test_a_negative_churn_or_snr_is_refused():
    with pytest.raises(ValueError, match="churn"):
        sample(K.EULER, denoiser(FULL.eps, AB), _x(2), respace(LINEAR, 5), options=SamplerOptions(churn=-1))
    with pytest.raises(ValueError, match="signal-to-noise"):
        sample(K.PC, denoiser(FULL.eps, AB), _x(2), respace(LINEAR, 5), options=SamplerOptions(snr=-0.1))


# --- the SDE samplers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "options"), [(K.EULER_ANCESTRAL, SamplerOptions()), (K.PC, SamplerOptions()),
                                               (K.PC, SamplerOptions(snr=0.0))], ids=["euler-a", "pc", "pc-snr0"])
def test_reverse_sde_samplers_match_the_datas_mean_and_covariance(kind, options):
    """All 1000 timesteps, N = 20 000 from N(0, I): mean within 4.5 SE, covariance within 3 % of the data's
    (at 250 steps Euler-ancestral is still 3.4 % narrow: DDPM's own discretisation error)."""
    out = flat(sample(kind, denoiser(FULL.eps, AB), _x(20_000, seed=5), LINEAR, options=options,
                      generator=torch.Generator().manual_seed(6)))
    m_hat, s_hat = empirical(out)
    assert ((m_hat - FULL.mean).abs() <= 4.5 * (FULL.cov.diagonal() / 20_000).sqrt()).all()
    assert float((s_hat - FULL.cov).norm() / FULL.cov.norm()) < 0.03


def _mode_variance_error(snr: float) -> float:
    """Σ over the mixture's modes and axes of |sample variance − the mode's variance| after 20 PC steps."""
    out = flat(sample(K.PC, denoiser(MIXTURE.eps, AB), _x(8000, 2, seed=3), respace(LINEAR, 20),
                      options=SamplerOptions(snr=snr), generator=torch.Generator().manual_seed(4)))
    labels = MIXTURE.nearest(out)
    return sum(float((out[labels == k].var(0) - c.cov.diagonal()).abs().sum())
               for k, c in enumerate(MIXTURE.components))


def test_the_langevin_corrector_lowers_the_error_at_equal_step_count_on_the_mixture():
    """Three-mode mixture, 20 steps, N = 8000: the predictor alone leaves the modes too wide (error 0.43);
    the corrector at r = 0.3 brings it down by more than 15 % (measured 0.33; sampling noise ≈ 0.02)."""
    plain, corrected = _mode_variance_error(0.0), _mode_variance_error(0.3)
    assert corrected < 0.85 * plain, (plain, corrected)
