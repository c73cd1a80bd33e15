"""The tool table drives the tool bar, the Tools menu, the keys and the cursor; bindings let go when asked;
the window shows the model being read at start-up and waits for it."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QLineEdit, QSlider

from studio.app.generation import GenerationModel
from studio.app.session import Session
from studio.ui.actions import COMMANDS, Menu
from studio.ui.bindings import bind_slider, bind_text, bind_to
from studio.ui.canvas_document import Layer
from studio.ui.main_window import build_window
from studio.ui.tools import TOOLS, Tool, command_name, tooltip


# --- the tool table ---------------------------------------------------------------------------------
def test_the_tool_bar_and_the_tools_menu_list_the_table_in_order(make_window):
    window = make_window()
    labels = [t.label for t in TOOLS]
    assert [a.text() for a in window.tool_bar.actions() if a.isCheckable()] == labels
    tools_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == Menu.TOOLS.value)
    assert [a.text() for a in tools_menu.actions()][: len(TOOLS)] == labels
    assert [c.keys for c in COMMANDS if c.name.startswith("tool.")] == [t.keys for t in TOOLS]
    assert tooltip().startswith("B brush · E eraser · M mask · Shift+M unmask · I pick a colour · G fill")


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.kind.value)
def test_choosing_a_tool_checks_only_its_action_and_sets_its_cursor(make_window, tool):
    window = make_window()
    window.actions[command_name(tool.kind)].trigger()
    assert window.tools.current is tool
    assert [k for k, a in window.tool_bar.tool_actions.items() if a.isChecked()] == [tool.kind]
    assert window.canvas.cursor().shape() == tool.cursor


def test_each_stroke_tool_edits_its_own_layer_only(make_window):
    window = make_window()
    doc, tools = window.doc, window.tools
    doc.hardness = 1.0
    for kind, changes, size in ((Tool.BRUSH, Layer.PAINT, 10), (Tool.MASK, Layer.MASK, 10),
                                (Tool.MASK_ERASER, Layer.MASK, 60), (Tool.ERASER, Layer.PAINT, 60)):
        paint, mask = doc.painting().copy(), doc.mask().copy()
        doc.brush_size = size  # the erasers wider than the strokes they take back
        tools.select(kind)
        tools.press(QPointF(40, 40))
        tools.move(QPointF(90, 60))
        tools.release()
        assert (not np.array_equal(doc.painting(), paint)) == (changes is Layer.PAINT), kind
        assert (not np.array_equal(doc.mask(), mask)) == (changes is Layer.MASK), kind
    assert doc.undo_stack.count() == 4 and doc.undo_stack.text(1) == "mask"
    assert (doc.mask() == 0).all() and (doc.painting() == 255).all()  # unmask and eraser took it all back


def test_the_eyedropper_takes_the_colour_under_the_pointer_and_changes_no_layer(make_window):
    window = make_window()
    doc = window.doc
    doc.colour = QColor(0, 128, 255)
    doc.fill(Layer.PAINT)
    doc.colour = QColor(1, 1, 1)
    window.tools.select(Tool.EYEDROPPER)
    window.tools.press(QPointF(100, 100))
    window.tools.release()
    assert doc.colour == QColor(0, 128, 255) and doc.undo_stack.count() == 1
    assert window.tool_bar.colour_button.styleSheet().startswith("background: #0080ff")


def test_switching_tools_mid_stroke_ends_the_stroke_as_one_undo_step(make_window):
    window = make_window()
    window.tools.press(QPointF(30, 30))
    window.tools.move(QPointF(80, 80))
    window.tools.select(Tool.MASK)
    window.tools.move(QPointF(120, 120))  # the button is still down, but the brush stroke is over
    assert window.doc.undo_stack.count() == 1 and window.doc.mask().max() == 0


# --- bindings ---------------------------------------------------------------------------------------
def test_a_binding_keeps_both_sides_in_step_until_disconnected(qtbot):
    model, line = GenerationModel(), QLineEdit()
    qtbot.addWidget(line)
    binding = bind_text(line, model, "prompt")
    line.setText("red apple")
    assert model.prompt == "red apple"
    model.prompt = "blue cat"
    assert line.text() == "blue cat"
    binding.disconnect()
    assert not binding.connected
    line.setText("ignored")
    model.prompt = "not shown"
    assert (model.prompt, line.text()) == ("not shown", "ignored")
    binding.disconnect()  # twice is harmless


def test_a_slider_binding_shows_the_value_and_lets_go(qtbot):
    model, slider, label = GenerationModel(), QSlider(), QLabel()
    slider.setRange(1, 100)
    binding = bind_slider(slider, label, model, "guidance_scale", 0.1, "{:.1f}")
    assert (slider.value(), label.text()) == (30, "3.0")
    slider.setValue(45)
    assert model.guidance_scale == 4.5 and label.text() == "4.5"
    binding.disconnect()
    model.guidance_scale = 9.0
    assert (slider.value(), label.text()) == (45, "4.5")


def test_bind_to_shows_the_value_now_and_on_every_change(qtbot):
    model, seen = GenerationModel(), []
    binding = bind_to(model, "steps", seen.append)
    model.steps = 12
    binding.disconnect()
    model.steps = 13
    assert seen == [30, 12]


def test_closing_the_window_lets_go_of_the_session(make_window):
    window = make_window()
    bindings = window.bindings + window.panel.bindings
    assert len(bindings) >= 15 and all(b.connected for b in bindings)
    window.close()
    assert not any(b.connected for b in bindings)
    window.session.generation.prompt = "after close"  # reaches no widget
    assert window.panel.prompt.toPlainText() != "after close"


# --- start-up -----------------------------------------------------------------------------------
def test_at_start_up_the_window_shows_at_once_and_says_which_model_it_is_opening(qtbot, tmp_path, tiny_cascade):
    folder = tmp_path / "start"
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("model/path", str(tiny_cascade))
    window = build_window(lambda doc: Session(doc, folder=folder, settings=settings))
    qtbot.addWidget(window)
    try:
        assert window.session.model is None  # still being read
        assert window.panel.model_name.full_text == f"opening {tiny_cascade.name}…"
        assert not window.panel.generate.isEnabled()
        with qtbot.waitSignal(window.session.model_changed, timeout=30_000):
            pass
        assert window.panel.model_name.full_text == "tiny  (16→32 px)" and window.panel.generate.isEnabled()
        qtbot.waitUntil(lambda: window.schedule.log_snr != [], timeout=10_000)  # its schedule follows
        assert len(window.schedule.chain) == window.session.generation.steps
    finally:
        window.session.shutdown()
