"""The plan of a job: which stages run, on which chain, from which position, for how many steps.

`plan_job` is the one place that looks at the job's kind. Everything after it — input fitting, the
stage runners (engine/tasks.py), the progress total — reads the plan. The step counts come from the
same pure functions the diffusion tasks use (`sdedit_steps`, `repaint_positions`), so the plan's totals
are the runs' step counts and the window's strength preview (which calls `sdedit_steps` too) shows the
run's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from studio.core.enums import Role, ScheduleKind, Spacing
from studio.core.jobs import ForkPoint, Ilvr, Inpaint, Job, StrokesToImage, Upscale
from studio.core.settings import Settings, Stage
from studio.diffusion.inpaint import repaint_positions
from studio.diffusion.respacing import respace_to, spaced_timesteps
from studio.diffusion.samplers import sampler_spec
from studio.diffusion.schedule import Schedule, karras_respace, make_schedule, respace
from studio.diffusion.sdedit import sdedit_steps
from studio.engine.models import CascadeModels
from studio.models.families import family_of
from studio.models.files import LoadedModel


class Task(str, Enum):
    """What a stage does; engine/tasks.py has one runner per task, each calling a diffusion task function."""

    SAMPLE = "sample"  # denoise from x_T (or a fork's x_t) down the chain: text → image
    SDEDIT = "sdedit"  # q-sample the painting part-way up the chain, denoise from there
    INPAINT = "inpaint"  # replacement (or a mask-channel model) over RePaint's plan; known pixels kept
    ILVR = "ilvr"  # text → image with the reference's low frequencies swapped in after every step
    SUPER_RESOLVE = "super-resolve"  # the SR model conditioned on the upsampled low-res image


@dataclass(frozen=True, eq=False)
class StagePlan:
    stage: Stage
    task: Task
    model: LoadedModel
    chain: Schedule  # the respaced chain this stage walks
    positions: tuple[int, ...]  # chain positions denoised, in order: one step (and one frame) each
    network_calls: int  # denoiser calls: steps × the sampler's calls per step
    fork: ForkPoint | None = None  # start from this stored x_t instead of drawing one
    image: np.ndarray | None = None  # uint8 [H, W, 3]: the painting (SDEdit) or the known image (inpainting)
    mask: np.ndarray | None = None  # uint8 [H, W], 255 = regenerate; the stage's output keeps the rest
    low_res: np.ndarray | None = None  # uint8 [H, W, 3]: the image to upscale, when no stage before gives one
    mask_channels: bool = False  # inpainting with a model trained on mask channels, not by replacement
    size: int = 0  # the stage's images are size × size pixels (set by `_stage`)

    @property
    def start(self) -> int:
        """Chain position of the first step; −1 when nothing is sampled (SDEdit at strength 0)."""
        return self.positions[0] if self.positions else -1

    @property
    def steps(self) -> int:
        return len(self.positions)


@dataclass(frozen=True, eq=False)
class Plan:
    stages: tuple[StagePlan, ...]

    @property
    def totals(self) -> tuple[tuple[Stage, int], ...]:
        """(stage, steps) in run order: the progress bar's total (`JobStarted.stages`)."""
        return tuple((s.stage, s.steps) for s in self.stages)

    @property
    def network_calls(self) -> int:
        return sum(s.network_calls for s in self.stages)


@dataclass(frozen=True, eq=False)
class _Inputs:
    """What the job brings besides its settings, read off its kind once."""

    painting: np.ndarray | None = None
    known: np.ndarray | None = None
    mask: np.ndarray | None = None
    low_res: np.ndarray | None = None
    reference: np.ndarray | None = None


def plan_job(job: Job, models: CascadeModels) -> Plan:
    """The stages of `job` on `models`. Raises ValueError for what cannot run (no SR stage to upscale with,
    a base stage on a lone SR model, a fork with another step count or without its base image)."""
    inputs = _Inputs(
        painting=job.painting if isinstance(job, StrokesToImage) else None,
        known=job.image if isinstance(job, Inpaint) else None,
        mask=job.mask if isinstance(job, Inpaint) else None,
        low_res=job.image if isinstance(job, Upscale) else None,
        reference=job.image if isinstance(job, Ilvr) else None,
    )
    fork = job.fork
    if inputs.low_res is not None or (fork is not None and fork.stage is Stage.SR):
        return Plan((_sr_stage(job.settings, models, inputs, fork),))
    if models.base is None:
        raise ValueError("this is a super-resolution model: it can only upscale")
    stages = [_base_stage(job.settings, models.base, inputs, fork)]
    if job.settings.cascade and models.sr is not None:
        stages.append(_sr_stage(job.settings, models, inputs, None))
    return Plan(tuple(stages))


def stage_chain(model: LoadedModel, steps: int, spacing: Spacing = Spacing.UNIFORM, respacing: str = "") -> Schedule:
    """The model's training schedule respaced to `steps` positions, evenly or by Karras's σ spacing — or,
    given an OpenAI respacing string, to the timesteps it names (then `steps` and `spacing` are unused)."""
    diffusion = model.config.diffusion
    return chain_of(diffusion.schedule, diffusion.timesteps, steps, spacing, respacing)


def chain_of(kind: ScheduleKind, timesteps: int, steps: int, spacing: Spacing = Spacing.UNIFORM,
             respacing: str = "") -> Schedule:
    """`stage_chain` from the schedule's kind and length alone: the window's schedule plot draws the chain
    a run will walk from a model summary, without loading the model."""
    full = make_schedule(kind, timesteps)
    if respacing:
        return respace_to(full, spaced_timesteps(timesteps, respacing))
    return karras_respace(full, steps) if spacing is Spacing.KARRAS else respace(full, steps)


def _base_stage(s: Settings, model: LoadedModel, inputs: _Inputs, fork: ForkPoint | None) -> StagePlan:
    chain = stage_chain(model, s.steps, s.spacing, s.respacing)
    fork = fork if fork is not None and fork.stage is Stage.BASE else None
    if fork is not None:
        start = _fork_position(fork, chain)
    elif inputs.painting is not None:
        start = sdedit_steps(len(chain), s.strength) - 1
    else:
        start = len(chain) - 1
    if inputs.known is not None:
        positions = repaint_positions(start, s.repaint_jump, s.repaint_resample)
        return _stage(Stage.BASE, Task.INPAINT, model, chain, positions, s, fork, image=inputs.known,
                      mask=inputs.mask, mask_channels=model.config.role is Role.INPAINT)
    if inputs.reference is not None:
        if model.config.resolution % s.ilvr_factor:
            raise ValueError(f"the ILVR factor {s.ilvr_factor} must divide the model's size "
                             f"({model.config.resolution} px)")
        return _stage(Stage.BASE, Task.ILVR, model, chain, range(start, -1, -1), s, fork, image=inputs.reference)
    if inputs.painting is not None and fork is None:
        return _stage(Stage.BASE, Task.SDEDIT, model, chain, range(start, -1, -1), s, image=inputs.painting)
    return _stage(Stage.BASE, Task.SAMPLE, model, chain, range(start, -1, -1), s, fork)


def _sr_stage(s: Settings, models: CascadeModels, inputs: _Inputs, fork: ForkPoint | None) -> StagePlan:
    if models.sr is None:
        raise ValueError("this model has no super-resolution stage to upscale with")
    chain = stage_chain(models.sr, s.sr_steps, s.spacing, s.sr_respacing)
    if fork is not None and fork.low_res is None and inputs.low_res is None:
        raise ValueError("a fork of the super-resolution stage needs the base image it refined")
    how = family_of(models.sr.config).sampling(models.sr.config)
    if s.noise_augmentation > how.max_noise_augmentation:
        raise ValueError(f"this super-resolution model was trained with noise augmentation up to "
                         f"{how.max_noise_augmentation:.2f}, not {s.noise_augmentation:g}")
    strength = models.sr.config.diffusion.sample_strength  # see DiffusionConfig.sample_strength
    start = sdedit_steps(len(chain), strength) - 1 if fork is None else _fork_position(fork, chain)
    return _stage(Stage.SR, Task.SUPER_RESOLVE, models.sr, chain, range(start, -1, -1), s, fork,
                  image=inputs.known, mask=inputs.mask, low_res=inputs.low_res,
                  size=_sr_size(models, inputs, fork) if how.any_size else models.sr.config.resolution)


def _sr_size(models: CascadeModels, inputs: _Inputs, fork: ForkPoint | None) -> int:
    """An any-size upsampler's output: its factor times the low-res image it will get — the fork's, the
    base stage's output, or the image to upscale fitted to its low_res."""
    sr = models.sr.config
    if fork is not None and fork.low_res is not None:
        low = fork.low_res.shape[-1]
    elif inputs.low_res is None and models.base is not None:
        low = models.base.config.resolution
    else:
        low = sr.low_res
    return low * sr.resolution // sr.low_res


def _stage(stage: Stage, task: Task, model: LoadedModel, chain: Schedule, positions, s: Settings,
           fork: ForkPoint | None = None, size: int | None = None, **inputs) -> StagePlan:
    positions = tuple(positions)
    calls = len(positions) * sampler_spec(s.sampler_for(stage)).network_calls
    return StagePlan(stage, task, model, chain, positions, calls, fork, size=size or model.config.resolution,
                     **inputs)


def _fork_position(fork: ForkPoint, chain: Schedule) -> int:
    """The chain position of the forked x_t; the fork must walk the chain its run walked."""
    if fork.steps != len(chain) or not 0 <= fork.index < len(chain):
        raise ValueError(f"a fork from step {fork.step or fork.index} of {fork.steps} needs the same number of "
                         f"steps as its run ({fork.steps}), not {len(chain)}")
    return fork.index

