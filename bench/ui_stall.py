"""The event loop's worst stall during a generation, with models of the shipped size (DESIGN §3).

A 5 ms QTimer records the gap between its ticks while the window runs text → image plus the
cascade at default settings; the worst gap over 5 ms is the stall. Run:
    QT_QPA_PLATFORM=offscreen python bench/ui_stall.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.default_models import write_default_cascade  # noqa: E402
from studio.app.session import Session  # noqa: E402
from studio.ui.main_window import build_window  # noqa: E402


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cascade = write_default_cascade(folder / "models")
        settings = QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat)
        settings.setValue("model/path", str(cascade))
        window = build_window(lambda doc: Session(doc, folder=folder / "data", settings=settings))
        window.show()
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(tick)
        done = []
        window.session.runner.finished.connect(done.append)
        window.session.runner.failed.connect(lambda m: (print(m), done.append(None)))
        started = time.perf_counter()
        timer.start()
        window.session.generate()
        while not done:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        seconds = time.perf_counter() - started
        result = done[0]
        gaps_ms = sorted(g * 1000 for g in gaps[1:])
        print(f"generation: {seconds:.1f} s, {len(result.frames)} steps (base 30 + SR 20), "
              f"{len(gaps_ms)} timer ticks")
        print(f"event-loop gap: worst {gaps_ms[-1]:.1f} ms, p99 {gaps_ms[int(0.99 * len(gaps_ms))]:.1f} ms, "
              f"median {gaps_ms[len(gaps_ms) // 2]:.1f} ms (timer interval 5 ms; target worst ≤ 30 ms)")
        window.session.runner.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
