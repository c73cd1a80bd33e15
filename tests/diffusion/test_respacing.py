"""OpenAI's respacing strings, against values printed by the reference's space_timesteps."""

import pytest
import torch

from studio.diffusion.respacing import respace_to, spaced_timesteps
from studio.diffusion.schedule import cosine_schedule, linear_schedule


@pytest.mark.parametrize(("steps", "spec", "count", "head", "tail"), [
    (1000, "100", 100, [0, 10, 20, 30, 40, 50, 61, 71, 81, 91, 101, 111], [969, 979, 989, 999]),
    (1000, "fast27", 27, [0, 22, 44, 66, 88, 111, 133, 155, 177, 199, 200, 222], [600, 799, 800, 997]),
    (1000, "ddim25", 25, [0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400, 440], [840, 880, 920, 960]),
    (1000, "27", 27, [0, 38, 77, 115, 154, 192, 231, 269, 307, 346, 384, 423], [884, 922, 961, 999]),
    (4000, "250", 250, [0, 16, 32, 48, 64, 80, 96, 112, 128, 145, 161, 177], [3951, 3967, 3983, 3999]),
    (1000, "10,15,20", 45, [0, 37, 74, 111, 148, 185, 222, 259, 296, 333, 334, 358], [947, 964, 982, 999]),
    (100, "3,3", 6, [0, 24, 49, 50, 74, 99], [49, 50, 74, 99]),
])
def test_respacing_strings_keep_the_references_timesteps(steps, spec, count, head, tail):
    kept = spaced_timesteps(steps, spec)
    assert len(kept) == count and kept[:len(head)] == head and kept[-len(tail):] == tail


def test_halves_round_to_even_as_python_does():
    assert spaced_timesteps(10, "3") == [0, 4, 9]  # 4.5 → 4, where rounding half up would keep 5


@pytest.mark.parametrize(("spec", "message"), [
    ("ddim7", "cannot take exactly 7 of 10 steps with an integer stride"),
    ("11", "cannot take 11 steps from a section of 10"),
    ("fast", "is not a step count"),
    ("0", "asks for 0 steps"),
])
def test_impossible_respacings_say_why(spec, message):
    with pytest.raises(ValueError, match=message):
        spaced_timesteps(10, spec)


def test_the_spaced_chain_keeps_q_of_x_t_given_x_0_at_every_kept_step():
    full = cosine_schedule(1000)
    kept = spaced_timesteps(1000, "fast27")
    chain = respace_to(full, kept)
    assert chain.timesteps.tolist() == kept
    torch.testing.assert_close(chain.alphas_cumprod, full.alphas_cumprod[kept])
    assert respace_to(linear_schedule(10), list(range(10))).betas.allclose(linear_schedule(10).betas)
