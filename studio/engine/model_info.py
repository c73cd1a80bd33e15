"""What the window needs to know about a model or cascade before running it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.diffusion.schedule import make_schedule, respace
from studio.models.cascade import describe_model_path, resolve_model_path
from studio.models.files import ModelFileError, read_model_info

__all__ = ["ModelFileError", "ModelSummary", "schedule_curve", "summarize"]


@dataclass(frozen=True)
class ModelSummary:
    path: str
    name: str
    resolution: int  # of the base model (or the SR model's low-res input for an SR-only file)
    output_resolution: int
    has_base: bool
    has_sr: bool
    class_names: tuple[str, ...]
    timesteps: int
    schedule: str
    description: str  # `studio info`'s text


def summarize(path: str | Path) -> ModelSummary:
    """Read headers only (no weights); raises ModelFileError with a one-line message."""
    cascade = resolve_model_path(Path(path))
    base = read_model_info(cascade.base) if cascade.base else None
    sr = read_model_info(cascade.sr) if cascade.sr else None
    classifier = read_model_info(cascade.classifier) if cascade.classifier else None
    main = base or sr
    return ModelSummary(
        path=str(path), name=cascade.name,
        resolution=base.config.resolution if base else sr.config.low_res,
        output_resolution=(sr or base).config.resolution,
        has_base=base is not None, has_sr=sr is not None,
        class_names=classifier.config.classifier.class_names if classifier else (),
        timesteps=main.config.diffusion.timesteps, schedule=main.config.diffusion.schedule.value,
        description=describe_model_path(path),
    )


def schedule_curve(summary: ModelSummary, steps: int) -> tuple[list[float], list[int]]:
    """log SNR at every training timestep, and the timesteps a `steps`-step chain visits."""
    from studio.core.enums import ScheduleKind

    schedule = make_schedule(ScheduleKind(summary.schedule), summary.timesteps)
    chain = respace(schedule, max(1, min(steps, summary.timesteps)))
    return schedule.log_snr.tolist(), chain.timesteps.tolist()
