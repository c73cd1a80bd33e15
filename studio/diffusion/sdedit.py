"""SDEdit (Meng et al. 2022): start the reverse chain part-way, from the forward-noised painting.

With a K-step chain and strength s ∈ [0, 1], SDEdit runs k = round(s·K) steps: it q-samples the
painting at chain position k − 1, x = √ᾱ_{k−1} x_paint + √(1−ᾱ_{k−1}) z, and samples down from there.
Strength 0 returns the painting untouched (no denoiser call); strength 1 starts from pure noise x_T
drawn by `initial_noise`, exactly as text → image does, so both give the same pixels for one seed.

`sdedit` does the whole run and is what the engine calls; `sdedit_steps` is also what the window's
strength preview calls, so the preview's t₀ is the run's.
"""

from __future__ import annotations

import math

import torch

from studio.diffusion.chain import Callback, CancelToken, Step, descending, run_chain
from studio.diffusion.denoiser import Denoiser
from studio.diffusion.forward_process import initial_noise, q_sample, randn_like
from studio.diffusion.schedule import Schedule


def sdedit_steps(num_positions: int, strength: float) -> int:
    """How many steps of a K-step chain SDEdit runs: round(strength · K), halves rounded up.

    (Python's `round` would send 2.5 to 2; a slider at 0.5 of 5 steps should run 3.)
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength}")
    # The 1e-9 absorbs float error such as 0.62·50 = 31.000000000000004 or 0.3·5 = 1.4999999999999998.
    return min(num_positions, math.floor(strength * num_positions + 0.5 + 1e-9))


def sdedit_start(painting: torch.Tensor, chain: Schedule, strength: float,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, int]:
    """The state to sample from: (x, chain position), position −1 meaning "nothing to do".

    k = round(strength·K) steps run from position k − 1, where x = q-sample of the painting (noise
    from `generator`). At strength 0 the painting itself is returned (the same object); at strength 1
    x is `initial_noise`, the painting is not used and the generator is drawn from as text → image
    draws from it.
    """
    k = sdedit_steps(len(chain), strength)
    if k == 0:
        return painting, -1
    if k == len(chain):
        return initial_noise(tuple(painting.shape), generator, painting.device, painting.dtype), k - 1
    noise = randn_like(painting, generator)
    return q_sample(painting, chain.alphas_cumprod[k - 1], noise), k - 1


def sdedit(
    denoise: Denoiser,
    step: Step,
    painting: torch.Tensor,
    chain: Schedule,
    strength: float,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """SDEdit from start to finish: `sdedit_start`, then a sampler's `step` from that chain position.

    The callback sees round(strength·K) steps, numbered 0 … k−1 with total k.
    """
    x, position = sdedit_start(painting, chain, strength, generator)
    if position < 0:
        return painting
    return run_chain(denoise, step, x, chain, descending(chain, position), callback=callback, cancel=cancel)
