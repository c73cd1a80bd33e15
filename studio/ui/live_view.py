"""Live view: x̂₀ beside x_t at every step, then a timeline to scrub, play, fork and export."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from studio.app.session import Session
from studio.core.events import Frame, StepEvent
from studio.ui.canvas_document import rgb_to_qimage

VIEW = 176


def _pixmap(batch: np.ndarray) -> QPixmap:
    """The first image of a batch, scaled up without smoothing (pixels stay visible)."""
    return QPixmap.fromImage(rgb_to_qimage(batch[0])).scaled(VIEW, VIEW, Qt.AspectRatioMode.KeepAspectRatio,
                                                             Qt.TransformationMode.FastTransformation)


class LiveView(QWidget):
    export_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.step_previews = 0  # previews shown live during runs (tests count them)
        grid = QGridLayout()
        self.x0_view, self.xt_view = QLabel(), QLabel()
        # (a plain x₀: the combining hat of x̂₀ renders detached in common UI fonts)
        for col, (title, view) in enumerate((("Predicted x₀ — the model's guess of the clean image", self.x0_view),
                                             ("x_t — the noisy image at this step", self.xt_view))):
            caption = QLabel(title)
            caption.setWordWrap(True)
            view.setFixedSize(VIEW, VIEW)
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
            view.setStyleSheet("background: #222; border: 1px solid #555;")
            grid.addWidget(caption, 0, col)
            grid.addWidget(view, 1, col)
        self.step_label = QLabel("no run yet")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.play = QPushButton("▶ Play")
        self.fork = QPushButton("Fork from here")
        self.fork.setToolTip("re-run from this step's x_t with the prompt, guidance, seed or mask now set")
        self.export = QPushButton("Export sequence…")
        controls = QHBoxLayout()
        for w in (self.play, self.fork, self.export):
            controls.addWidget(w)
        self.partial_bar = QWidget()
        partial = QHBoxLayout(self.partial_bar)
        partial.setContentsMargins(0, 0, 0, 0)
        self.partial_label = QLabel("Cancelled: keep the last predicted x₀?")
        self.keep = QPushButton("Keep")
        self.drop = QPushButton("Drop")
        for w in (self.partial_label, self.keep, self.drop):
            partial.addWidget(w)
        self.partial_bar.hide()
        column = QVBoxLayout(self)
        column.addLayout(grid)
        column.addWidget(self.step_label)
        column.addWidget(self.slider)
        column.addLayout(controls)
        column.addWidget(self.partial_bar)
        self._wire()

    def _wire(self) -> None:
        s, timeline = self.session, self.session.timeline
        s.runner.step.connect(self.on_step)
        timeline.length_changed.connect(self._on_length)
        timeline.index_changed.connect(self._on_index)
        timeline.frame_refined.connect(lambda i: self._on_index(i) if i == timeline.index else None)
        timeline.playing_changed.connect(lambda p: self.play.setText("■ Stop" if p else "▶ Play"))
        self.slider.valueChanged.connect(lambda v: setattr(timeline, "index", v))
        self.play.clicked.connect(lambda: timeline.stop() if timeline.playing else timeline.play())
        self.fork.clicked.connect(s.fork_from_current_step)
        self.export.clicked.connect(self.export_requested)
        self.keep.clicked.connect(s.keep_partial)
        self.drop.clicked.connect(s.drop_partial)
        s.partial_changed.connect(self._on_partial)
        self._on_length(0)

    def on_step(self, event: StepEvent) -> None:
        self.show_frame(event.frame)
        self.step_previews += 1

    def show_frame(self, frame: Frame, exact: bool = False) -> None:
        """A step's previews; a latent model's say whether they are the quick preview or the exact decode."""
        self.x0_view.setPixmap(_pixmap(frame.x0_preview))
        self.xt_view.setPixmap(_pixmap(frame.x_t_preview))
        kind = " · exact decode" if exact else " · quick latent preview" if frame.x0 is not None else ""
        self.step_label.setText(f"{frame.stage.value} step {frame.step + 1} of {frame.total} · t = {frame.t}{kind}")

    def _on_length(self, length: int) -> None:
        self.slider.setEnabled(length > 0)
        self.slider.setRange(0, max(0, length - 1))
        for w in (self.play, self.fork, self.export):
            w.setEnabled(length > 0)

    def _on_index(self, index: int) -> None:
        if self.slider.value() != index:
            self.slider.setValue(index)
        timeline = self.session.timeline
        frame = timeline.current()
        if frame is not None:
            self.show_frame(frame, exact=timeline.index in timeline.exact)

    def _on_partial(self, images) -> None:
        self.partial_bar.setVisible(images is not None)
        if images is not None:
            self.x0_view.setPixmap(_pixmap(images))
