"""Painting must not take references away from None.

PySide6-Essentials 6.12.0 on CPython 3.11 drops one reference to `None` on every QPainter call that
returns nothing; once the count reaches zero the interpreter aborts (`none_dealloc`). pyproject.toml
keeps PySide6 below 6.12 for that reason; this test guards whatever combination is installed.
"""

import gc
import sys

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

ROUNDS = 5_000
CHECK_EVERY = 100
# the leak loses dozens of references per paint of the plot; ordinary bookkeeping moves the count by a few
TOLERANCE = 50


def _none_count() -> int:
    gc.collect()
    return sys.getrefcount(None)


def test_painting_the_schedule_plot_live_view_and_canvas_5000_times_keeps_none_alive(make_window):
    window = make_window(model=None)
    window.schedule.set_schedule([float(v) for v in np.linspace(8, -8, 1000)], list(range(0, 1000, 5)))
    window.schedule.set_current(500)
    window.schedule.set_start(700)
    window.tools.press(QPointF(10, 10))
    window.tools.move(QPointF(60, 40))
    window.tools.release()
    target = QImage(400, 300, QImage.Format.Format_ARGB32)
    start = _none_count()
    for n in range(1, ROUNDS + 1):
        for widget in (window.schedule, window.live, window.canvas):
            widget.render(target)
        if n % CHECK_EVERY == 0:
            # stop at the first fall, before a leaking build could bring the count to zero and abort
            lost = start - _none_count()
            assert lost <= TOLERANCE, f"None lost {lost} references after {n} paints"
