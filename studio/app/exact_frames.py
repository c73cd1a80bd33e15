"""Exact decodes of a latent run's frames, for the step the timeline rests on (issue 18, point 4).

A latent model's frames show a cheap latent → RGB preview at every step. When the timeline rests on a
frame for `SETTLE_MS` — the user scrubbed to it, playback stopped there, or a run just ended on it — this
asks the worker for the exact autoencoder decode of that frame's x̂₀ and x_t (`Pipeline.exact_frame`).
The worker answers only when no job is queued or running (engine/worker.py), so a run's steps are never
slowed. At most one request is out at a time; when it comes back, the frame shown then goes next, so a
long scrub does not queue a decode for every frame it passed. Each answer replaces its frame in the
timeline (`Timeline.refine`: the cache, so a frame is decoded once per run); an answer for a run no longer
on the timeline is dropped, and one for another frame of the same run is kept but not shown.
Pixel-space frames (no latent x̂₀) never ask for anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from studio.app.runner import JobRunner
from studio.app.timeline import Timeline
from studio.core.events import DecodeFailed, FrameDecoded, Result

SETTLE_MS = 150  # how long the timeline must rest on a frame before its exact decode is asked for


@dataclass(frozen=True, eq=False)
class _Asked:
    request_id: int
    result: Result  # the run whose frame it is: an answer for an older run is dropped
    index: int


class ExactFrames(QObject):
    error = Signal(str)

    def __init__(self, timeline: Timeline, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timeline, self.runner = timeline, runner
        self._asked: _Asked | None = None
        self._failed: set[int] = set()  # frames of this run whose decode failed: not asked again
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(lambda: self._request(self.timeline.index))
        timeline.index_changed.connect(lambda _: self._settle.start())
        timeline.result_changed.connect(self._on_result)
        runner.decoded.connect(self._arrived)
        runner.decode_failed.connect(self._decode_failed)

    def stop(self) -> None:
        """No more requests (the window is closing)."""
        self._settle.stop()

    def _on_result(self) -> None:
        self._failed = set()
        if self.timeline.frames:
            self._settle.start()
        else:
            self._settle.stop()

    def _request(self, index: int) -> None:
        t = self.timeline
        if self._asked is not None or not t.model or not 0 <= index < len(t.frames):
            return  # one request at a time: its answer asks for the frame shown then
        if index in t.exact or index in self._failed or t.frames[index].x0 is None:
            return
        request_id = self.runner.request_exact_frame(t.model, t.frames[index])
        self._asked = _Asked(request_id, t.result, index)

    def _answered(self, request_id: int) -> _Asked | None:
        """The request this answers, if it is the one out (and it is no longer out)."""
        asked = self._asked
        if asked is None or asked.request_id != request_id:
            return None
        self._asked = None
        return asked

    def _arrived(self, event: FrameDecoded) -> None:
        asked = self._answered(event.request_id)
        if asked is None:
            return
        if asked.result is self.timeline.result:
            self.timeline.refine(asked.index, event.frame)
        self._next()

    def _decode_failed(self, event: DecodeFailed) -> None:
        asked = self._answered(event.request_id)
        if asked is None:
            return
        if asked.result is self.timeline.result:
            self._failed.add(asked.index)
            frame = self.timeline.frames[asked.index]
            self.error.emit(f"the exact decode of {frame.stage.value} step {frame.step + 1} failed: {event.message}")
        self._next()

    def _next(self) -> None:
        if not self._settle.isActive():  # still scrubbing: the timer asks once the timeline rests
            self._request(self.timeline.index)
