"""The pipeline: a job in, events out, a `Result` back — the base stage, then the cascade's SR stage."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from studio.core.events import Frame, JobStarted, Note, Result, StepEvent
from studio.core.jobs import Inpaint, Job, StrokesToImage, Upscale
from studio.core.settings import Recipe, Settings, Stage
from studio.diffusion.chain import SamplingCancelled, StepState, run_chain
from studio.diffusion.forward_process import initial_noise
from studio.diffusion.inpaint import composite, forward_jump, repaint_positions
from studio.diffusion.samplers import SamplerOptions, sampler_spec
from studio.diffusion.schedule import Schedule, respace
from studio.engine.cache import ModelCache
from studio.engine.conditioning import training_schedule
from studio.engine.inputs import fit_image, fit_mask
from studio.engine.models import CascadeModels, load_cascade
from studio.engine.previews import to_uint8
from studio.engine.stages import (
    Start,
    base_denoiser,
    base_positions,
    base_start,
    fork_start,
    is_upscale,
    sr_denoiser,
    sr_inputs,
    sr_positions,
)
from studio.engine.worker import Emit, JobCancelledError


@dataclass
class _Run:
    """Book-keeping of one job while it runs (mutable on purpose: it accumulates frames)."""

    job_id: int
    emit: Emit
    cancel: threading.Event
    device: torch.device
    generator: torch.Generator
    frames: list[Frame] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def recorder(self, stage: Stage):
        def record(state: StepState) -> None:
            frame = Frame(
                stage=stage, step=state.step, total=state.total, index=state.index, t=state.t,
                x_t_preview=to_uint8(state.x_t), x0_preview=to_uint8(state.x0),
                x_t=state.x_t.detach().float().cpu().numpy(),
            )
            self.frames.append(frame)
            per_step = (time.perf_counter() - self.started) / len(self.frames)
            self.emit(StepEvent(self.job_id, frame, per_step))

        return record

    def show_as_last(self, stage: Stage, images: torch.Tensor) -> None:
        """Make the stage's last frame show `images` (inpainting's composited result), so the timeline's
        end, the x̂₀ view and an exported sequence show what the gallery holds; its x_t stays as sampled."""
        for i in range(len(self.frames) - 1, -1, -1):
            if self.frames[i].stage is stage:
                self.frames[i] = replace(self.frames[i], x0_preview=to_uint8(images))
                return


@dataclass(frozen=True, eq=False)
class _Inputs:
    """The job's images as tensors at the sizes the models need."""

    image: torch.Tensor | None = None  # [B, 3, R, R] at base resolution (painting or known image)
    mask: torch.Tensor | None = None  # [1, 1, R, R]
    low_res: torch.Tensor | None = None  # [B, 3, r, r] for an upscale
    original: torch.Tensor | None = None  # inpaint: the known image at the output resolution
    original_mask: torch.Tensor | None = None


class Pipeline:
    """Runs jobs on models from a `ModelCache`; one instance serves the worker, the CLI and tests."""

    def __init__(self, cache: ModelCache) -> None:
        self.cache = cache

    def run(self, job: Job, job_id: int, cancel: threading.Event, emit: Emit) -> Result:
        models = load_cascade(self.cache, job.model)
        stages = plan_stages(job, models)
        device = self.cache.device.device
        notes: list[str] = []
        inputs = prepare_inputs(job, models, stages, device, notes)
        emit(JobStarted(job_id, stages))
        for message in notes:
            emit(Note(job_id, message))
        run = _Run(job_id, emit, cancel, device, torch.Generator("cpu").manual_seed(job.settings.seed))
        with torch.inference_mode():
            try:
                images, base_output = self._stages(job, models, stages, inputs, run)
            except SamplingCancelled:
                last = run.frames[-1] if run.frames else None
                raise JobCancelledError(last and last.x0_preview, last and last.stage) from None
        recipe = make_recipe(job, models, images)
        seconds = time.perf_counter() - run.started
        low = None if base_output is None else base_output.float().cpu().numpy()
        return Result(to_uint8(images), recipe, tuple(run.frames), seconds, low)

    def _stages(self, job, models: CascadeModels, stages, inputs: _Inputs, run: _Run):
        names = [stage for stage, _ in stages]
        images = base_output = None
        if Stage.BASE in names:
            images = self._base(job, models, inputs, run)
        if Stage.SR in names:
            base_output = images if images is not None else self._sr_source(job, inputs, run)
            images = self._sr(job, models, base_output, run)
        if isinstance(job, Inpaint) and Stage.SR in names:
            images = composite(images, inputs.original, inputs.original_mask)
            run.show_as_last(Stage.SR, images)
        return images, base_output

    def _base(self, job: Job, models: CascadeModels, inputs: _Inputs, run: _Run) -> torch.Tensor:
        s, base = job.settings, models.base
        chain = respace(training_schedule(base), s.steps)
        denoise = base_denoiser(job, models, chain, inputs, run.generator)
        variance = base.config.diffusion.variance
        res = base.config.resolution
        start = base_start(job, inputs.image, chain, (s.batch_size, 3, res, res), run.generator, run.device)
        x = start.x
        positions = None
        if isinstance(job, Inpaint) and start.position >= 0:
            positions = repaint_positions(start.position, s.repaint_jump, s.repaint_resample)
        if start.position >= 0:
            x = _sample(denoise, start, chain, s, variance, run, Stage.BASE, positions)
        if isinstance(job, Inpaint):
            x = composite(x, inputs.image, inputs.mask)
            run.show_as_last(Stage.BASE, x)
        return x

    @staticmethod
    def _sr_source(job: Job, inputs: _Inputs, run: _Run) -> torch.Tensor:
        if job.fork is not None and job.fork.low_res is not None:
            return torch.from_numpy(job.fork.low_res).to(run.device)
        if inputs.low_res is None:
            raise ValueError("a fork of the super-resolution stage needs the base image it refined")
        return inputs.low_res

    def _sr(self, job: Job, models: CascadeModels, low_res: torch.Tensor, run: _Run) -> torch.Tensor:
        s, sr = job.settings, models.sr
        chain = respace(training_schedule(sr), s.sr_steps)
        extra, aug = sr_inputs(job, sr, low_res, run.generator)
        denoise = sr_denoiser(sr, s, extra, aug)
        shape = (low_res.shape[0], 3, sr.config.resolution, sr.config.resolution)
        start = fork_start(job, Stage.SR, chain, run.device)
        if start is None:
            start = Start(initial_noise(shape, run.generator, run.device), len(chain) - 1)
        return _sample(denoise, start, chain, s, sr.config.diffusion.variance, run, Stage.SR)


def _sample(denoise, start: Start, chain: Schedule, s: Settings, variance, run: _Run, stage: Stage,
            positions: list[int] | None = None):
    """One stage's sampler run, over the descending chain or a RePaint plan of positions."""
    step = sampler_spec(s.sampler).step(chain, variance, run.generator, SamplerOptions(eta=s.eta))
    positions = positions or list(range(start.position, -1, -1))
    return run_chain(denoise, step, start.x, chain, positions, callback=run.recorder(stage), cancel=run.cancel,
                     renoise=forward_jump(chain, run.generator))


def plan_stages(job: Job, models: CascadeModels) -> tuple[tuple[Stage, int], ...]:
    """The stages this job runs, with their step counts (the progress bar's total)."""
    if is_upscale(job):
        if models.sr is None:
            raise ValueError("this model has no super-resolution stage to upscale with")
        return ((Stage.SR, sr_positions(job)),)
    if models.base is None:
        raise ValueError("this is a super-resolution model: it can only upscale")
    stages = [(Stage.BASE, base_positions(job, job.settings.steps))]
    if job.settings.cascade and models.sr is not None:
        stages.append((Stage.SR, sr_positions(job)))
    return tuple(stages)


def prepare_inputs(job: Job, models: CascadeModels, stages, device, notes: list[str]) -> _Inputs:
    """Check and fit the job's images; a wrong size is resized with a note, a wrong kind refused."""
    batch = job.settings.batch_size
    if isinstance(job, Upscale):
        low = fit_image(job.image, models.sr.config.low_res, device, "image", notes)
        return _Inputs(low_res=low.expand(batch, -1, -1, -1).contiguous())
    if isinstance(job, StrokesToImage | Inpaint):
        res = models.base.config.resolution
        source = job.painting if isinstance(job, StrokesToImage) else job.image
        image = fit_image(source, res, device, "painting" if isinstance(job, StrokesToImage) else "image", notes)
        image = image.expand(batch, -1, -1, -1).contiguous()
        if isinstance(job, StrokesToImage):
            return _Inputs(image=image)
        mask = fit_mask(job.mask, res, device, notes)
        if Stage.SR not in [s for s, _ in stages]:
            return _Inputs(image=image, mask=mask)
        out = models.sr.config.resolution
        original = fit_image(job.image, out, device, "image", [])
        original_mask = fit_mask(job.mask, out, device, [])
        return _Inputs(image=image, mask=mask, original=original, original_mask=original_mask)
    return _Inputs()


def make_recipe(job: Job, models: CascadeModels, images: torch.Tensor) -> Recipe:
    # the step number the user saw in the timeline ("base step 13 of 30"), not the chain position
    fork = None if job.fork is None else (job.fork.stage.value, job.fork.step or job.fork.index)
    return Recipe(
        kind=job.kind, model=models.name, model_hash=models.digest(), settings=job.settings,
        width=int(images.shape[3]), height=int(images.shape[2]), inputs=input_digests(job), fork=fork,
    )


def input_digests(job: Job) -> tuple[tuple[str, str], ...]:
    arrays = {"painting": getattr(job, "painting", None), "image": getattr(job, "image", None),
              "mask": getattr(job, "mask", None)}
    return tuple((name, hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())
                 for name, a in arrays.items() if a is not None)
