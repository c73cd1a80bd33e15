"""Typed events the engine emits; plain Python, so the window, the CLI and tests all read them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.core.settings import Recipe, Stage


@dataclass(frozen=True, eq=False)
class Frame:
    """One denoising step kept for the timeline: 8-bit previews plus the exact x_t for forking."""

    stage: Stage
    step: int  # 0-based step number within the stage's run
    total: int  # steps in the stage's run
    index: int  # chain position of x_t
    t: int  # original timestep of x_t
    x_t_preview: np.ndarray  # uint8 [B, H, W, 3]
    x0_preview: np.ndarray  # uint8 [B, H, W, 3]
    x_t: np.ndarray  # float32 [B, C, H, W]
    x0: np.ndarray | None = None  # latent models: the latent x̂₀ [B, C, h, w], for an exact decode on demand
    chain_length: int = 0  # positions of the chain the stage walked (a fork walks the same); 0: unknown


@dataclass(frozen=True, eq=False)
class Result:
    images: np.ndarray  # uint8 [B, H, W, 3]
    recipe: Recipe
    frames: tuple[Frame, ...]
    seconds: float
    base_output: np.ndarray | None = None  # float32 [B, 3, h, w]: what the SR stage refined (for SR forks)


@dataclass(frozen=True)
class JobStarted:
    job_id: int
    stages: tuple[tuple[Stage, int], ...]  # (stage, number of steps) in run order

    @property
    def total_steps(self) -> int:
        return sum(n for _, n in self.stages)


@dataclass(frozen=True, eq=False)
class StepEvent:
    job_id: int
    frame: Frame
    seconds_per_step: float  # running average over this stage so far (ETA: times the steps left)


@dataclass(frozen=True, eq=False)
class JobFinished:
    job_id: int
    result: Result


@dataclass(frozen=True, eq=False)
class JobCancelled:
    job_id: int
    last_x0: np.ndarray | None  # uint8 [B, H, W, 3] of the last step, None if no step ran
    stage: Stage | None


@dataclass(frozen=True)
class JobFailed:
    job_id: int
    message: str  # one line, for a status bar or stderr


@dataclass(frozen=True)
class Note:
    """Something the user should know that is not an error (an input was resized, say)."""

    job_id: int
    message: str


@dataclass(frozen=True, eq=False)
class FrameDecoded:
    """The answer to `Worker.request_exact_frame`: the frame with its previews decoded exactly."""

    request_id: int
    frame: Frame


@dataclass(frozen=True)
class DecodeFailed:
    request_id: int
    message: str  # one line


Event = JobStarted | StepEvent | JobFinished | JobCancelled | JobFailed | Note | FrameDecoded | DecodeFailed
