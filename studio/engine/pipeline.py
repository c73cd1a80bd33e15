"""The pipeline: a job in, events out, a `Result` back.

`plan_job` decides the stages (base, then the cascade's SR stage); each stage's runner (engine/tasks.py)
calls the diffusion task function for it. This module only fits the inputs, runs the plan, records
frames and builds the recipe.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from studio.core.events import Frame, JobStarted, Note, Result, StepEvent
from studio.core.jobs import Job
from studio.core.settings import Recipe, Stage
from studio.diffusion.chain import SamplingCancelled, StepState
from studio.diffusion.step_noise import mix_seed
from studio.engine.cache import ModelCache
from studio.engine.models import CascadeModels, load_cascade
from studio.engine.plan import Plan, plan_job
from studio.engine.previews import to_uint8
from studio.engine.tasks import RUNNERS, StageContext, fit_inputs, frame_preview, latent_space
from studio.engine.worker import Emit, JobCancelledError


@dataclass
class _Run:
    """Book-keeping of one job while it runs (mutable on purpose: it accumulates frames)."""

    job_id: int
    emit: Emit
    cancel: threading.Event
    device: torch.device
    seed: int
    frames: list[Frame] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def recorder(self, stage: Stage, preview: Callable[[torch.Tensor], torch.Tensor], latent: bool = False,
                 chain_length: int = 0):
        # the rate is the stage's own: an upsampler's step can cost several of the base's (GLIDE: 2.5×), so a
        # job-wide average would put the SR stage's ETA far too low
        stage_started, earlier = time.perf_counter(), len(self.frames)

        def record(state: StepState) -> None:
            frame = Frame(
                stage=stage, step=state.step, total=state.total, index=state.index, t=state.t,
                x_t_preview=to_uint8(preview(state.x_t)), x0_preview=to_uint8(preview(state.x0)),
                x_t=state.x_t.detach().float().cpu().numpy(),
                x0=state.x0.detach().float().cpu().numpy() if latent else None, chain_length=chain_length,
            )
            self.frames.append(frame)
            per_step = (time.perf_counter() - stage_started) / (len(self.frames) - earlier)
            self.emit(StepEvent(self.job_id, frame, per_step))

        return record

    def show_as_last(self, stage: Stage, images: torch.Tensor) -> None:
        """Make the stage's last frame show `images` (inpainting's composited result), so the timeline's
        end, the x̂₀ view and an exported sequence show what the gallery holds; its x_t stays as sampled.
        Its latent x̂₀ goes: an exact decode of it would undo the composite."""
        for i in range(len(self.frames) - 1, -1, -1):
            if self.frames[i].stage is stage:
                self.frames[i] = replace(self.frames[i], x0_preview=to_uint8(images), x0=None)
                return


class Pipeline:
    """Runs jobs on models from a `ModelCache`; one instance serves the worker, the CLI and tests."""

    def __init__(self, cache: ModelCache) -> None:
        self.cache = cache

    def exact_frame(self, model: str, frame: Frame) -> Frame:
        """The frame with its x̂₀ and x_t previews replaced by exact decodes of its latents (a latent model's
        per-step previews are approximations). Costs two autoencoder decodes: the worker calls it for the
        frames the user scrubs to, when no job waits. A frame without a latent x̂₀ (pixel space, or a last
        frame that already shows the finished image) comes back as it is."""
        if frame.x0 is None:
            return frame
        loaded = load_cascade(self.cache, model)
        space = latent_space(loaded.sr if frame.stage is Stage.SR else loaded.base)
        if space is None:
            raise ValueError(f"the {frame.stage.value} stage of {loaded.name} is not a latent model")
        device = self.cache.device.device
        with torch.inference_mode():
            latents = torch.from_numpy(np.concatenate([frame.x0, frame.x_t]))
            images = to_uint8(space.decode(latents.to(device)))
        batch = len(frame.x0)
        return replace(frame, x0_preview=images[:batch], x_t_preview=images[batch:])

    def run(self, job: Job, job_id: int, cancel: threading.Event, emit: Emit) -> Result:
        models = load_cascade(self.cache, job.model)
        plan = plan_job(job, models)
        device = self.cache.device.device
        notes: list[str] = []
        inputs = [fit_inputs(stage, job.settings, device, notes) for stage in plan.stages]
        emit(JobStarted(job_id, plan.totals))
        for message in notes:
            emit(Note(job_id, message))
        run = _Run(job_id, emit, cancel, device, job.settings.seed)
        with torch.inference_mode():
            try:
                images, refined = _run_plan(plan, inputs, job, models, run)
            except SamplingCancelled:
                last = run.frames[-1] if run.frames else None
                raise JobCancelledError(last and last.x0_preview, last and last.stage) from None
        recipe = make_recipe(job, models, images)
        seconds = time.perf_counter() - run.started
        low = None if refined is None else refined.float().cpu().numpy()
        return Result(to_uint8(images), recipe, tuple(run.frames), seconds, low)


def _run_plan(plan: Plan, inputs, job: Job, models: CascadeModels, run: _Run):
    """Each stage's runner on the previous stage's output; returns the images and what the SR stage refined."""
    images = refined = None
    for stage, stage_inputs in zip(plan.stages, inputs, strict=True):
        record = run.recorder(stage.stage, frame_preview(stage.model), latent_space(stage.model) is not None,
                              len(stage.chain))
        ctx = StageContext(job.settings, models.classifier, run.device, stage_generator(run.seed, stage.stage),
                           run.cancel, record,
                           lambda x, name=stage.stage: run.show_as_last(name, x))
        out = RUNNERS[stage.task](stage, ctx, stage_inputs, images)
        images, refined = out.images, out.refined if out.refined is not None else refined
    return images, refined


def stage_generator(seed: int, stage: Stage) -> torch.Generator:
    """Each stage draws from a generator of its own, seeded from the run's seed and the stage, so a fork of
    the SR stage (which runs no base) draws the noise augmentation and steps' noise the run drew."""
    return torch.Generator("cpu").manual_seed(seed if stage is Stage.BASE else mix_seed(seed, 1))


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
