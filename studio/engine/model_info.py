"""What the window needs to know about a model or cascade before running it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core.enums import ScheduleKind, Spacing
from studio.core.settings import Stage
from studio.diffusion.schedule import karras_respace, make_schedule, respace
from studio.models.cascade import describe_model_path, resolve_model_path
from studio.models.config import ModelConfig
from studio.models.families import family_of
from studio.models.files import ModelFileError, ModelInfo, read_model_info

__all__ = ["ModelFileError", "ModelSummary", "ScheduleCurve", "schedule_curve", "setting_defaults", "summarize"]


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
    sr_timesteps: int = 0  # the SR stage's own training schedule (0: no SR stage)
    sr_schedule: str = ""
    defaults: tuple[tuple[str, float], ...] = ()  # (Settings field, value) the model's authors sample with


@dataclass(frozen=True)
class ScheduleCurve:
    """What the schedule plot draws for one stage: its noise schedule and the steps a run visits."""

    stage: Stage
    log_snr: tuple[float, ...]  # at every training timestep of the stage's model
    chain: tuple[int, ...]  # the timesteps a run of the chosen number of steps visits, high to low


def summarize(path: str | Path) -> ModelSummary:
    """Check every file of the model or cascade against its header (no weights are loaded), read the cards
    and the digests; raises ModelFileError with a one-line message. Takes seconds on a large file the first
    time (the digest): the window calls it off the UI thread."""
    cascade = resolve_model_path(Path(path))
    base = read_model_info(cascade.base) if cascade.base else None
    sr = read_model_info(cascade.sr) if cascade.sr else None
    classifier = read_model_info(cascade.classifier) if cascade.classifier else None
    main = base or sr
    return ModelSummary(
        path=str(path), name=cascade.name,
        resolution=base.config.resolution if base else sr.config.low_res,
        output_resolution=_output_resolution(base, sr),
        has_base=base is not None, has_sr=sr is not None,
        class_names=classifier.config.class_names if classifier else (),
        timesteps=main.config.diffusion.timesteps, schedule=main.config.diffusion.schedule.value,
        description=describe_model_path(path),
        sr_timesteps=sr.config.diffusion.timesteps if sr else 0,
        sr_schedule=sr.config.diffusion.schedule.value if sr else "",
        defaults=tuple(_cascade_defaults(base, sr).items()),
    )


def _output_resolution(base: ModelInfo | None, sr: ModelInfo | None) -> int:
    """The cascade's image size: an any-size upsampler (the SD x4) enlarges the base's image by its factor."""
    if sr is None:
        return base.config.resolution
    if base is not None and family_of(sr.config).sampling(sr.config).any_size:
        return base.config.resolution * sr.config.resolution // sr.config.low_res
    return sr.config.resolution


def schedule_curve(summary: ModelSummary, steps: int, stage: Stage = Stage.BASE,
                   spacing: Spacing = Spacing.UNIFORM) -> ScheduleCurve:
    """log SNR at every training timestep of the stage's model, and the timesteps a `steps`-step chain
    with that spacing visits (torch: the window calls it off the UI thread)."""
    kind, length = summary.schedule, summary.timesteps
    if stage is Stage.SR and summary.sr_timesteps:
        kind, length = summary.sr_schedule, summary.sr_timesteps
    schedule = make_schedule(ScheduleKind(kind), length)
    steps = max(1, min(steps, length))
    chain = karras_respace(schedule, steps) if spacing is Spacing.KARRAS else respace(schedule, steps)
    return ScheduleCurve(stage, tuple(schedule.log_snr.tolist()), tuple(chain.timesteps.tolist()))


def setting_defaults(path: str | Path) -> dict[str, float]:
    """The settings the authors of the model (its base, else its SR stage) sample with: GLIDE's guidance
    scale, ADM's classifier scale — for a file imported as one of their presets; {} otherwise."""
    cascade = resolve_model_path(Path(path))
    return _cascade_defaults(*(read_model_info(f) if f else None for f in (cascade.base, cascade.sr)))


def _cascade_defaults(base: ModelInfo | None, sr: ModelInfo | None) -> dict[str, float]:
    """The base's defaults (else the SR stage's), and the SR stage's noise augmentation, which is its own."""
    defaults = _defaults((base or sr).config)
    if sr is not None and "noise_augmentation" in (sr_defaults := _defaults(sr.config)):
        defaults["noise_augmentation"] = sr_defaults["noise_augmentation"]
    return defaults


def _defaults(config: ModelConfig) -> dict[str, float]:
    return family_of(config).sampling(config).setting_defaults()
