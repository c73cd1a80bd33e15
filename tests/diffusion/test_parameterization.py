"""ε, x₀ and v conversions, and the model adapter for each parameterisation."""

import pytest
import torch

from studio.core.enums import PredictionType, VarianceType
from studio.diffusion import parameterization as p
from studio.diffusion.denoiser import abar_at, model_denoiser
from studio.diffusion.guidance import step_variance
from studio.diffusion.schedule import linear_schedule, respace
from tests.diffusion.oracles import correlated_gaussian, flat, image

AB = linear_schedule().alphas_cumprod


def test_conversions_round_trip():
    x0, eps = torch.randn(8, 3, 4, 4, dtype=torch.float64), torch.randn(8, 3, 4, 4, dtype=torch.float64)
    abar = torch.rand(8, 1, 1, 1, dtype=torch.float64) * 0.98 + 0.01
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    v = p.v_from(x0, eps, abar)
    assert torch.allclose(p.x0_from_eps(x_t, eps, abar), x0)
    assert torch.allclose(p.eps_from_x0(x_t, x0, abar), eps)
    assert torch.allclose(p.x0_from_v(x_t, v, abar), x0)
    assert torch.allclose(p.eps_from_v(x_t, v, abar), eps)


@pytest.mark.parametrize("kind", [PredictionType.SAMPLE, PredictionType.V])
def test_every_parameterisation_gives_the_same_prediction_as_epsilon(kind):
    data = correlated_gaussian(3)

    def eps_net(x, t):
        return image(data.eps(flat(x), abar_at(AB, t, x).reshape(-1)))

    def other_net(x, t):
        abar = abar_at(AB, t, x)
        eps = eps_net(x, t)
        x0 = p.x0_from_eps(x, eps, abar)
        return x0 if kind is PredictionType.SAMPLE else p.v_from(x0, eps, abar)

    x = image(torch.randn(16, 3, dtype=torch.float64))
    t = torch.randint(1, 999, (16,))
    reference = model_denoiser(eps_net, AB, PredictionType.EPSILON)(x, t)
    other = model_denoiser(other_net, AB, kind)(x, t)
    assert torch.allclose(other.eps, reference.eps, atol=1e-9)
    assert torch.allclose(other.x0, reference.x0, atol=1e-9)


def test_learned_variance_interpolates_between_beta_tilde_and_beta():
    chain = respace(linear_schedule(), 20)
    i = 10
    t = torch.full((3,), int(chain.timesteps[i]))

    def net(x, t):
        v = torch.tensor([-1.0, 0.0, 1.0], dtype=x.dtype).view(3, 1, 1, 1).expand_as(x)
        return torch.cat([torch.zeros_like(x), v], dim=1)

    pred = model_denoiser(net, AB, PredictionType.EPSILON, VarianceType.LEARNED_RANGE)(
        torch.zeros(3, 1, 1, 1, dtype=torch.float64), t)
    var = step_variance(chain, i, VarianceType.LEARNED_RANGE, pred).reshape(-1)
    lo, hi = chain.posterior_variance[i], chain.betas[i]
    assert torch.allclose(var[0], lo) and torch.allclose(var[2], hi)
    assert torch.allclose(var[1], (lo * hi).sqrt())  # halfway in log space
