"""SDEdit: strength 0 is the painting, strength 1 is text → image, and in between it interpolates."""

import pytest
import torch

from studio.diffusion.samplers import sample_ddim, sample_ddpm
from studio.diffusion.schedule import linear_schedule, respace
from studio.diffusion.sdedit import initial_noise, sdedit_start, sdedit_steps
from tests.diffusion.oracles import correlated_gaussian, denoiser, flat, image

SCHEDULE = linear_schedule()
DATA = correlated_gaussian(3)
DENOISE = denoiser(DATA.eps, SCHEDULE.alphas_cumprod)
PAINTING = image(torch.tensor([[2.0, -1.0, 1.5]], dtype=torch.float64).repeat(2000, 1))


def test_strength_zero_returns_the_painting_without_any_step():
    chain = respace(SCHEDULE, 30)
    x, position = sdedit_start(PAINTING, chain, 0.0, torch.Generator().manual_seed(0))
    assert position == -1 and x is PAINTING


def test_strength_one_is_text_to_image_with_the_same_seed():
    chain = respace(SCHEDULE, 30)
    g1 = torch.Generator().manual_seed(4)
    text_to_image = sample_ddpm(DENOISE, initial_noise(tuple(PAINTING.shape), g1, "cpu").double(), chain, generator=g1)
    g2 = torch.Generator().manual_seed(4)
    x, position = sdedit_start(PAINTING, chain, 1.0, g2)
    edited = sample_ddpm(DENOISE, x.double(), chain, start=position, generator=g2)
    assert position == 29
    assert torch.equal(text_to_image, edited)


def test_the_mean_distance_to_the_painting_grows_with_strength():
    chain = respace(SCHEDULE, 50)
    distances = []
    for strength in (0.1, 0.3, 0.5, 0.7, 0.9):
        g = torch.Generator().manual_seed(1)
        x, position = sdedit_start(PAINTING, chain, strength, g)
        out = sample_ddim(DENOISE, x, chain, start=position)
        distances.append(float((flat(out) - flat(PAINTING)).norm(dim=1).mean()))
    assert distances == sorted(distances), distances
    assert distances[0] < 0.5 * distances[-1]


@pytest.mark.parametrize(("strength", "steps"), [(0.0, 0), (0.5, 25), (0.62, 31), (1.0, 50)])
def test_sdedit_runs_round_strength_times_k_steps(strength, steps):
    assert sdedit_steps(50, strength) == steps
    chain = respace(SCHEDULE, 50)
    _, position = sdedit_start(PAINTING, chain, strength, torch.Generator().manual_seed(0))
    assert position == steps - 1
