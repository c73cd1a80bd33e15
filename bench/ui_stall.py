"""The event loop's worst stall at start-up, while opening a model, and during a generation, with models of
the shipped size (DESIGN §3, issue 13 item 4).

A 5 ms QTimer records the gap between its ticks; the worst gap is the stall a user would feel. Three spans,
and an idle one (the window open, nothing happening) for the machine's own noise:
  start-up   build_window (settings, canvas, gallery; the last model's reading is only started), then from
             show() until that model is read and its schedule drawn
  open model File → Open model file… on another cascade never read before (every file validated and
             hashed), until it is read and its schedule drawn
  generate   text → image plus the cascade at default settings
Run:
    QT_QPA_PLATFORM=offscreen python bench/ui_stall.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

from bench.default_models import write_default_cascade  # noqa: E402
from studio.app.session import Session  # noqa: E402
from studio.ui.main_window import MainWindow, build_window  # noqa: E402

TARGET_MS = 30.0
TICK_MS = 5
IDLE_S = 3.0


@dataclass(frozen=True)
class Span:
    name: str
    seconds: float
    gaps_ms: tuple[float, ...]  # between timer ticks, sorted

    @property
    def worst(self) -> float:
        return self.gaps_ms[-1] if self.gaps_ms else 0.0

    def line(self) -> str:
        g = self.gaps_ms
        p99 = g[int(0.99 * len(g))] if g else 0.0
        verdict = "ok" if self.worst <= TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
        return (f"{self.name:<11} {self.seconds:6.2f} s  worst gap {self.worst:5.1f} ms  p99 {p99:5.1f} ms  "
                f"median {g[len(g) // 2] if g else 0.0:4.1f} ms  ({len(g)} ticks)  {verdict}")


def measure(name: str, start: Callable[[], object], done: Callable[[], bool]) -> Span:
    """Tick a timer, call `start`, and run Qt's event loop until `done()`; the gaps between ticks.

    The loop is Qt's own (QEventLoop.exec), as in the application (qasync runs Qt's loop): Python runs only
    in slots, so the bench adds no GIL hand-overs of its own (a processEvents/sleep polling loop takes the
    GIL back every millisecond, and each time waits for a busy background thread to let go of it)."""
    ticks: list[float] = []
    loop, timer = QEventLoop(), QTimer()
    timer.setInterval(TICK_MS)

    def tick() -> None:
        ticks.append(time.perf_counter())
        if done():
            loop.quit()

    timer.timeout.connect(tick)
    timer.start()
    began = time.perf_counter()
    start()
    loop.exec()
    seconds = time.perf_counter() - began
    timer.stop()
    gaps = sorted((b - a) * 1000 for a, b in zip(ticks, ticks[1:], strict=False))
    return Span(name, seconds, tuple(gaps))


def model_ready(window: MainWindow) -> Callable[[], bool]:
    """Read, and its schedule drawn: nothing of the opening is left in the background."""
    s = window.session
    return lambda: s.model is not None and not s.opening and not s.background.busy and bool(window.schedule.log_snr)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)  # noqa: F841 - the loops below need it
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        last = write_default_cascade(folder / "last")
        other = write_default_cascade(folder / "other")  # never read before: every file validated and hashed
        settings = QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat)
        settings.setValue("model/path", str(last))

        began = time.perf_counter()
        window = build_window(lambda doc: Session(doc, folder=folder / "data", settings=settings))
        built = time.perf_counter() - began
        spans = [measure("start-up", window.show, model_ready(window))]

        # the machine's own noise: the same timer with nothing to do (other processes, the scheduler)
        until = time.perf_counter() + IDLE_S
        spans.append(measure("idle", lambda: None, lambda: time.perf_counter() > until))

        QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(other / "cascade.json"), ""))
        opened = window.session.model

        def open_from_menu() -> None:
            window.actions["open_model"].trigger()  # File → Open model file…

        spans.append(measure("open model", open_from_menu,
                             lambda: window.session.model is not opened and model_ready(window)()))

        done = []
        window.session.runner.finished.connect(done.append)
        window.session.runner.failed.connect(lambda m: (print(m), done.append(None)))
        spans.append(measure("generate", window.session.generate, lambda: bool(done)))
        result = done[0]

        print(f"build_window (before the window shows): {built:.2f} s")
        for span in spans:
            print(span.line())
        if result is not None:
            print(f"generation: {len(result.frames)} steps (base 30 + SR 20)")
        print(f"worst event-loop gap over the working spans: {max(s.worst for s in spans if s.name != 'idle'):.1f} ms "
              f"(timer interval {TICK_MS} ms; target worst ≤ {TARGET_MS:.0f} ms)")
        window.session.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
