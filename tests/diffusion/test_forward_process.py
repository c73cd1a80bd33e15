"""q(x_t | x_0) and the posterior q(x_{t−1} | x_t, x_0) against their formulas."""

import torch

from studio.diffusion.forward_process import posterior_mean_variance, q_sample, q_sample_at
from studio.diffusion.schedule import linear_schedule, respace


def test_q_sample_is_sqrt_alpha_bar_x0_plus_sqrt_one_minus_alpha_bar_noise():
    x0, noise = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    abar = torch.tensor([0.9, 0.5, 0.1, 0.01])
    out = q_sample(x0, abar, noise)
    expected = abar.sqrt().view(4, 1, 1, 1) * x0 + (1 - abar).sqrt().view(4, 1, 1, 1) * noise
    assert torch.allclose(out, expected)


def test_q_sample_at_has_the_forward_process_mean_and_variance():
    """N = 200 000 draws of a constant image: mean √ᾱ·x₀ and variance 1 − ᾱ within 5 SE."""
    chain = respace(linear_schedule(), 20)
    x0 = torch.full((200_000, 1, 1, 1), 0.7, dtype=torch.float64)
    for i in (0, 7, 19):
        a = float(chain.alphas_cumprod[i])
        x = q_sample_at(x0, chain, i, generator=torch.Generator().manual_seed(i))
        assert abs(x.mean().item() - a**0.5 * 0.7) < 5 * ((1 - a) / 200_000) ** 0.5 + 1e-12
        assert abs(x.var().item() - (1 - a)) < 5 * (1 - a) * (2 / 200_000) ** 0.5 + 1e-12


def test_posterior_equals_bayes_rule_on_the_forward_process():
    """q(x_{t−1} | x_t, x_0) ∝ q(x_t | x_{t−1}) q(x_{t−1} | x_0): a product of Gaussians in x_{t−1}."""
    chain = respace(linear_schedule(), 30)
    x0, x_t = torch.tensor([0.3], dtype=torch.float64), torch.tensor([-0.8], dtype=torch.float64)
    for i in (1, 12, 29):
        a_prev, beta = chain.alphas_cumprod_prev[i], chain.betas[i]
        # q(x_t | x_{t−1}) = N(√(1−β) x_{t−1}, β) as a likelihood in x_{t−1}: precision (1−β)/β
        prec = (1 - beta) / beta + 1 / (1 - a_prev)
        mean = ((1 - beta).sqrt() / beta * x_t + a_prev.sqrt() / (1 - a_prev) * x0) / prec
        got_mean, got_var = posterior_mean_variance(chain, i, x0, x_t)
        assert torch.allclose(got_mean, mean, rtol=1e-10)
        assert torch.allclose(got_var, 1 / prec, rtol=1e-10)
