"""Blocking work off the UI thread, its result back on it (the idea of anki's `run_in_background`).

Reading a model file (validating every tensor entry, hashing the file, reading its card) takes seconds on
a large cascade, and even a small torch computation stalls the event loop past DESIGN §3's 30 ms. Such
work runs here on a small thread pool; its result, or the error as one line, comes back to the main thread
through a queued signal, and only there is the caller's `on_done` or `on_error` called. A task never
touches a QObject: it gets plain values and returns a plain value.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot

from studio.app.properties import Property
from studio.engine.worker import one_line

T = TypeVar("T")

THREADS = 2  # a model opening (seconds) should not hold up a schedule curve (milliseconds)


@dataclass(frozen=True)
class _Pending:
    on_done: Callable[[Any], None]
    on_error: Callable[[str], None]
    key: Hashable | None
    future: Future


@dataclass(frozen=True)
class _Outcome:
    ticket: int
    value: Any
    error: str | None  # one line; None when the task returned


class Background(QObject):
    """Runs tasks on worker threads and calls back on the main thread; `busy` while any is unfinished."""

    busy_changed = Signal(bool)
    busy = Property(False, persist=False)

    _finished = Signal(object)  # _Outcome, emitted on a pool thread, received on the main thread

    def __init__(self, parent: QObject | None = None, *, threads: int = THREADS) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="studio-background")
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._tickets = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._newest: dict[Hashable, int] = {}  # key → ticket of the newest task with that key
        self._lock = threading.Lock()  # guards _closed against the emit from a pool thread
        self._closed = False

    def run_in_background(self, task: Callable[[], T], on_done: Callable[[T], None],
                          on_error: Callable[[str], None], *, key: Hashable | None = None) -> int:
        """Run `task()` on a pool thread; then, on the main thread, `on_done(result)` or `on_error(line)`.

        Tasks given the same `key` supersede each other: only the newest one's outcome is delivered, and an
        older one that has not started yet does not run at all (the user opened another model, moved the
        steps slider again). Returns a ticket naming the task."""
        if self._closed:
            raise RuntimeError("the background runner is shut down")
        ticket = next(self._tickets)
        if key is not None:
            self._drop(self._newest.get(key))
            self._newest[key] = ticket
        future = self._pool.submit(self._call, ticket, task)
        self._pending[ticket] = _Pending(on_done, on_error, key, future)
        self.busy = True
        return ticket

    def cancel(self, key: Hashable) -> None:
        """Forget the newest task with `key`: it does not run if it has not started, and its outcome is not
        delivered if it has."""
        self._drop(self._newest.pop(key, None))
        self.busy = bool(self._pending)

    def shutdown(self, *, wait: bool = False) -> None:
        """Drop queued tasks and every outcome still to come; tasks already running finish unobserved (with
        `wait`, this returns once they have). Calling it again is allowed."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
        self._pending.clear()
        self.busy = False

    def _drop(self, ticket: int | None) -> None:
        pending = self._pending.get(ticket) if ticket is not None else None
        if pending is not None and pending.future.cancel():  # not started: it never will
            del self._pending[ticket]

    def _call(self, ticket: int, task: Callable[[], Any]) -> None:  # on a pool thread
        try:
            outcome = _Outcome(ticket, task(), None)
        except Exception as exc:  # every failure becomes a line for the status bar, never a dead thread
            outcome = _Outcome(ticket, None, one_line(exc))
        with self._lock:
            if not self._closed:
                self._finished.emit(outcome)

    @Slot(object)
    def _deliver(self, outcome: _Outcome) -> None:
        pending = self._pending.pop(outcome.ticket, None)
        try:
            if pending is None or (pending.key is not None and self._newest.get(pending.key) != outcome.ticket):
                return  # superseded, or dropped by shutdown
            if outcome.error is None:
                pending.on_done(outcome.value)
            else:
                pending.on_error(outcome.error)
        finally:
            # after the callback, which may start a follow-up task: busy does not flicker off in between
            self.busy = bool(self._pending)
