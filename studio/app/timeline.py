"""The timeline of the last run: every step of every stage, to scrub, play, fork from and export.

A latent model's frames carry a cheap preview; `refine` puts a frame's exact decode in its place (see
app/exact_frames.py), so scrubbing back, the export and the view all use it from then on."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from studio.app.properties import Property
from studio.core.events import Frame, Result
from studio.core.jobs import ForkPoint
from studio.core.settings import Stage


class Timeline(QObject):
    index_changed = Signal(int)
    length_changed = Signal(int)
    playing_changed = Signal(bool)
    result_changed = Signal()  # a new run's frames, or none
    frame_refined = Signal(int)  # the frame at this index now shows its exact decode

    index = Property(0, persist=False)
    length = Property(0, persist=False)
    playing = Property(False, persist=False)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frames: tuple[Frame, ...] = ()
        self.result: Result | None = None
        self.model = ""  # the model file or cascade the run used (for exact decodes of its frames)
        self.exact: set[int] = set()  # indices whose frame shows its exact decode
        self._timer = QTimer(self)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self._advance)

    def set_result(self, result: Result, model: str = "") -> None:
        self.result, self.model, self.exact = result, model, set()
        self.frames = result.frames
        self.length = len(self.frames)
        self.index = max(0, self.length - 1)
        self.result_changed.emit()

    def clear(self) -> None:
        self.stop()
        self.result, self.frames, self.model, self.exact = None, (), "", set()
        self.length, self.index = 0, 0
        self.result_changed.emit()

    def refine(self, index: int, frame: Frame) -> None:
        """Show `frame` (the exact decode of the frame at `index`) there from now on."""
        frames = list(self.frames)
        frames[index] = frame
        self.frames = tuple(frames)
        self.exact.add(index)
        self.frame_refined.emit(index)

    def current(self) -> Frame | None:
        return self.frames[self.index] if self.frames else None

    def play(self) -> None:
        if self.length:
            if self.index >= self.length - 1:
                self.index = 0
            self.playing = True
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.playing = False

    def _advance(self) -> None:
        if self.index >= self.length - 1:
            self.stop()
        else:
            self.index += 1

    def fork_point(self) -> ForkPoint | None:
        """The stored x_t of the selected step, ready to re-run from with changed settings.

        The fork keeps the parent's chain: the same number of positions for the forked stage (the frame
        says how many its plan had; a respaced chain has as many as its string names)."""
        frame = self.current()
        if frame is None or self.result is None:
            return None
        parent = self.result.recipe.settings
        full = frame.chain_length or (parent.steps if frame.stage is Stage.BASE else parent.sr_steps)
        low = self.result.base_output if frame.stage is Stage.SR else None
        return ForkPoint(frame.stage, frame.index, full, frame.x_t, low_res=low, step=frame.step + 1)
