"""Schedules and respacing match their formulas (DESIGN §4; Ho et al. 2020, Nichol & Dhariwal 2021)."""

import math

import pytest
import torch

from studio.core.enums import ScheduleKind
from studio.diffusion.schedule import Schedule, cosine_schedule, linear_schedule, make_schedule, respace
from tests.diffusion.oracles import one_thread  # noqa: F401  (autouse fixture)


def test_linear_schedule_runs_evenly_from_1e_4_to_0_02_over_1000_steps():
    s = linear_schedule(1000)
    assert len(s) == 1000 and s.num_train_timesteps == 1000
    assert s.betas.dtype == torch.float64
    assert s.betas[0].item() == pytest.approx(1e-4, rel=1e-12)
    assert s.betas[-1].item() == pytest.approx(0.02, rel=1e-12)
    assert torch.allclose(s.betas.diff(), torch.full((999,), (0.02 - 1e-4) / 999, dtype=torch.float64))
    assert torch.equal(s.timesteps, torch.arange(1000))
    assert torch.allclose(s.alphas_cumprod, torch.cumprod(1 - s.betas, 0), rtol=1e-14)
    assert s.alphas_cumprod[-1].item() == pytest.approx(4.04e-5, rel=0.01)  # x_T is almost pure noise


def test_linear_schedule_with_another_t_keeps_the_same_overall_noise():
    """β scaled by 1000/T: log ᾱ at the end of the process within 3 % (−10.33 at T = 250 vs −10.12)."""
    short, full = linear_schedule(250).alphas_cumprod[-1].log(), linear_schedule(1000).alphas_cumprod[-1].log()
    assert short.item() == pytest.approx(full.item(), rel=0.03)
    assert linear_schedule(250).betas[0].item() == pytest.approx(4e-4)


def test_cosine_schedule_follows_the_squared_cosine_of_nichol_and_dhariwal():
    """ᾱ_t = f(t + 1)/f(0) with f(u) = cos²((u/T + 0.008)/1.008 · π/2), betas clipped at 0.999."""
    s, T = cosine_schedule(1000), 1000
    f = [math.cos((u / T + 0.008) / 1.008 * math.pi / 2) ** 2 for u in range(T + 1)]
    expected = torch.tensor([f[t + 1] / f[0] for t in range(T)], dtype=torch.float64)
    unclipped = s.betas < 0.999
    assert int((~unclipped).sum()) == 1  # only the last beta hits the clip
    assert torch.allclose(s.alphas_cumprod[unclipped], expected[unclipped], rtol=1e-9)
    assert s.betas.max().item() == pytest.approx(0.999)
    assert s.alphas_cumprod[499].item() == pytest.approx(f[500] / f[0], rel=1e-12)  # ≈ 0.49 half way


def test_make_schedule_picks_by_kind_and_length_and_refuses_an_empty_one():
    assert len(make_schedule(ScheduleKind.COSINE, 400)) == 400
    assert torch.equal(make_schedule(ScheduleKind.LINEAR).betas, linear_schedule().betas)
    assert torch.equal(make_schedule(ScheduleKind.COSINE, 50).betas, cosine_schedule(50).betas)
    with pytest.raises(ValueError):
        make_schedule(ScheduleKind.LINEAR, 0)


def test_a_schedule_refuses_betas_outside_zero_one_and_mismatched_timesteps():
    with pytest.raises(ValueError, match="beta"):
        Schedule(torch.tensor([0.1, 0.0], dtype=torch.float64), torch.arange(2), 2)
    with pytest.raises(ValueError, match="beta"):
        Schedule(torch.tensor([0.1, 1.5], dtype=torch.float64), torch.arange(2), 2)
    with pytest.raises(ValueError, match="same length"):
        Schedule(torch.tensor([0.1, 0.2], dtype=torch.float64), torch.arange(3), 3)


def _linear_betas(T=1000):
    """Ho et al.'s linear betas written out in plain Python floats, independent of the code under test."""
    return [1e-4 + i * (0.02 - 1e-4) / (T - 1) for i in range(T)]


@pytest.mark.parametrize("schedule", [linear_schedule(1000), cosine_schedule(1000), cosine_schedule(50)],
                         ids=["linear", "cosine", "cosine-50"])
def test_alpha_bar_falls_strictly_from_one_towards_zero(schedule):
    """Each step adds noise: 1 = ᾱ_{−1} > ᾱ_0 > … > ᾱ_{T−1} > 0, and log SNR falls with it."""
    ab, ab_prev = schedule.alphas_cumprod, schedule.alphas_cumprod_prev
    assert ab_prev[0].item() == 1.0 and torch.equal(ab_prev[1:], ab[:-1])
    assert (ab.diff() < 0).all() and ab[0].item() < 1.0 and ab[-1].item() > 0.0
    assert (schedule.log_snr.diff() < 0).all()


def test_linear_alpha_bar_at_the_end_is_the_product_of_one_minus_beta_computed_independently():
    """∏(1 − β_t) over T = 1000, β from 1e-4 to 0.02, in float64 outside torch: ≈ 4.04e-5."""
    expected = math.prod(1.0 - beta for beta in _linear_betas())
    assert expected == pytest.approx(4.036e-5, rel=1e-3)
    assert linear_schedule(1000).alphas_cumprod[-1].item() == pytest.approx(expected, rel=1e-12)
    assert linear_schedule(1000).alphas_cumprod[0].item() == pytest.approx(1 - 1e-4, rel=1e-15)


def test_the_posterior_variance_is_the_conditional_variance_of_the_joint_gaussian():
    """Given x_0, x_{t−1} = √ᾱ_{t−1} x_0 + √v ε₁ (v = 1 − ᾱ_{t−1}) and x_t = √α_t x_{t−1} + √β_t ε₂ are
    jointly Gaussian; Var(x_{t−1} | x_t, x_0) is the Schur complement v − α_t v² / (α_t v + β_t). At t = 0
    x_{t−1} is x_0 itself: no variance. It never exceeds the forward step's β_t."""
    betas = _linear_betas()
    alpha_bar, expected = 1.0, []
    for beta in betas:
        v = 1.0 - alpha_bar
        expected.append(v - (1 - beta) * v * v / ((1 - beta) * v + beta))
        alpha_bar *= 1.0 - beta
    s = linear_schedule(1000)
    got = s.posterior_variance
    assert got[0].item() == 0.0
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-9, atol=0)
    assert (got <= s.betas).all()
    clipped = s.posterior_log_variance_clipped  # improved-diffusion: log β̃_1 stands in for log 0 at t = 0
    assert torch.isfinite(clipped).all() and clipped[0].item() == clipped[1].item()
    assert torch.allclose(clipped[1:], torch.tensor(expected[1:], dtype=torch.float64).log(), rtol=1e-9)


def test_log_snr_is_the_logit_of_alpha_bar():
    """σ(log SNR) = ᾱ; at t = 0 of the linear schedule ᾱ = 1 − 1e-4, so log SNR = log(9999) ≈ 9.21."""
    for schedule in (linear_schedule(1000), cosine_schedule(1000)):
        assert torch.allclose(torch.sigmoid(schedule.log_snr), schedule.alphas_cumprod, rtol=1e-9, atol=0)
    assert linear_schedule(1000).log_snr[0].item() == pytest.approx(math.log(9999), rel=1e-9)


@pytest.mark.parametrize("steps", [1, 2, 10, 50, 250, 999, 1000])
def test_respacing_keeps_alpha_bar_at_every_kept_timestep(steps):
    full = linear_schedule(1000)
    chain = respace(full, steps)
    assert len(chain) == steps and chain.num_train_timesteps == 1000
    assert torch.allclose(chain.alphas_cumprod, full.alphas_cumprod[chain.timesteps], rtol=1e-12)
    assert int(chain.timesteps[-1]) == 999
    if steps > 1:
        assert int(chain.timesteps[0]) == 0
        assert (chain.timesteps.diff() > 0).all()
    assert ((chain.betas > 0) & (chain.betas <= 1)).all()


def test_respaced_betas_are_one_minus_the_ratio_of_kept_alpha_bars():
    """β_i = 1 − ᾱ(t_i)/ᾱ(t_{i−1}) and β_0 = 1 − ᾱ(t_0); the 50 kept timesteps are round(i·999/49)."""
    full = cosine_schedule(1000)
    chain = respace(full, 50)
    expected_t = torch.tensor([round(i * 999 / 49) for i in range(50)])
    assert torch.equal(chain.timesteps, expected_t)
    kept = full.alphas_cumprod[expected_t]
    assert torch.allclose(chain.betas[1:], 1 - kept[1:] / kept[:-1], rtol=1e-12)
    assert chain.betas[0].item() == pytest.approx(1 - kept[0].item(), rel=1e-12)


def test_respacing_a_respaced_chain_keeps_the_original_alpha_bar_and_timesteps():
    full = linear_schedule(1000)
    coarse = respace(respace(full, 100), 10)
    assert set(coarse.timesteps.tolist()) <= set(respace(full, 100).timesteps.tolist())
    assert torch.allclose(coarse.alphas_cumprod, full.alphas_cumprod[coarse.timesteps], rtol=1e-12)


def test_respacing_to_the_full_length_is_the_identity_and_leaves_the_original_alone():
    full = cosine_schedule(1000)
    before = full.betas.clone()
    same = respace(full, 1000)
    assert torch.equal(same.timesteps, full.timesteps)
    assert torch.allclose(same.betas, full.betas, rtol=1e-12)
    respace(full, 10)
    assert torch.equal(full.betas, before)


@pytest.mark.parametrize("steps", [0, -3, 1001])
def test_respacing_to_an_impossible_length_is_refused(steps):
    with pytest.raises(ValueError, match="steps must be between"):
        respace(linear_schedule(1000), steps)


def test_index_of_finds_a_timestep_and_refuses_a_missing_one():
    chain = respace(linear_schedule(), 10)
    assert chain.index_of(int(chain.timesteps[4])) == 4
    with pytest.raises(ValueError, match="not in this chain"):
        chain.index_of(1)


def test_scaled_linear_is_latent_diffusions_schedule():
    from studio.diffusion.schedule import scaled_linear_schedule

    betas = scaled_linear_schedule().betas
    assert betas[0].item() == pytest.approx(0.00085) and betas[-1].item() == pytest.approx(0.012)
    root = 0.00085**0.5 + (0.012**0.5 - 0.00085**0.5) * 500 / 999
    assert betas[500].item() == pytest.approx(root**2, rel=1e-12)  # √β is linear in t
    # ᾱ_T of SD 1.x's chain, as diffusers' DDPMScheduler(beta_schedule="scaled_linear") gives it
    assert make_schedule(ScheduleKind.SCALED_LINEAR).alphas_cumprod[-1].item() == pytest.approx(0.0046601, rel=1e-4)
