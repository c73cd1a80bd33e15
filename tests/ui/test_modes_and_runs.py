"""The panel's combo boxes, the one-run-at-a-time rule, seeds, cancelling, and settings that survive a crash.

Every test drives the widgets a user touches (combo boxes, buttons, keys), then checks the job that ran.
"""

import pytest
from PySide6.QtCore import QPointF, QSettings, Qt

from studio.app.generation import Mode
from studio.core.enums import SamplerKind
from studio.core.settings import JobKind
from studio.ui.canvas_document import Tool


def _run(window, qtbot, *, click=True):
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000) as blocker:
        if click:
            window.panel.generate.click()
        else:
            window.session.generate()
    return blocker.args[0]


def _mask(window):
    window.doc.tool = Tool.MASK
    window.doc.begin_stroke(QPointF(20, 20))
    window.doc.continue_stroke(QPointF(90, 80))
    window.doc.end_stroke()


@pytest.mark.parametrize("mode", list(Mode))
def test_choosing_a_mode_in_the_combo_box_runs_a_job_of_that_kind(make_window, qtbot, mode):
    window = make_window()
    g = window.session.generation
    g.steps, g.sr_steps, g.cascade = 3, 2, False
    if mode is Mode.INPAINT:
        _mask(window)
    window.panel.mode.setCurrentIndex(0 if mode is not Mode.TEXT else 1)  # touch the box first, as a user does
    window.panel.mode.setCurrentIndex(list(Mode).index(mode))
    assert type(g.mode) is Mode and g.mode is mode
    result = _run(window, qtbot)
    assert result.recipe.kind is mode.kind
    assert window.panel.mode.currentText() == mode.label


def test_choosing_a_sampler_in_the_combo_box_sets_the_enum_the_run_records(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 3, False
    for index, kind in enumerate(SamplerKind):
        window.panel.sampler.setCurrentIndex(index)
        assert type(g.sampler) is SamplerKind and g.sampler is kind
    window.panel.sampler.setCurrentIndex(list(SamplerKind).index(SamplerKind.DDPM))
    assert _run(window, qtbot).recipe.settings.sampler is SamplerKind.DDPM


def test_reuse_settings_puts_the_mode_enum_and_the_combo_box_back(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 3, False
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.STROKES))
    strokes = _run(window, qtbot)
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.TEXT))
    g.apply(strokes.recipe)
    assert type(g.mode) is Mode and g.mode is Mode.STROKES
    assert window.panel.mode.currentText() == Mode.STROKES.label
    assert _run(window, qtbot).recipe.kind is JobKind.STROKES_TO_IMAGE


def test_generate_during_a_run_is_refused_by_every_path_and_running_lasts_until_the_run_ends(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 30, False
    submitted = []
    window.session.runner.finished.connect(lambda r: submitted.append(r))
    window.show()
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000):
        first = window.session.generate()
        assert first is not None and window.session.runner.running
        qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        window.panel.generate.click()  # disabled, and refused even if it were not
        assert window.session.generate() is None
        assert window.session.runner.running
    qtbot.wait(300)  # any second job would have started and finished on the 3-step tiny model by now
    assert len(submitted) == 1 and not window.session.runner.running


def test_each_run_gets_a_fresh_seed_unless_locked_and_the_box_shows_the_seed_used(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade, g.seed_locked = 2, False, False
    seeds = [_run(window, qtbot).recipe.settings.seed for _ in range(3)]
    assert len(set(seeds)) == 3 and window.panel.seed.value() == seeds[-1]
    window.panel.seed_lock.setChecked(True)
    locked = [_run(window, qtbot).recipe.settings.seed for _ in range(2)]
    assert locked == [seeds[-1], seeds[-1]]


@pytest.mark.parametrize("how", ["escape", "button"])
def test_cancel_through_escape_or_the_button_stops_the_run(make_window, qtbot, how):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 200, False
    window.show()
    window.activateWindow()

    def cancel_at_step_2(event):
        if event.frame.step == 2:
            if how == "escape":
                qtbot.keyClick(window, Qt.Key.Key_Escape)
            else:
                window.panel.cancel.click()

    window.session.runner.step.connect(cancel_at_step_2)
    with qtbot.waitSignal(window.session.runner.cancelled, timeout=60_000) as blocker:
        window.panel.generate.click()
    assert blocker.args[0].last_x0 is not None
    assert not window.session.runner.running and window.panel.generate.isEnabled()


def test_settings_are_saved_soon_after_a_change_without_a_normal_quit(make_window, qtbot, tmp_path):
    window = make_window()
    window.panel.prompt.setPlainText("crash-proof prompt")
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.INPAINT))
    window.panel.steps_slider.setValue(77)
    stored = QSettings(str(tmp_path / "data" / "settings.ini"), QSettings.Format.IniFormat)

    def saved():
        stored.sync()
        return stored.value("generation/prompt") == "crash-proof prompt"

    qtbot.waitUntil(saved, timeout=5_000)
    again = make_window()  # the first window was never closed: as after a crash
    g = again.session.generation
    assert (g.prompt, g.mode, g.steps) == ("crash-proof prompt", Mode.INPAINT, 77)
