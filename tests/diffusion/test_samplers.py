"""Samplers against closed forms: the exact discrete chain, the data, a mixture's mode weights."""

import pytest
import torch

from studio.core.enums import VarianceType
from studio.diffusion.samplers import SamplingCancelled, sample_ddim, sample_ddpm
from studio.diffusion.schedule import cosine_schedule, linear_schedule, respace
from tests.diffusion.chain_reference import chain_moments
from tests.diffusion.oracles import Gaussian, Mixture, correlated_gaussian, denoiser, empirical, image

N = 20_000  # samples per statistical test
DATA = correlated_gaussian(3)


def _draw(kind: str, chain, *, eta=0.0, variance=VarianceType.POSTERIOR, seed=1, data=DATA, n=N):
    full = linear_schedule()
    x_T = image(torch.randn(n, data.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))
    denoise = denoiser(data.eps, full.alphas_cumprod)
    g = torch.Generator().manual_seed(seed + 1)
    if kind == "ddpm":
        return sample_ddpm(denoise, x_T, chain, variance=variance, generator=g)
    return sample_ddim(denoise, x_T, chain, eta=eta, generator=g)


def _assert_moments_match(samples, mean, cov, n=N):
    """Within 4.5 standard errors: SE(mean_i) = √(S_ii/N), SE(cov_ij) = √((S_ii S_jj + S_ij²)/N)."""
    m_hat, s_hat = empirical(samples)
    se_mean = (cov.diagonal() / n).sqrt()
    var = cov.diagonal()
    se_cov = ((var[:, None] * var[None, :] + cov**2) / n).sqrt()
    assert ((m_hat - mean).abs() <= 4.5 * se_mean).all(), (m_hat, mean)
    assert ((s_hat - cov).abs() <= 4.5 * se_cov).all(), (s_hat, cov)


CASES = [
    ("ddpm", 1000, 0.0, VarianceType.POSTERIOR),
    ("ddpm", 50, 0.0, VarianceType.POSTERIOR),
    ("ddpm", 50, 0.0, VarianceType.BETA),
    ("ddim", 50, 0.0, VarianceType.POSTERIOR),
    ("ddim", 50, 1.0, VarianceType.POSTERIOR),
]


@pytest.mark.parametrize(("kind", "steps", "eta", "variance"), CASES)
def test_sampler_output_has_the_exact_mean_and_covariance_of_its_discrete_chain(kind, steps, eta, variance):
    chain = respace(linear_schedule(), steps)
    samples = _draw(kind, chain, eta=eta, variance=variance)
    mean, cov = chain_moments(DATA, chain.alphas_cumprod.tolist(), kind, eta=eta,
                              variance="beta" if variance is VarianceType.BETA else "posterior")
    _assert_moments_match(samples, mean, cov)


@pytest.mark.parametrize(("kind", "steps", "eta", "variance"), CASES)
def test_sampler_output_matches_the_data_mean_and_covariance(kind, steps, eta, variance):
    """1000-step chains land within 1 % of Σ (relative Frobenius) and 50-step ones within 13 %
    on the linear schedule — their true discretisation error — plus sampling error (N = 20 000)."""
    chain = respace(linear_schedule(), steps)
    m_hat, s_hat = empirical(_draw(kind, chain, eta=eta, variance=variance))
    tolerance = 0.01 if steps == 1000 else 0.13
    assert (s_hat - DATA.cov).norm() / DATA.cov.norm() < tolerance + 0.03
    assert (m_hat - DATA.mean).abs().max() < 0.05


@pytest.mark.parametrize(("kind", "eta"), [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 1.0)])
def test_the_chain_approaches_the_data_as_steps_grow(kind, eta):
    errors = []
    for steps in (25, 100, 400):
        chain = respace(cosine_schedule(), steps)
        _, cov = chain_moments(DATA, chain.alphas_cumprod.tolist(), kind, eta=eta)
        errors.append(float((cov - DATA.cov).norm() / DATA.cov.norm()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02


def test_ddpm_recovers_the_mode_weights_of_a_three_component_mixture():
    eye = torch.eye(2, dtype=torch.float64)
    mixture = Mixture(
        torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64),
        (Gaussian(torch.tensor([-2.0, 0.0], dtype=torch.float64), 0.1 * eye),
         Gaussian(torch.tensor([2.0, 0.0], dtype=torch.float64), 0.2 * eye),
         Gaussian(torch.tensor([0.0, 2.5], dtype=torch.float64), 0.1 * eye)),
    )
    n = 6000  # SE of a weight ≤ √(0.25/6000) ≈ 0.0065
    x = _draw("ddpm", respace(linear_schedule(), 250), data=mixture_as_data(mixture), n=n)
    counts = torch.bincount(mixture.nearest(x.reshape(n, 2)), minlength=3).double() / n
    assert torch.allclose(counts, mixture.weights, atol=0.03), counts


def mixture_as_data(mixture: Mixture):
    """Give a mixture the two attributes `_draw` uses."""

    class _Data:
        dim = 2
        eps = staticmethod(mixture.eps)

    return _Data()


def test_same_seed_gives_identical_samples_and_another_seed_does_not():
    chain = respace(linear_schedule(), 20)
    a = _draw("ddpm", chain, n=64, seed=5)
    b = _draw("ddpm", chain, n=64, seed=5)
    c = _draw("ddpm", chain, n=64, seed=6)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_callback_sees_every_step_in_order_with_descending_timesteps():
    chain = respace(linear_schedule(), 10)
    seen = []
    x = image(torch.randn(4, 3, dtype=torch.float64))
    sample_ddim(denoiser(DATA.eps, linear_schedule().alphas_cumprod), x, chain, callback=seen.append)
    assert [s.step for s in seen] == list(range(10))
    assert [s.index for s in seen] == list(range(9, -1, -1))
    assert [s.t for s in seen] == chain.timesteps.flip(0).tolist()
    assert all(s.total == 10 and s.x0.shape == x.shape for s in seen)


def test_start_runs_only_the_remaining_positions():
    chain = respace(linear_schedule(), 10)
    seen = []
    x = image(torch.randn(4, 3, dtype=torch.float64))
    sample_ddpm(denoiser(DATA.eps, linear_schedule().alphas_cumprod), x, chain, start=3,
                generator=torch.Generator().manual_seed(0), callback=seen.append)
    assert [s.index for s in seen] == [3, 2, 1, 0]


class _CancelAfter:
    def __init__(self, steps):
        self.steps, self.calls = steps, 0

    def is_set(self):
        self.calls += 1
        return self.calls > self.steps


def test_cancel_stops_before_the_next_step_and_keeps_the_last_prediction():
    chain = respace(linear_schedule(), 10)
    seen = []
    x = image(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(SamplingCancelled) as info:
        sample_ddim(denoiser(DATA.eps, linear_schedule().alphas_cumprod), x, chain,
                    callback=seen.append, cancel=_CancelAfter(4))
    assert info.value.step == 4 and len(seen) == 4
    assert torch.equal(info.value.x0, seen[-1].x0)


def test_a_start_outside_the_chain_is_refused():
    chain = respace(linear_schedule(), 10)
    with pytest.raises(ValueError, match="outside the chain"):
        sample_ddim(denoiser(DATA.eps, linear_schedule().alphas_cumprod), torch.zeros(1, 3, 1, 1), chain, start=10)
