"""What the window needs to know about a model or cascade before running it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core.enums import ScheduleKind, Spacing
from studio.core.settings import Stage, respacing_problem
from studio.diffusion.respacing import spaced_timesteps
from studio.diffusion.schedule import make_schedule
from studio.engine.plan import chain_of
from studio.models.cascade import describe_model_path, resolve_model_path
from studio.models.config import ModelConfig
from studio.models.families import family_of
from studio.models.files import ModelFileError, ModelInfo, read_model_info

__all__ = ["ModelFileError", "ModelSummary", "ScheduleCurve", "respacing_error", "schedule_curve", "setting_defaults",
           "summarize"]


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
    defaults: tuple[tuple[str, float | str], ...] = ()  # (Settings field, value) the model's authors sample with

    def stage_schedule(self, stage: Stage) -> tuple[str, int]:
        """The training schedule (kind, T) the stage's chain is respaced from: the SR stage's own if it has one."""
        if stage is Stage.SR and self.sr_timesteps:
            return self.sr_schedule, self.sr_timesteps
        return self.schedule, self.timesteps


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
        defaults=tuple(_defaults(base and base.config, sr and sr.config).items()),
    )


def _output_resolution(base: ModelInfo | None, sr: ModelInfo | None) -> int:
    """The cascade's image size: an any-size upsampler (the SD x4) enlarges the base's image by its factor."""
    if sr is None:
        return base.config.resolution
    if base is not None and family_of(sr.config).sampling(sr.config).any_size:
        return base.config.resolution * sr.config.resolution // sr.config.low_res
    return sr.config.resolution


def schedule_curve(summary: ModelSummary, steps: int, stage: Stage = Stage.BASE,
                   spacing: Spacing = Spacing.UNIFORM, respacing: str = "") -> ScheduleCurve:
    """log SNR at every training timestep of the stage's model, and the timesteps its chain visits — the
    plan's own chain (`chain_of`): `steps` with that spacing, or the respacing string's timesteps (torch:
    the window calls it off the UI thread). ValueError for a respacing the model's T cannot take."""
    kind, length = summary.stage_schedule(stage)
    schedule = make_schedule(ScheduleKind(kind), length)
    chain = chain_of(ScheduleKind(kind), length, max(1, min(steps, length)), spacing, respacing)
    return ScheduleCurve(stage, tuple(schedule.log_snr.tolist()), tuple(chain.timesteps.tolist()))


def respacing_error(text: str, timesteps: int, what: str = "respacing") -> str | None:
    """Why `text` cannot respace a chain of `timesteps` (its form, or counts the sections cannot hold), as
    one line; None when it can, or when it is "" (the step count decides)."""
    problem = respacing_problem(text, what)
    if problem is None and text:
        try:
            spaced_timesteps(timesteps, text)
        except ValueError as exc:
            problem = f"{what}: {exc}"
    return problem


def setting_defaults(path: str | Path) -> dict[str, float | str]:
    """The settings the authors of the model sample with: GLIDE's guidance scale, ADM's classifier scale,
    the respacing strings and samplers of the base and of the upsampler (`sr_respacing`, `sr_sampler`) — for
    files imported as one of their presets; our own models' η; {} otherwise."""
    cascade = resolve_model_path(Path(path))
    base = read_model_info(cascade.base).config if cascade.base else None
    sr = read_model_info(cascade.sr).config if cascade.sr else None
    return _defaults(base, sr)


def _defaults(base: ModelConfig | None, sr: ModelConfig | None) -> dict[str, float | str]:
    """The base's scales, respacing and sampler; the SR stage's respacing and sampler as `sr_respacing` and
    `sr_sampler`, and its noise augmentation (and its scales when there is no base: an upscale uses them)."""
    found: dict[str, float | str] = {}
    if sr is not None:
        found = family_of(sr).sampling(sr).setting_defaults()
        for name in ("respacing", "sampler", "guidance_scale"):  # the SR stage's own, as `sr_…`
            if name in found:
                found[f"sr_{name}"] = found.pop(name)
    if base is not None:
        found = {k: v for k, v in found.items() if k.startswith("sr_") or k == "noise_augmentation"}
        found |= family_of(base).sampling(base).setting_defaults()
    return found
