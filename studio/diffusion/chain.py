"""Walking a chain: the one loop every sampler runs (k-diffusion's `sampling.py` loops, written once).

A *step* takes x at chain position i to position i − 1. It receives the denoiser itself, so it may
call it once (DDPM, DDIM), twice (Heun, predictor–corrector) or keep earlier predictions in its
closure (multistep methods). `run_chain` checks `cancel` before each step, reports each step to
`callback` once, and — given `renoise` — climbs back up between stretches of a plan of positions
(RePaint's resampling).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from studio.diffusion.denoiser import Denoiser, Prediction
from studio.diffusion.schedule import Schedule


@dataclass(frozen=True, eq=False)
class StepState:
    """One denoising step, as reported to the callback."""

    step: int  # 0-based number of this step within the run
    total: int  # number of steps in the run
    index: int  # chain position i of x_t
    t: int  # original timestep of x_t
    x_t: torch.Tensor  # the input of this step (as the denoiser saw it, after any masking)
    x0: torch.Tensor  # x̂₀ predicted from this x_t: the preview of the step


@dataclass(frozen=True, eq=False)
class StepOutput:
    """What a step returns: x at the next lower position, and the prediction at (x_t, t_i) it began with."""

    x: torch.Tensor
    pred: Prediction  # its x_t and x̂₀ are what the callback reports, whatever else the step evaluated


class Step(Protocol):
    """(denoiser, x at chain position i, i) -> x at position i − 1, with the prediction at x."""

    def __call__(self, denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput: ...


Callback = Callable[[StepState], None]
# (x at chain position lo, lo, hi) -> x at the higher position hi, by the forward process
Renoise = Callable[[torch.Tensor, int, int], torch.Tensor]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class SamplingCancelled(Exception):
    """Raised between steps when the cancel token is set; carries the last x̂₀ (None before step 1)."""

    def __init__(self, step: int, x0: torch.Tensor | None) -> None:
        super().__init__(f"cancelled before step {step + 1}")
        self.step = step
        self.x0 = x0


def timestep_batch(chain: Schedule, i: int, x: torch.Tensor) -> torch.Tensor:
    """The original timestep t_i of chain position i, once per image of x (what a denoiser takes)."""
    return torch.full((x.shape[0],), int(chain.timesteps[i]), device=x.device, dtype=torch.long)


def descending(chain: Schedule, start: int | None = None) -> list[int]:
    """Positions start, start − 1, …, 0 (start defaults to the last position, x_T)."""
    start = len(chain) - 1 if start is None else start
    if not 0 <= start < len(chain):
        raise ValueError(f"start position {start} is outside the chain of {len(chain)} steps")
    return list(range(start, -1, -1))


def run_chain(
    denoise: Denoiser,
    step: Step,
    x: torch.Tensor,
    chain: Schedule,
    positions: Sequence[int],
    *,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
    renoise: Renoise | None = None,
) -> torch.Tensor:
    """Denoise x through the given chain positions, one `step` each.

    Each step takes x from position i to i − 1. Given `renoise`, a next position above i − 1 is
    reached by climbing there with the forward process (RePaint's resampling jumps).
    """
    last_x0: torch.Tensor | None = None
    total = len(positions)
    for n, i in enumerate(positions):
        if cancel is not None and cancel.is_set():
            raise SamplingCancelled(n, last_x0)
        out = step(denoise, x, i)
        x, last_x0 = out.x, out.pred.x0
        if callback is not None:
            t = int(chain.timesteps[i])
            callback(StepState(step=n, total=total, index=i, t=t, x_t=out.pred.x_t, x0=out.pred.x0))
        following = positions[n + 1] if n + 1 < total else None
        if renoise is not None and following is not None and following > i - 1:
            x = renoise(x, i - 1, following)
    return x
