"""ε, x₀ and v conversions, and the model adapter for every parameterisation and learned variance."""

import math

import pytest
import torch

from studio.core.enums import PredictionType, VarianceType
from studio.diffusion import parameterization as p
from studio.diffusion.denoiser import Prediction, abar_at, model_denoiser
from studio.diffusion.samplers import sample_ddim, sample_ddpm
from studio.diffusion.schedule import linear_schedule, respace
from studio.diffusion.variance import step_variance
from tests.diffusion.oracles import (
    F64,
    correlated_gaussian,
    flat,
    image,
    one_thread,  # noqa: F401  (autouse fixture)
)

AB = linear_schedule().alphas_cumprod
DATA = correlated_gaussian(3)


def _triple(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.randn(8, 3, 4, 4, dtype=F64, generator=g), torch.randn(8, 3, 4, 4, dtype=F64, generator=g)
    abar = torch.rand(8, 1, 1, 1, dtype=F64, generator=g) * 0.98 + 0.01
    return x0, eps, abar, abar.sqrt() * x0 + (1 - abar).sqrt() * eps


def test_conversions_between_eps_x0_and_v_round_trip():
    x0, eps, abar, x_t = _triple()
    v = p.v_from(x0, eps, abar)
    assert torch.allclose(v, abar.sqrt() * eps - (1 - abar).sqrt() * x0, rtol=1e-14)
    assert torch.allclose(p.x0_from_eps(x_t, eps, abar), x0, atol=1e-12)
    assert torch.allclose(p.eps_from_x0(x_t, x0, abar), eps, atol=1e-12)
    assert torch.allclose(p.x0_from_v(x_t, v, abar), x0, atol=1e-12)
    assert torch.allclose(p.eps_from_v(x_t, v, abar), eps, atol=1e-12)
    assert torch.allclose(p.v_from(p.x0_from_v(x_t, v, abar), p.eps_from_v(x_t, v, abar), abar), v, atol=1e-12)


def test_prediction_keeps_eps_and_x0_consistent():
    x0, eps, abar, x_t = _triple(1)
    pred = Prediction.from_eps(x_t, abar, eps)
    assert torch.allclose(pred.x0, x0, atol=1e-12)
    assert torch.allclose(Prediction.from_x0(x_t, abar, x0).eps, eps, atol=1e-12)
    moved = pred.with_x0(x0 + 1)
    assert torch.allclose(moved.eps, p.eps_from_x0(x_t, x0 + 1, abar), atol=1e-12)
    assert torch.allclose(pred.with_eps(eps * 2).x0, p.x0_from_eps(x_t, eps * 2, abar), atol=1e-12)


def _networks():
    """The exact ε* network and the x₀- and v-networks built from it."""

    def eps_net(x, t):
        return image(DATA.eps(flat(x), abar_at(AB, t, x).reshape(-1)))

    def x0_net(x, t):
        return p.x0_from_eps(x, eps_net(x, t), abar_at(AB, t, x))

    def v_net(x, t):
        abar = abar_at(AB, t, x)
        eps = eps_net(x, t)
        return p.v_from(p.x0_from_eps(x, eps, abar), eps, abar)

    return {PredictionType.EPSILON: eps_net, PredictionType.SAMPLE: x0_net, PredictionType.V: v_net}


@pytest.mark.parametrize("kind", [PredictionType.SAMPLE, PredictionType.V])
def test_every_parameterisation_gives_the_same_prediction_as_epsilon(kind):
    nets = _networks()
    x = image(torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(2)))
    t = torch.randint(1, 999, (16,), generator=torch.Generator().manual_seed(3))
    reference = model_denoiser(nets[PredictionType.EPSILON], AB, PredictionType.EPSILON)(x, t)
    other = model_denoiser(nets[kind], AB, kind)(x, t)
    assert torch.allclose(other.eps, reference.eps, atol=1e-9)
    assert torch.allclose(other.x0, reference.x0, atol=1e-9)
    assert torch.equal(other.abar, abar_at(AB, t, x)) and other.var_frac is None


@pytest.mark.parametrize("kind", [PredictionType.SAMPLE, PredictionType.V])
def test_sampling_with_any_parameterisation_gives_the_same_images(kind):
    """DDPM, 20 steps, same seed: the ε-, x₀- and v-networks of one oracle give the same samples to 1e-8."""
    chain, nets = respace(linear_schedule(), 20), _networks()
    x = image(torch.randn(64, 3, dtype=F64, generator=torch.Generator().manual_seed(4)))

    def run(k):
        denoise = model_denoiser(nets[k], AB, k)
        return sample_ddpm(denoise, x, chain, generator=torch.Generator().manual_seed(5))

    assert torch.allclose(run(kind), run(PredictionType.EPSILON), atol=1e-8)


def _learned_net(v_value: float):
    """ε* in the first three channels, a constant v in the next three."""
    eps_net = _networks()[PredictionType.EPSILON]

    def net(x, t):
        return torch.cat([eps_net(x, t), torch.full_like(x, v_value)], dim=1)

    return net


@pytest.mark.parametrize("i", [0, 1, 10, 19])
def test_learned_variance_maps_minus_one_to_beta_tilde_and_plus_one_to_beta(i):
    """σ² = exp(f log β + (1−f) log β̃), f = (v+1)/2, log β̃ clipped at position 0 (log β̃_1): v = −1 gives β̃,
    v = +1 gives β, v = 0 their geometric mean; the first half of the output is still ε."""
    chain = respace(linear_schedule(), 20)
    t = torch.full((2,), int(chain.timesteps[i]))
    x = image(torch.randn(2, 3, dtype=F64, generator=torch.Generator().manual_seed(6)))
    beta = chain.betas[i].item()
    beta_tilde = chain.posterior_variance[i if i > 0 else 1].item()
    for v, expected in ((-1.0, beta_tilde), (1.0, beta), (0.0, math.sqrt(beta * beta_tilde))):
        pred = model_denoiser(_learned_net(v), AB, PredictionType.EPSILON, VarianceType.LEARNED_RANGE)(x, t)
        assert pred.eps.shape == x.shape
        assert torch.allclose(pred.eps, _networks()[PredictionType.EPSILON](x, t))
        var = step_variance(chain, i, VarianceType.LEARNED_RANGE, pred)
        assert torch.allclose(var, torch.full_like(x, expected), rtol=1e-12)
    if i > 0:
        assert step_variance(chain, i, VarianceType.POSTERIOR, pred).reshape(-1)[0].item() == pytest.approx(beta_tilde)
        assert step_variance(chain, i, VarianceType.BETA, pred).reshape(-1)[0].item() == pytest.approx(beta)


@pytest.mark.parametrize(("v", "fixed"), [(-1.0, VarianceType.POSTERIOR), (1.0, VarianceType.BETA)])
def test_ddpm_with_learned_variance_at_the_ends_of_the_range_is_ddpm_with_fixed_variance(v, fixed):
    """Same seed, 20 steps: v ≡ −1 samples exactly as σ² = β̃ and v ≡ +1 as σ² = β (to 1e-10)."""
    chain = respace(linear_schedule(), 20)
    x = image(torch.randn(32, 3, dtype=F64, generator=torch.Generator().manual_seed(7)))
    learned = model_denoiser(_learned_net(v), AB, PredictionType.EPSILON, VarianceType.LEARNED_RANGE)
    plain = model_denoiser(_networks()[PredictionType.EPSILON], AB)
    a = sample_ddpm(learned, x, chain, variance=VarianceType.LEARNED_RANGE, generator=torch.Generator().manual_seed(8))
    b = sample_ddpm(plain, x, chain, variance=fixed, generator=torch.Generator().manual_seed(8))
    assert torch.allclose(a, b, atol=1e-10)


def test_learned_variance_without_a_variance_output_is_refused():
    chain = respace(linear_schedule(), 20)
    x = image(torch.zeros(2, 3, dtype=F64))
    pred = model_denoiser(_networks()[PredictionType.EPSILON], AB)(x, torch.full((2,), 999))
    with pytest.raises(ValueError, match="learned variance"):
        step_variance(chain, 19, VarianceType.LEARNED_RANGE, pred)


def test_ddim_ignores_the_learned_variance_channels():
    chain = respace(linear_schedule(), 20)
    x = image(torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(9)))
    learned = model_denoiser(_learned_net(0.4), AB, PredictionType.EPSILON, VarianceType.LEARNED_RANGE)
    plain = model_denoiser(_networks()[PredictionType.EPSILON], AB)
    assert torch.allclose(sample_ddim(learned, x, chain), sample_ddim(plain, x, chain), atol=1e-12)


def test_a_v_network_s_x0_stays_exact_where_the_cosine_chain_ends_at_alpha_bar_near_zero():
    """ᾱ_999 ≈ 2e-9 on the cosine schedule: x̂₀ = √ᾱ x_t − √(1−ᾱ) v is read off v directly, in float32 —
    going through ε̂ and dividing by √ᾱ would amplify float32 rounding ~2·10⁴-fold."""
    from studio.diffusion.schedule import cosine_schedule

    abar_table = cosine_schedule().alphas_cumprod.float()
    x0 = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(6)) * 2 - 1
    eps = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(7))
    t = torch.tensor([999, 998])
    abar = abar_at(abar_table, t, x0)
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    v = p.v_from(x0, eps, abar)
    pred = model_denoiser(lambda x, s: v, abar_table, PredictionType.V)(x_t, t)
    assert torch.allclose(pred.x0, x0, atol=1e-5) and torch.allclose(pred.eps, eps, atol=1e-5)
