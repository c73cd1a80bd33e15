"""A small plot of log SNR over t, the respaced timesteps, the current step and SDEdit's start t₀."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class SchedulePlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_snr: list[float] = []
        self.chain: list[int] = []
        self.current_t: int | None = None
        self.start_t: int | None = None
        self.stage = "base"
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("log SNR = log(ᾱ/(1−ᾱ)) over t; ticks: the steps this run visits; "
                        "orange: the current step; blue: where strokes → image starts (t₀)")

    def set_schedule(self, log_snr: list[float], chain: list[int], stage: str = "base") -> None:
        self.log_snr, self.chain, self.stage = list(log_snr), list(chain), stage
        self.update()

    def show_curve(self, curve) -> None:
        """A schedule curve of the view model (log_snr, chain, stage), or None: nothing to draw yet."""
        if curve is None:
            self.set_schedule([], [])
        else:
            self.set_schedule(curve.log_snr, curve.chain, curve.stage.value)

    def set_current(self, t: int | None) -> None:
        self.current_t = t
        self.update()

    def set_start(self, t: int | None) -> None:
        self.start_t = t
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(40, 40, 44))
        painter.setPen(QColor(200, 200, 200))
        painter.drawText(6, 14, "log SNR over t")
        if not self.log_snr:
            painter.drawText(6, 34, "open a model to see its schedule")
            return
        left, top, right, bottom = 8.0, 20.0, self.width() - 8.0, self.height() - 18.0
        lo, hi = min(self.log_snr), max(self.log_snr)
        n = len(self.log_snr)

        def point(t: int) -> QPointF:
            y = bottom - (self.log_snr[t] - lo) / max(hi - lo, 1e-9) * (bottom - top)
            return QPointF(left + t / max(n - 1, 1) * (right - left), y)

        path = QPainterPath(point(0))
        for t in range(1, n, max(1, n // 200)):
            path.lineTo(point(t))
        painter.setPen(QPen(QColor(150, 210, 150), 1.5))
        painter.drawPath(path)
        painter.setPen(QPen(QColor(170, 170, 170), 1))
        for t in self.chain:
            x = point(t).x()
            painter.drawLine(QPointF(x, bottom + 2), QPointF(x, bottom + 8))
        painter.setPen(QColor(200, 200, 200))
        label = f"{self.stage} · t = 0 … {n - 1} · {len(self.chain)} steps"
        painter.drawText(int(right - painter.fontMetrics().horizontalAdvance(label)), 14, label)
        for t, colour in ((self.start_t, QColor(90, 160, 255)), (self.current_t, QColor(255, 160, 40))):
            if t is not None and 0 <= t < n:
                painter.setPen(QPen(colour, 2, Qt.PenStyle.SolidLine))
                x = point(t).x()
                painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        painter.end()
