"""SDEdit (Meng et al. 2022): start the reverse chain part-way, from the forward-noised painting."""

from __future__ import annotations

import torch

from studio.diffusion.forward_process import q_sample, randn_like
from studio.diffusion.schedule import Schedule


def initial_noise(shape: tuple[int, ...], generator: torch.Generator | None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """x_T ~ N(0, I), drawn on the generator's device first so a seed means the same picture anywhere.

    Text → image and SDEdit at strength 1 both call this, as the first draw of the job's generator.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.randn(shape, generator=generator, device=gen_device).to(device)


def sdedit_steps(num_positions: int, strength: float) -> int:
    """How many steps of a K-step chain SDEdit runs: round(strength · K)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength}")
    return round(strength * num_positions)


def sdedit_start(painting: torch.Tensor, chain: Schedule, strength: float,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, int]:
    """The state to sample from: (x, chain position), position −1 meaning "nothing to do".

    k = round(strength·K) steps run from position k − 1, where x = q-sample of the painting.
    At strength 0 the painting is the result; at strength 1 the start is pure noise x_T, drawn
    exactly as text → image draws it, so both give the same image for the same seed.
    """
    k = sdedit_steps(len(chain), strength)
    if k == 0:
        return painting, -1
    if k == len(chain):
        return initial_noise(tuple(painting.shape), generator, painting.device), k - 1
    noise = randn_like(painting, generator)
    return q_sample(painting, chain.alphas_cumprod[k - 1], noise), k - 1
