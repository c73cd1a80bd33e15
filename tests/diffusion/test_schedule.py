"""Schedules and respacing match their formulas."""

import math

import pytest
import torch

from studio.core.enums import ScheduleKind
from studio.diffusion.schedule import cosine_schedule, linear_schedule, make_schedule, respace


def test_linear_schedule_runs_from_1e_4_to_0_02_over_1000_steps():
    s = linear_schedule(1000)
    assert len(s) == 1000
    assert s.betas[0].item() == pytest.approx(1e-4)
    assert s.betas[-1].item() == pytest.approx(0.02)
    assert torch.allclose(s.alphas_cumprod, torch.cumprod(1 - s.betas, 0))


def test_linear_schedule_with_other_t_keeps_the_same_overall_noise():
    """Scaling β by 1000/T keeps log ᾱ at the end of the process within 3 % (−10.33 vs −10.12)."""
    short, full = linear_schedule(250).alphas_cumprod[-1].log(), linear_schedule(1000).alphas_cumprod[-1].log()
    assert short.item() == pytest.approx(full.item(), rel=0.03)


def test_cosine_schedule_follows_the_squared_cosine_of_nichol_and_dhariwal():
    s, T = cosine_schedule(1000), 1000
    f = [math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2 for t in range(T + 1)]
    expected = torch.tensor([f[t + 1] / f[0] for t in range(T)], dtype=torch.float64)
    unclipped = s.betas < 0.999
    assert torch.allclose(s.alphas_cumprod[unclipped], expected[unclipped], rtol=1e-9)
    assert s.betas.max().item() <= 0.999


def test_make_schedule_picks_by_kind_and_t():
    assert len(make_schedule(ScheduleKind.COSINE, 400)) == 400
    assert torch.equal(make_schedule(ScheduleKind.LINEAR).betas, linear_schedule().betas)


def test_posterior_variance_is_beta_tilde():
    s = linear_schedule(1000)
    ab, ab_prev = s.alphas_cumprod, s.alphas_cumprod_prev
    assert torch.allclose(s.posterior_variance, (1 - ab_prev) / (1 - ab) * s.betas)
    assert s.posterior_variance[0].item() == 0.0


@pytest.mark.parametrize("steps", [1, 2, 10, 50, 999, 1000])
def test_respacing_keeps_alpha_bar_at_every_kept_timestep(steps):
    full = linear_schedule(1000)
    chain = respace(full, steps)
    assert len(chain) == steps
    assert torch.allclose(chain.alphas_cumprod, full.alphas_cumprod[chain.timesteps], rtol=1e-12)
    assert int(chain.timesteps[-1]) == 999
    if steps > 1:
        assert int(chain.timesteps[0]) == 0
        assert (chain.timesteps.diff() > 0).all()
    assert ((chain.betas > 0) & (chain.betas <= 1)).all()


def test_respacing_to_the_full_length_is_the_identity():
    full = cosine_schedule(1000)
    same = respace(full, 1000)
    assert torch.equal(same.timesteps, full.timesteps)
    assert torch.allclose(same.betas, full.betas, rtol=1e-12)


@pytest.mark.parametrize("steps", [0, -3, 1001])
def test_respacing_to_an_impossible_length_is_refused(steps):
    with pytest.raises(ValueError, match="steps must be between"):
        respace(linear_schedule(1000), steps)


def test_index_of_finds_a_timestep_and_refuses_a_missing_one():
    chain = respace(linear_schedule(), 10)
    assert chain.index_of(int(chain.timesteps[4])) == 4
    with pytest.raises(ValueError):
        chain.index_of(1)
