"""The job queue as the window sees it: a worker thread, and its events re-posted as Qt signals."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot

from studio.app.properties import Property
from studio.core.events import (
    DecodeFailed,
    Event,
    Frame,
    FrameDecoded,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobStarted,
    Note,
    StepEvent,
)
from studio.core.jobs import Job
from studio.engine.worker import Runner, Worker


class EngineBridge(QObject):
    """Receives events on the worker thread and hands them to the main thread (queued signal)."""

    event = Signal(object)

    def emit_event(self, event: Event) -> None:  # called on the worker thread
        self.event.emit(event)


class JobRunner(QObject):
    """Submits jobs and turns engine events into progress properties and result signals."""

    running_changed = Signal(bool)
    progress_changed = Signal(float)
    status_changed = Signal(str)

    running = Property(False, persist=False)
    progress = Property(0.0, persist=False)  # 0..1 over all stages of the current job
    status = Property("", persist=False)  # "base step 3/30 · 0.05 s/step · ETA 1.4 s"

    step = Signal(object)  # StepEvent
    finished = Signal(object)  # Result
    cancelled = Signal(object)  # JobCancelled
    failed = Signal(str)
    note = Signal(str)
    decoded = Signal(object)  # FrameDecoded
    decode_failed = Signal(object)  # DecodeFailed

    def __init__(self, runner: Runner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = EngineBridge(self)
        self._bridge.event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self._worker = Worker(runner, self._bridge.emit_event)
        self._total = 0
        self._done = 0

    def submit(self, job: Job) -> int:
        job_id = self._worker.submit(job)
        self.running = True
        self.status = f"seed {job.settings.seed} · starting…"
        return job_id

    def request_exact_frame(self, model: str, frame: Frame) -> int:
        """Ask the worker for the exact decode of a latent frame, behind every job; `decoded` or
        `decode_failed` follows with the returned id."""
        return self._worker.request_exact_frame(model, frame)

    def cancel(self) -> None:
        self._worker.cancel_all()

    def shutdown(self) -> None:
        self._worker.close(timeout=5.0)

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobStarted):
            self._total, self._done = event.total_steps, 0
            self.progress = 0.0
        elif isinstance(event, StepEvent):
            self._done += 1
            self.progress = self._done / max(self._total, 1)
            f = event.frame
            eta = event.seconds_per_step * (self._total - self._done)
            self.status = (f"{f.stage.value} step {f.step + 1}/{f.total} · {event.seconds_per_step:.2f} s/step · "
                           f"ETA {eta:.1f} s")
            self.step.emit(event)
        elif isinstance(event, JobFinished):
            # the seed used, so a result can be made again (it changes every run unless locked)
            self._end(f"seed {event.result.recipe.settings.seed} · done in {event.result.seconds:.1f} s")
            self.finished.emit(event.result)
        elif isinstance(event, JobCancelled):
            self._end("cancelled")
            self.cancelled.emit(event)
        elif isinstance(event, JobFailed):
            self._end(f"failed: {event.message}")
            self.failed.emit(event.message)
        elif isinstance(event, Note):
            self.note.emit(event.message)
        elif isinstance(event, FrameDecoded):
            self.decoded.emit(event)
        elif isinstance(event, DecodeFailed):
            self.decode_failed.emit(event)

    def _end(self, text: str) -> None:
        self.running = False
        self.status = text
