"""Noise keyed by chain position: each step draws from the generator re-seeded for its position.

A stochastic sampler (DDPM, DDIM with η > 0, the ancestral and SDE samplers) draws fresh noise at every
step. Drawn in sequence from one generator, the noise of step i depends on every draw before it, so a run
restarted at position i from its stored x_t (a fork, with unchanged settings) would walk on with other
noise than the run did. Re-seeding the generator from (the seed it started with, position, visit) before
each step makes a step's noise a function of where it is, not of what came before: the fork repeats the
run bit for bit, and RePaint's revisits of a position (the visit count) still get fresh noise.
"""

from __future__ import annotations

from collections import Counter

import torch

from studio.diffusion.chain import Step

_MASK = 2**63 - 1
_GOLDEN = 0x9E3779B97F4A7C15  # 2⁶⁴/φ: spreads consecutive keys over the seed space (splitmix64's constant)


def mix_seed(seed: int, *keys: int) -> int:
    """A seed derived from `seed` and `keys` (splitmix64's finaliser on each), as a non-negative int64."""
    value = seed & _MASK
    for key in keys:
        value = (value + (key + 1) * _GOLDEN) & (2**64 - 1)
        value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        value ^= value >> 31
    return value & _MASK


def position_keyed(step: Step, generator: torch.Generator | None) -> Step:
    """`step`, with `generator` re-seeded from (its seed now, position, visit) before each call."""
    if generator is None:
        return step
    base = generator.initial_seed()
    visits: Counter[int] = Counter()

    def keyed(denoise, x: torch.Tensor, i: int):
        generator.manual_seed(mix_seed(base, i, visits[i]))
        visits[i] += 1
        return step(denoise, x, i)

    return keyed
