"""Jobs: one frozen request holds everything a run needs (model, settings, input images).

Images are numpy arrays: RGB as uint8 [H, W, 3], masks as uint8 [H, W] with 255 where the model
should paint (the region to regenerate) and 0 where the input must be kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.core.settings import JobKind, Settings, Stage


@dataclass(frozen=True, eq=False)
class ForkPoint:
    """Start a run from a stored x_t: the step of a finished run's stage the user picked."""

    stage: Stage
    index: int  # chain position of x_t in a chain of `steps` positions
    steps: int  # length of the chain the stored run used; a fork must use the same
    x_t: np.ndarray  # float32 [B, C, H, W], exactly as the sampler held it
    low_res: np.ndarray | None = None  # float32 [B, 3, h, w]: the base image an SR-stage fork refines
    step: int = 0  # the step number the timeline showed (1-based): what the recipe records


@dataclass(frozen=True, eq=False)
class TextToImage:
    model: str  # a model file or a cascade folder / description
    settings: Settings
    fork: ForkPoint | None = None
    kind = JobKind.TEXT_TO_IMAGE


@dataclass(frozen=True, eq=False)
class StrokesToImage:
    model: str
    settings: Settings
    painting: np.ndarray  # uint8 [H, W, 3]
    fork: ForkPoint | None = None
    kind = JobKind.STROKES_TO_IMAGE


@dataclass(frozen=True, eq=False)
class Inpaint:
    model: str
    settings: Settings
    image: np.ndarray  # uint8 [H, W, 3]
    mask: np.ndarray  # uint8 [H, W]; 255 = regenerate
    fork: ForkPoint | None = None
    kind = JobKind.INPAINT


@dataclass(frozen=True, eq=False)
class Upscale:
    model: str
    settings: Settings
    image: np.ndarray  # uint8 [H, W, 3] at the super-resolution model's input size
    fork: ForkPoint | None = None
    kind = JobKind.UPSCALE


@dataclass(frozen=True, eq=False)
class Ilvr:
    """Text → image whose coarse structure (N×N block means, N = settings.ilvr_factor) is the reference's."""

    model: str
    settings: Settings
    image: np.ndarray  # uint8 [H, W, 3]: the reference
    fork: ForkPoint | None = None
    kind = JobKind.ILVR


Job = TextToImage | StrokesToImage | Inpaint | Upscale | Ilvr


@dataclass(frozen=True, eq=False)
class Outpaint:
    """Grow the image on any side and paint the new area as inpainting jobs in overlapping windows of the
    base model's size (engine/outpaint.py runs it; engine/outpaint_windows.py holds the geometry)."""

    model: str
    settings: Settings
    image: np.ndarray  # uint8 [H, W, 3]
    growth: tuple[int, int, int, int]  # pixels added on the left, top, right and bottom
    window: int  # the base model's size: each window is one inpainting job
    overlap: int  # pixels shared by neighbouring windows
    fork = None  # a run of many jobs has no single chain to fork from
    kind = JobKind.INPAINT
