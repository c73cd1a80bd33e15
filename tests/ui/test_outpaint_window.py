"""Edit → Outpaint… in the window, on the tiny cascade: the dialog's sides grow the canvas, the known pixels
stay, the new area is painted; Esc during the run leaves the canvas as it was."""

import numpy as np
from PySide6.QtCore import QSettings

from studio.app.session import Session
from studio.ui.actions import shortcut_rows
from studio.ui.main_window import build_window
from studio.ui.outpaint_dialog import OutpaintDialog
from tests.app.fakes import FakeRunner


def _dialog(window, qtbot, left=0, top=0, right=0, bottom=0, overlap=None) -> OutpaintDialog:
    window.actions["outpaint"].trigger()
    dialog = window.findChild(OutpaintDialog)
    assert dialog is not None and dialog.isVisible()
    for side, value in zip(("left", "top", "right", "bottom"), (left, top, right, bottom), strict=True):
        dialog.sides[side].setValue(value)
    if overlap is not None:
        dialog.overlap_box.setValue(overlap)
    return dialog


def _known_image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (256, 256, 3), dtype=np.uint8)


def test_outpaint_grows_the_canvas_keeps_the_known_pixels_and_paints_the_new_area(make_window, qtbot):
    window = make_window()
    window.session.generation.steps = 2
    image = _known_image()
    window.doc.restore_layers(image, None)
    dialog = _dialog(window, qtbot, left=8, bottom=16)
    with qtbot.waitSignal(window.session.runner.finished, timeout=120_000):
        dialog.accept()
    grown = window.doc.painting()
    assert grown.shape == (256 + 16, 256 + 8, 3)
    assert np.array_equal(grown[:256, 8:], image)  # inpainting keeps every known pixel exactly
    start = np.pad(image, ((0, 16), (8, 0), (0, 0)), mode="edge")  # the new area before painting
    new = np.zeros(grown.shape[:2], bool)
    new[:, :8], new[256:, :] = True, True
    assert (grown[new] != start[new]).any(axis=1).mean() > 0.9
    assert window.doc.mask().shape == grown.shape[:2] and not window.doc.mask().any()
    assert window.session.gallery.entries[0].image.shape == grown.shape
    view = window.canvas  # the grown canvas is fitted into the view, not cut off at its edges
    assert view.zoom * grown.shape[1] <= view.width() and view.zoom * grown.shape[0] <= view.height()
    window.doc.undo_stack.undo()  # one step back to the canvas before
    assert np.array_equal(window.doc.painting(), image) and window.doc.mask().shape == (256, 256)


def test_escape_during_outpainting_leaves_the_canvas_as_it_was(qtbot, tmp_path, tiny_cascade):
    runner = FakeRunner(hold_after=0)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("model/path", str(tiny_cascade))
    window = build_window(lambda doc: Session(doc, runner=runner, folder=tmp_path, settings=settings))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=30_000)
    image = _known_image()
    window.doc.restore_layers(image, None)
    window.session.runner.step.connect(lambda _: window.actions["cancel"].trigger())
    dialog = _dialog(window, qtbot, top=24)
    with qtbot.waitSignal(window.session.runner.cancelled, timeout=10_000):
        dialog.accept()
    assert np.array_equal(window.doc.painting(), image)
    assert window.session.gallery.entries == [] and window.statusBar().currentMessage() == "cancelled"
    window.session.shutdown()


def test_the_command_is_in_the_edit_menu_and_the_shortcuts_dialog(make_window):
    window = make_window()
    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    assert window.actions["outpaint"] in edit.actions()
    assert ("Ctrl+Shift+O", "Outpaint") in shortcut_rows()
