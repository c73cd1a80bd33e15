"""q(x_t | x_0) and the posterior q(x_{t−1} | x_t, x_0) against their formulas (DESIGN §4)."""

import math

import pytest
import torch

from studio.diffusion.forward_process import (
    per_sample,
    posterior_coefficients,
    posterior_mean_variance,
    q_sample,
    q_sample_at,
)
from studio.diffusion.schedule import linear_schedule, respace
from tests.diffusion.oracles import one_thread  # noqa: F401  (autouse fixture)

F64 = torch.float64


def test_q_sample_is_sqrt_alpha_bar_x0_plus_sqrt_one_minus_alpha_bar_noise():
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 3, 2, 2, dtype=F64, generator=g), torch.randn(4, 3, 2, 2, dtype=F64, generator=g)
    abar = torch.tensor([0.9, 0.5, 0.1, 0.01], dtype=F64)
    out = q_sample(x0, abar, noise)
    expected = abar.sqrt().view(4, 1, 1, 1) * x0 + (1 - abar).sqrt().view(4, 1, 1, 1) * noise
    assert torch.allclose(out, expected, rtol=1e-15)
    scalar = q_sample(x0, torch.tensor(0.3, dtype=F64), noise)  # one ᾱ for the whole batch
    assert torch.allclose(scalar, math.sqrt(0.3) * x0 + math.sqrt(0.7) * noise, rtol=1e-15)
    assert per_sample(abar, x0).shape == (4, 1, 1, 1)


def test_q_sample_at_has_the_forward_process_mean_and_variance():
    """N = 200 000 draws of a constant image: mean √ᾱ·x₀ and variance 1 − ᾱ within 5 SE
    (SE = √((1−ᾱ)/N) and (1−ᾱ)√(2/N))."""
    n = 200_000
    chain = respace(linear_schedule(), 20)
    x0 = torch.full((n, 1, 1, 1), 0.7, dtype=F64)
    for i in (0, 7, 19):
        a = float(chain.alphas_cumprod[i])
        x = q_sample_at(x0, chain, i, generator=torch.Generator().manual_seed(i))
        assert x.dtype == F64
        assert abs(x.mean().item() - math.sqrt(a) * 0.7) < 5 * math.sqrt((1 - a) / n)
        assert abs(x.var().item() - (1 - a)) < 5 * (1 - a) * math.sqrt(2 / n)


def test_q_sample_at_is_reproducible_from_the_generator_seed():
    chain, x0 = respace(linear_schedule(), 20), torch.zeros(8, 3, 1, 1, dtype=F64)
    a = q_sample_at(x0, chain, 5, generator=torch.Generator().manual_seed(3))
    b = q_sample_at(x0, chain, 5, generator=torch.Generator().manual_seed(3))
    c = q_sample_at(x0, chain, 5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("i", [1, 10, 500, 999])
def test_posterior_is_the_design_formula(i):
    """mean = √ᾱ_{t−1} β_t/(1−ᾱ_t)·x₀ + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t)·x_t, variance β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t."""
    s = linear_schedule()
    g = torch.Generator().manual_seed(i)
    x0, x_t = torch.randn(5, 3, 1, 1, dtype=F64, generator=g), torch.randn(5, 3, 1, 1, dtype=F64, generator=g)
    betas = s.betas.tolist()
    ab = 1.0
    for b in betas[: i + 1]:
        ab_prev, ab = ab, ab * (1 - b)
    beta = betas[i]
    mean, var = posterior_mean_variance(s, i, x0, x_t)
    expected = math.sqrt(ab_prev) * beta / (1 - ab) * x0 + math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab) * x_t
    assert torch.allclose(mean, expected, rtol=1e-10)
    assert var.item() == pytest.approx((1 - ab_prev) / (1 - ab) * beta, rel=1e-10)
    c0, ct = posterior_coefficients(s, i)
    assert torch.allclose(mean, float(c0) * x0 + float(ct) * x_t, rtol=1e-14)


def test_posterior_at_the_first_position_returns_x0_with_zero_variance():
    s = linear_schedule()
    x0, x_t = torch.full((2, 1, 1, 1), 0.3, dtype=F64), torch.full((2, 1, 1, 1), -2.0, dtype=F64)
    mean, var = posterior_mean_variance(s, 0, x0, x_t)
    assert torch.allclose(mean, x0) and var.item() == 0.0


def test_posterior_equals_bayes_rule_on_the_forward_process():
    """q(x_{t−1} | x_t, x₀) ∝ q(x_t | x_{t−1}) q(x_{t−1} | x₀): a product of Gaussians in x_{t−1} with
    precision (1−β)/β + 1/(1−ᾱ_{t−1}), on a respaced chain (its own β_i)."""
    chain = respace(linear_schedule(), 30)
    x0, x_t = torch.tensor([0.3], dtype=F64), torch.tensor([-0.8], dtype=F64)
    for i in (1, 12, 29):
        a_prev, beta = chain.alphas_cumprod_prev[i], chain.betas[i]
        prec = (1 - beta) / beta + 1 / (1 - a_prev)
        mean = ((1 - beta).sqrt() / beta * x_t + a_prev.sqrt() / (1 - a_prev) * x0) / prec
        got_mean, got_var = posterior_mean_variance(chain, i, x0, x_t)
        assert torch.allclose(got_mean, mean, rtol=1e-10)
        assert torch.allclose(got_var, 1 / prec, rtol=1e-10)


def test_sampling_the_posterior_from_q_t_gives_q_t_minus_one():
    """x_t ~ q(x_t | x₀), then x_{t−1} ~ q(x_{t−1} | x_t, x₀) is distributed as q(x_{t−1} | x₀):
    N = 200 000, mean and variance within 5 SE, at three positions of a 20-step chain."""
    n, chain = 200_000, respace(linear_schedule(), 20)
    x0 = torch.full((n, 1, 1, 1), -0.4, dtype=F64)
    for i in (1, 8, 19):
        g = torch.Generator().manual_seed(100 + i)
        x_t = q_sample_at(x0, chain, i, generator=g)
        mean, var = posterior_mean_variance(chain, i, x0, x_t)
        x_prev = mean + var.sqrt() * torch.randn(x0.shape, dtype=F64, generator=g)
        a = float(chain.alphas_cumprod[i - 1])
        assert abs(x_prev.mean().item() - math.sqrt(a) * -0.4) < 5 * math.sqrt((1 - a) / n)
        assert abs(x_prev.var().item() - (1 - a)) < 5 * (1 - a) * math.sqrt(2 / n)
