"""The respacing strings of OpenAI's samplers (`timestep_respacing`), as their `space_timesteps` reads them.

"250" keeps 250 of T steps; "10,15,20" splits the chain into three equal sections (the first T mod 3
one step longer) and keeps 10, 15 and 20 from them; "ddim25" keeps every k-th step from 0 for the
integer stride k that gives exactly 25; "fast27" (GLIDE) is "10,10,3,2,2" with T−1 swapped for T−3.
Positions within a section are start + round(i·(size−1)/(count−1)) with Python's round-half-to-even,
as the reference computes them — numpy's or torch's rounding would pick other steps.
"""

from __future__ import annotations

import torch

from studio.diffusion.schedule import Schedule


def spaced_timesteps(num_timesteps: int, spec: str) -> list[int]:
    """The kept original timesteps, ascending; ValueError naming what cannot be done."""
    spec = spec.strip()
    if spec.startswith("ddim"):
        count = _int(spec[len("ddim"):], spec)
        for stride in range(1, num_timesteps):
            if len(range(0, num_timesteps, stride)) == count:
                return list(range(0, num_timesteps, stride))
        raise ValueError(f"cannot take exactly {count} of {num_timesteps} steps with an integer stride")
    if spec == "fast27":
        steps = set(spaced_timesteps(num_timesteps, "10,10,3,2,2"))
        steps.remove(num_timesteps - 1)  # the reference's fix for DDIM artefacts at the noisiest step
        steps.add(num_timesteps - 3)
        return sorted(steps)
    counts = [_int(part, spec) for part in spec.split(",")]
    size_per, extra = divmod(num_timesteps, len(counts))
    start, kept = 0, set()
    for i, count in enumerate(counts):
        size = size_per + (1 if i < extra else 0)
        if size < count:
            raise ValueError(f"cannot take {count} steps from a section of {size} ({spec!r} of {num_timesteps})")
        stride = 1 if count <= 1 else (size - 1) / (count - 1)
        position = 0.0
        for _ in range(count):
            kept.add(start + round(position))
            position += stride
        start += size
    return sorted(kept)


def _int(text: str, spec: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"respacing {spec!r} is not a step count, a list of counts, ddimN or fast27") from None
    if value < 1:
        raise ValueError(f"respacing {spec!r} asks for {value} steps")
    return value


def respace_to(schedule: Schedule, timesteps: list[int]) -> Schedule:
    """The chain through the given original timesteps: β_i = 1 − ᾱ(t_i)/ᾱ(t_{i−1}), so q(x_t | x_0) is
    unchanged at each of them (improved-diffusion's SpacedDiffusion)."""
    positions = torch.tensor([schedule.index_of(t) for t in timesteps])
    kept = schedule.alphas_cumprod[positions]
    prev = torch.cat([torch.ones(1, dtype=kept.dtype), kept[:-1]])
    return Schedule(betas=1.0 - kept / prev, timesteps=schedule.timesteps[positions].clone(),
                    num_train_timesteps=schedule.num_train_timesteps)
