"""The schedule plot's view model: the curve of the stage on show, the current step, and SDEdit's start.

The curve (log SNR over t and the steps a run visits) needs the model's schedule in torch, so it is
computed in the background whenever the model, the step count, the spacing, the respacing string or the
stage on show changes. Its chain is the plan's (`engine.plan.chain_of`), so the plot shows the steps the
run will take; while a respacing string cannot respace the model's chain there is no curve (the panel says
why). In strokes
mode, moving the strength shows where the run will start (the t₀ line) and, for a moment, the painting
noised to x_t₀ — both from engine.forward_preview, which rounds exactly as the run does.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from studio.app.background import Background
from studio.app.generation import GenerationModel, Mode
from studio.app.properties import Property
from studio.core.enums import Spacing
from studio.core.events import Frame
from studio.core.settings import Stage
from studio.engine.forward_preview import alpha_bar_at_strength, noised_preview
from studio.engine.model_info import ModelSummary, ScheduleCurve, respacing_error, schedule_curve

PREVIEW_MS = 900  # how long the noised painting stays on the canvas after the strength last moved

CurveFn = Callable[[ModelSummary, int, Stage, Spacing, str], ScheduleCurve]


class Painting(Protocol):
    def painting(self) -> np.ndarray: ...


class _Task(Enum):
    CURVE = "schedule curve"  # a newer curve request supersedes an older one


class SchedulePreview(QObject):
    curve_changed = Signal(object)  # ScheduleCurve | None
    start_changed = Signal(object)  # int | None: SDEdit's start t₀ on the base chain
    current_changed = Signal(object)  # int | None: the timestep of the step on show
    noised_changed = Signal(object)  # uint8 [H, W, 3] while the strength moves, then None
    error = Signal(str)

    curve = Property(None, persist=False)
    start = Property(None, persist=False)
    current = Property(None, persist=False)

    def __init__(self, generation: GenerationModel, canvas: Painting, background: Background, *,
                 curve_of: CurveFn = schedule_curve, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.generation, self.canvas, self.background = generation, canvas, background
        self._curve_of = curve_of
        self.model: ModelSummary | None = None
        self.stage = Stage.BASE  # the stage whose chain is on show (the SR stage has its own)
        self.base_curve: ScheduleCurve | None = None  # SDEdit starts on the base chain
        self.noised: np.ndarray | None = None
        self._hide = QTimer(self, singleShot=True, interval=PREVIEW_MS)
        self._hide.timeout.connect(lambda: self._show_noised(None))
        g = generation
        g.steps_changed.connect(lambda _: self._request(Stage.BASE))
        g.sr_steps_changed.connect(lambda _: self._request(Stage.SR) if self.stage is Stage.SR else None)
        g.spacing_changed.connect(lambda _: self._request(self.stage))
        g.respacing_changed.connect(lambda _: self._request(Stage.BASE))
        g.sr_respacing_changed.connect(lambda _: self._request(Stage.SR) if self.stage is Stage.SR else None)
        g.strength_changed.connect(lambda _: self.preview_strength())
        g.mode_changed.connect(lambda _: self.preview_strength())

    def set_model(self, model: ModelSummary | None) -> None:
        self.model, self.base_curve = model, None
        self.curve = None
        self._update_start()
        self._request(Stage.BASE)

    def show_frame(self, frame: Frame | None) -> None:
        """Mark a step (live or on the timeline) on the plot of its own stage's chain."""
        if frame is not None and frame.stage is not self.stage:
            self._request(frame.stage)
        self.current = frame.t if frame is not None else None

    def preview_strength(self) -> None:
        """Move the t₀ line, and show the painting noised to x_t₀ for a moment (strokes mode only)."""
        abar = self._update_start()
        if abar is None:
            return
        self._show_noised(noised_preview(self.canvas.painting(), abar, seed=self.generation.seed))
        self._hide.start()

    def stop(self) -> None:
        """No more preview updates (the window is closing)."""
        self._hide.stop()

    # --- the curve ----------------------------------------------------------------------------
    def _request(self, stage: Stage) -> None:
        self.stage = stage
        if self.model is None:
            return
        g, model, curve_of = self.generation, self.model, self._curve_of  # the task gets values, not self
        base = stage is Stage.BASE
        steps, spacing = g.steps if base else g.sr_steps, g.spacing
        respacing = (g.respacing if base else g.sr_respacing).strip()
        if respacing_error(respacing, model.stage_schedule(stage)[1]) is not None:
            self.background.cancel(_Task.CURVE)
            self.curve = None  # the panel shows what is wrong with the string; a plot of another chain misleads
            if base:
                self.base_curve = None
                self._update_start()
            return
        self.background.run_in_background(lambda: curve_of(model, steps, stage, spacing, respacing), self._arrived,
                                          self._failed, key=_Task.CURVE)

    def _arrived(self, curve: ScheduleCurve) -> None:
        self.curve = curve
        if curve.stage is Stage.BASE:
            self.base_curve = curve
        self._update_start()
        if self._hide.isActive():  # the steps changed while the preview shows: show the new start
            self.preview_strength()

    def _failed(self, message: str) -> None:
        self.curve = None  # a plot of the wrong chain is worse than none
        self.error.emit(f"the schedule plot could not be drawn: {message}")

    # --- the strength preview -----------------------------------------------------------------
    def _update_start(self) -> float | None:
        """Set t₀ for the strength now; ᾱ at t₀, or None when there is nothing to preview."""
        g, curve = self.generation, self.base_curve
        if curve is None or g.mode is not Mode.STROKES:
            self.start = None
            return None
        t0, abar = alpha_bar_at_strength(list(curve.log_snr), list(curve.chain), g.strength)
        # ᾱ = 1 exactly when the strength is too low for a single step: the run keeps the painting, no line
        self.start = t0 if abar < 1.0 and self.stage is Stage.BASE else None
        return abar

    def _show_noised(self, image: np.ndarray | None) -> None:
        self.noised = image
        self.noised_changed.emit(image)
