"""Session.outpaint on the fake engine: the canvas grows by the sides asked for once the run ends, the result
joins the gallery, and a cancelled or refused run leaves the canvas as it was."""

import numpy as np

from studio.core.jobs import Inpaint
from tests.app.fakes import SIZE


def test_outpainting_grows_the_canvas_by_each_side_and_fills_the_new_area(opened, fake_runner, qtbot):
    before = opened.canvas.paint.copy()  # 16×16 white
    progress = []
    opened.runner.progress_changed.connect(progress.append)
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        assert opened.outpaint((4, 0, 0, 4)) is not None
    grown = opened.canvas.paint
    assert grown.shape == (16 + 4, 16 + 4, 3)
    assert opened.canvas.placed[-1][1] == "outpaint"
    # the fake paints every window grey at 10·steps = 30: the new strips are all painted
    assert (grown[:, :4] == 30).all() and (grown[16:, :] == 30).all()
    assert before.shape == (16, 16, 3)
    assert all(isinstance(j, Inpaint) and j.image.shape == (SIZE, SIZE, 3) for j in fake_runner.jobs)
    assert progress[-1] == 1.0 and progress == sorted(progress)  # one bar over all windows
    entry = opened.gallery.entries[0]
    assert entry.image.shape == (20, 20, 3) and (entry.recipe.width, entry.recipe.height) == (20, 20)


def test_a_cancelled_outpainting_leaves_the_canvas_and_the_gallery_as_they_were(opened, fake_runner, qtbot):
    opened.canvas.paint[:] = 77
    fake_runner.hold_after = 0
    press_escape = opened.runner.step.connect(lambda e: opened.cancel())
    with qtbot.waitSignal(opened.runner.cancelled, timeout=10_000):
        opened.outpaint((0, 0, 8, 0))
    opened.runner.step.disconnect(press_escape)
    assert opened.canvas.paint.shape == (16, 16, 3) and (opened.canvas.paint == 77).all()
    assert opened.canvas.placed == [] and opened.gallery.entries == [] and opened.partial is None
    fake_runner.hold_after = None  # and the next ordinary run's result does not become the canvas
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.generate()
    assert opened.canvas.placed == []


def test_a_bad_size_is_one_error_line_and_no_run(opened, fake_runner, qtbot):
    errors = []
    opened.error.connect(errors.append)
    assert opened.outpaint((0, 0, 0, 0)) is None
    assert opened.outpaint((4, 0, 0, 0), overlap=SIZE) is None
    assert errors == ["grow the canvas on at least one side", f"the overlap must lie in [0, {SIZE - 1}] px, got 8"]
    assert fake_runner.jobs == [] and not opened.runner.running
    assert (opened.canvas.paint == np.full((16, 16, 3), 255, np.uint8)).all()
