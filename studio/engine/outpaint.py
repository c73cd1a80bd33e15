"""Outpainting as a run: the `Outpaint` job turned into inpainting jobs, one per window, on any runner.

The CLI (`studio outpaint`) and the window (Image → Outpaint…) both run it through `WithOutpaint`, which
passes every other job to the runner it wraps; each window is an ordinary inpainting job (the tested task
path, DESIGN §15), so nothing here touches torch.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from studio.core.events import Event, Frame, JobStarted, Note, Result
from studio.core.jobs import Inpaint, Job, Outpaint
from studio.engine.outpaint_windows import Growth, grow, plan_windows
from studio.engine.pipeline import input_digests
from studio.engine.worker import Emit, JobCancelledError, Runner


class WithOutpaint:
    """A runner that runs `Outpaint` jobs window by window on `inner`, and any other job on `inner` as is."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner

    def run(self, job: Job | Outpaint, job_id: int, cancel: threading.Event, emit: Emit) -> Result:
        if isinstance(job, Outpaint):
            return outpaint(self.inner, job, job_id, cancel, emit)
        return self.inner.run(job, job_id, cancel, emit)

    def exact_frame(self, model: str, frame: Frame) -> Frame:
        return self.inner.exact_frame(model, frame)


def outpaint(runner: Runner, job: Outpaint, job_id: int, cancel: threading.Event, emit: Emit) -> Result:
    """Grow the canvas, then inpaint it window by window at the base model's size, without the cascade.

    A window's known pixels are the original image and what earlier windows painted (outpaint_windows.py
    picks the order); window n runs with seed + n. The recipe holds the run's settings (seed: the first
    window's), the input image's digest and the grown size.
    Cancelling ends the whole run with no partial image: a window's x̂₀ is not the picture."""
    canvas, mask = grow(job.image, Growth(*job.growth))
    windows = plan_windows(mask, job.window, job.overlap)
    settings = job.settings.with_(cascade=False, batch_size=1)
    progress = _WholeRun(job_id, len(windows), emit)
    result, seconds = None, 0.0
    for n, window in enumerate(windows):
        rows, cols = window.region()
        part = Inpaint(job.model, settings.with_(seed=(settings.seed + n) % 2**31), canvas[rows, cols].copy(),
                       mask[rows, cols].copy())
        progress.window = n
        try:
            result = runner.run(part, job_id, cancel, progress)
        except JobCancelledError:
            raise JobCancelledError(None, None) from None
        canvas[rows, cols] = result.images[0]
        mask[rows, cols] = 0
        seconds += result.seconds
    # the run's own settings (its first seed, as the user set it), its input image and the grown size
    recipe = replace(result.recipe, settings=settings, inputs=input_digests(job), width=canvas.shape[1],
                     height=canvas.shape[0])
    return Result(canvas[None], recipe, (), seconds)


class _WholeRun:
    """The windows' events as one job's: one JobStarted counting every window's steps (so progress and ETA
    cover the whole run), the first window's notes only (the others would repeat them)."""

    def __init__(self, job_id: int, windows: int, emit: Emit) -> None:
        self.job_id, self.windows, self.emit = job_id, windows, emit
        self.window = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, JobStarted):
            if self.window == 0:
                self.emit(JobStarted(self.job_id, event.stages * self.windows))
        elif not isinstance(event, Note) or self.window == 0:
            self.emit(event)
