"""Step noise keyed by chain position: a step's draw depends on its seed, position and visit only."""

import torch

from studio.diffusion.chain import StepOutput
from studio.diffusion.step_noise import mix_seed, position_keyed


def _keyed(seed):
    """A keyed step that only draws noise (its output is the draw), and its generator."""
    g = torch.Generator().manual_seed(seed)
    return position_keyed(lambda denoise, x, i: StepOutput(torch.randn(3, generator=g), None), g), g


def test_a_position_draws_the_same_noise_whatever_was_drawn_before():
    run, _ = _keyed(5)
    walked = {i: run(None, None, i).x for i in (4, 3, 2, 1)}
    fork, g = _keyed(5)
    torch.randn(100, generator=g)  # draws the run never made before position 2
    assert torch.equal(fork(None, None, 2).x, walked[2]) and torch.equal(fork(None, None, 1).x, walked[1])


def test_another_seed_another_position_and_a_revisit_draw_other_noise():
    run, _ = _keyed(5)
    first, second, revisit = run(None, None, 3).x, run(None, None, 2).x, run(None, None, 3).x
    other_seed = _keyed(6)[0](None, None, 3).x
    assert not torch.equal(first, second) and not torch.equal(first, revisit)
    assert not torch.equal(first, other_seed)


def test_without_a_generator_the_step_is_left_as_it_is_and_seeds_mix_into_int64():
    def step(denoise, x, i):
        return None

    assert position_keyed(step, None) is step
    seeds = {mix_seed(s, i) for s in range(4) for i in range(50)}
    assert len(seeds) == 200 and all(0 <= s < 2**63 for s in seeds)
