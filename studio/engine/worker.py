"""The worker: one thread that owns torch and the models and runs queued jobs one at a time.

Requests go in as frozen jobs; only typed events come out, through the `emit` callback, which is
called on the worker thread (the window's bridge re-posts them to the Qt main thread).

Besides jobs it answers requests for the exact decode of a latent run's frame (the window asks for the
step the user scrubs to). Those run only when no job is queued or running: a job always goes first, so a
decode never slows a run's steps; a job submitted while a decode is under way waits for that one decode.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from studio.core.events import DecodeFailed, Event, Frame, FrameDecoded, JobCancelled, JobFailed, JobFinished
from studio.core.jobs import Job

Emit = Callable[[Event], None]


class Runner(Protocol):
    """Runs one job to completion; raises `JobCancelledError` or any error to end it early."""

    def run(self, job: Job, job_id: int, cancel: threading.Event, emit: Emit): ...

    def exact_frame(self, model: str, frame: Frame) -> Frame:
        """The frame with its previews decoded exactly (latent models; others return it as it is)."""
        ...


class _Priority(IntEnum):
    """Queue order: every job before the close, every decode request only when no job waits."""

    JOB = 0
    CLOSE = 1  # decodes still queued at close never run
    DECODE = 2


@dataclass(frozen=True, eq=False)
class _DecodeRequest:
    request_id: int
    model: str
    frame: Frame


class Worker:
    """A queue of jobs and the thread that drains it. Close it (or use it as a context manager)."""

    def __init__(self, runner: Runner, emit: Emit, *, name: str = "studio-worker") -> None:
        self._runner = runner
        self._emit = emit
        # (priority, sequence, payload): FIFO within a priority; the payload is never compared
        self._queue: queue.PriorityQueue[tuple[int, int, tuple[int, Job] | _DecodeRequest | None]] = (
            queue.PriorityQueue())
        self._order = itertools.count()
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._cancelled: set[int] = set()
        self._cancel_below = 0  # every queued job with a smaller id is cancelled
        self._last_id = 0
        self._pending = 0
        self._current: tuple[int, threading.Event] | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> int:
        """Queue a job; returns its id, which every event about it carries."""
        with self._lock:
            job_id = self._last_id = next(self._ids)
            self._pending += 1
            self._idle.clear()
        self._put(_Priority.JOB, (job_id, job))
        return job_id

    def request_exact_frame(self, model: str, frame: Frame) -> int:
        """Queue the exact decode of `frame` (of a run on `model`) behind every job; a `FrameDecoded` or
        `DecodeFailed` with the returned id follows. `wait_idle` does not wait for it."""
        request_id = next(self._request_ids)
        self._put(_Priority.DECODE, _DecodeRequest(request_id, model, frame))
        return request_id

    def _put(self, priority: _Priority, payload) -> None:
        self._queue.put((priority, next(self._order), payload))

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job (queued or running), or with no id the running one."""
        with self._lock:
            if self._current is not None and job_id in (None, self._current[0]):
                self._current[1].set()
            elif job_id is not None:
                self._cancelled.add(job_id)

    def cancel_all(self) -> None:
        """Cancel the running job and everything queued so far."""
        with self._lock:
            self._cancel_below = self._last_id + 1
        self.cancel()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has ended (for the CLI and tests; never the UI thread)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.cancel()
        self._put(_Priority.CLOSE, None)
        self._thread.join(timeout)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        while (item := self._queue.get()[2]) is not None:
            if isinstance(item, _DecodeRequest):
                self._decode(item)
                continue
            job_id, job = item
            cancel = threading.Event()
            with self._lock:
                skipped = job_id in self._cancelled or job_id < self._cancel_below
                self._cancelled.discard(job_id)
                self._current = None if skipped else (job_id, cancel)
            if skipped:
                self._emit(JobCancelled(job_id, None, None))
            else:
                self._run_one(job_id, job, cancel)
            with self._lock:
                self._current = None
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    def _run_one(self, job_id: int, job: Job, cancel: threading.Event) -> None:
        try:
            result = self._runner.run(job, job_id, cancel, self._emit)
        except JobCancelledError as exc:
            self._emit(JobCancelled(job_id, exc.last_x0, exc.stage))
        except Exception as exc:  # the worker must survive any failing job
            self._emit(JobFailed(job_id, one_line(exc)))
        else:
            self._emit(JobFinished(job_id, result))


    def _decode(self, request: _DecodeRequest) -> None:
        try:
            frame = self._runner.exact_frame(request.model, request.frame)
        except Exception as exc:  # as for a job: one line, and the worker goes on
            self._emit(DecodeFailed(request.request_id, one_line(exc)))
        else:
            self._emit(FrameDecoded(request.request_id, frame))


class JobCancelledError(Exception):
    """A runner's way to end a job that was cancelled, keeping the last x̂₀ preview."""

    def __init__(self, last_x0, stage) -> None:
        super().__init__("cancelled")
        self.last_x0 = last_x0
        self.stage = stage


def one_line(exc: BaseException) -> str:
    """An exception as one line a user can read: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
