"""The strength preview shows exactly where the strokes → image run starts."""

import math

import numpy as np
import torch

from studio.core.enums import ScheduleKind
from studio.diffusion.schedule import make_schedule, respace
from studio.diffusion.sdedit import sdedit_start
from studio.engine.forward_preview import alpha_bar_at_strength, noised_preview


def test_the_preview_start_equals_the_runs_start_for_every_strength_and_step_count():
    schedule = make_schedule(ScheduleKind.LINEAR, 1000)
    log_snr = [float(v) for v in torch.log(schedule.alphas_cumprod / (1 - schedule.alphas_cumprod))]
    painting = torch.zeros(1, 3, 2, 2)
    mismatches = []
    for steps in range(1, 101):
        chain = respace(schedule, steps)
        timesteps = [int(t) for t in chain.timesteps]
        for hundredths in range(101):
            strength = hundredths / 100
            _, position = sdedit_start(painting, chain, strength, torch.Generator().manual_seed(0))
            run_t0 = timesteps[position] if position >= 0 else 0
            preview_t0, abar = alpha_bar_at_strength(log_snr, timesteps, strength)
            if preview_t0 != run_t0:
                mismatches.append((steps, strength, preview_t0, run_t0))
            elif position >= 0:
                assert math.isclose(abar, float(chain.alphas_cumprod[position]), rel_tol=1e-4)
    assert mismatches == []


def test_the_preview_at_strength_zero_is_the_painting_itself():
    painting = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.array_equal(noised_preview(painting, 1.0), painting)
