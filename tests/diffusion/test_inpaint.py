"""Inpainting against the analytic conditional of correlated Gaussian data."""

import torch

from studio.diffusion.inpaint import (
    composite,
    forward_jump,
    mask_channels,
    repaint_positions,
    replace_known,
)
from studio.diffusion.samplers import ddpm_step, run_chain
from studio.diffusion.schedule import linear_schedule, respace
from tests.diffusion.oracles import correlated_gaussian, denoiser, empirical, image

SCHEDULE = linear_schedule()
DATA = correlated_gaussian(4, seed=3, scale=0.7)
KNOWN, UNKNOWN = [0, 1], [2, 3]
X_K = torch.tensor([1.0, -0.5], dtype=torch.float64)


def analytic_conditional():
    """N(μ_u + Σ_uk Σ_kk⁻¹ (x_k − μ_k), Σ_uu − Σ_uk Σ_kk⁻¹ Σ_ku)."""
    s, mu = DATA.cov, DATA.mean
    s_uk, s_kk, s_uu = s[UNKNOWN][:, KNOWN], s[KNOWN][:, KNOWN], s[UNKNOWN][:, UNKNOWN]
    mean = mu[UNKNOWN] + s_uk @ torch.linalg.solve(s_kk, X_K - mu[KNOWN])
    return mean, s_uu - s_uk @ torch.linalg.solve(s_kk, s_uk.T)


def kl(m1, s1, m0, s0):
    """KL(N(m0, S0) ‖ N(m1, S1)): how far the samples' Gaussian is from the target."""
    inv = torch.linalg.inv(s1)
    d = m1 - m0
    return float(0.5 * (torch.trace(inv @ s0) + d @ inv @ d - len(m0) + torch.logdet(s1) - torch.logdet(s0)))


def inpaint(steps, jump, resample, n=8000, seed=1):
    known = torch.zeros(1, 4, 1, 1, dtype=torch.float64)
    known[0, KNOWN, 0, 0] = X_K
    mask = torch.zeros(1, 4, 1, 1, dtype=torch.float64)
    mask[0, UNKNOWN, 0, 0] = 1.0
    chain = respace(SCHEDULE, steps)
    g = torch.Generator().manual_seed(seed)
    x = image(torch.randn(n, 4, dtype=torch.float64, generator=g))
    denoise = replace_known(denoiser(DATA.eps, SCHEDULE.alphas_cumprod), known, mask, SCHEDULE.alphas_cumprod, g)
    positions = repaint_positions(steps - 1, jump, resample)
    out = run_chain(denoise, ddpm_step(chain, generator=g), x, chain, positions, renoise=forward_jump(chain, g))
    return composite(out, known, mask), known


def test_known_pixels_are_kept_exactly():
    out, known = inpaint(20, 1, 1, n=100)
    assert torch.equal(out[:, KNOWN], known[:, KNOWN].expand(100, -1, -1, -1))


def test_replacement_approaches_the_analytic_conditional_and_repaint_gets_closer():
    """N = 8000, 100 steps. Measured KL: replacement ≈ 0.097, RePaint (jump 5, resample 5) ≈ 0.032;
    replacement is known to be biased (it never lets the known pixels inform the early steps)."""
    mean, cov = analytic_conditional()
    replaced, _ = inpaint(100, 1, 1)
    repainted, _ = inpaint(100, 5, 5)
    m1, c1 = empirical(replaced)
    m2, c2 = empirical(repainted)
    kl_replace = kl(mean, cov, m1[UNKNOWN], c1[UNKNOWN][:, UNKNOWN])
    kl_repaint = kl(mean, cov, m2[UNKNOWN], c2[UNKNOWN][:, UNKNOWN])
    unconditional = kl(mean, cov, DATA.mean[UNKNOWN], DATA.cov[UNKNOWN][:, UNKNOWN])
    assert kl_replace < 0.2 < unconditional
    assert kl_repaint < 0.5 * kl_replace


def test_repaint_positions_descend_with_jumps_back_up():
    assert repaint_positions(5, 1, 1) == [5, 4, 3, 2, 1, 0]
    plan = repaint_positions(5, 2, 2)
    assert plan == [5, 4, 5, 4, 3, 2, 3, 2, 1, 0]
    assert plan[-1] == 0 and len(repaint_positions(99, 5, 5)) == 100 + 19 * 4 * 5


def test_the_forward_jump_has_the_forward_process_statistics():
    chain = respace(SCHEDULE, 50)
    x = torch.full((100_000, 1, 1, 1), 0.5, dtype=torch.float64)
    up = forward_jump(chain, torch.Generator().manual_seed(0))(x, 10, 20)
    ratio = float(chain.alphas_cumprod[20] / chain.alphas_cumprod[10])
    assert abs(up.mean().item() - ratio**0.5 * 0.5) < 0.01
    assert abs(up.var().item() - (1 - ratio)) < 0.01


def test_mask_channels_come_as_mask_then_masked_image():
    known = torch.rand(2, 3, 4, 4) * 2 - 1
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    extra = mask_channels(known, mask)
    assert extra.shape == (2, 4, 4, 4)
    assert torch.equal(extra[:, :1], mask.expand(2, 1, 4, 4))
    assert torch.equal(extra[:, 1:, 2:], known[:, :, 2:]) and not extra[:, 1:, :2].any()
