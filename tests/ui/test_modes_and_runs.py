"""The panel's combo boxes, the one-run-at-a-time rule, seeds, cancelling, and settings that survive a crash.

Every test drives the widgets a user touches (combo boxes, buttons, keys), then checks the job that ran.
"""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt

from studio.app.export import ExportFormat
from studio.app.generation import Mode
from studio.core.enums import SamplerKind
from studio.core.settings import JobKind
from studio.ui.tools import Tool


def _run(window, qtbot):
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000) as blocker:
        window.panel.generate.click()
    return blocker.args[0]


def _activate(window, qtbot):
    """Keys reach the window's shortcuts only while it is the active window."""
    window.show()
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)


def _mask(window):
    window.tools.select(Tool.MASK)
    window.tools.press(QPointF(20, 20))
    window.tools.move(QPointF(90, 80))
    window.tools.release()


def _count_submissions(runner) -> list:
    """Record every job handed to the worker: the button, the keys and the menu all end in runner.submit."""
    submitted = []
    submit = runner.submit
    runner.submit = lambda job: submitted.append(job) or submit(job)
    return submitted


# --- combo boxes set real enums ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(Mode))
def test_choosing_a_mode_in_the_combo_box_runs_a_job_of_that_kind(make_window, qtbot, mode):
    window = make_window()
    g = window.session.generation
    g.steps, g.sr_steps, g.cascade = 3, 2, False
    if mode is Mode.INPAINT:
        _mask(window)
    submitted = _count_submissions(window.session.runner)
    window.panel.mode.setCurrentIndex(0 if mode is not Mode.TEXT else 1)  # touch the box first, as a user does
    window.panel.mode.setCurrentIndex(list(Mode).index(mode))
    assert type(g.mode) is Mode and g.mode is mode
    result = _run(window, qtbot)
    assert [job.kind for job in submitted] == [mode.kind]
    assert result.recipe.kind is mode.kind
    assert window.session.gallery.entries[0].recipe.kind is mode.kind
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


def test_the_sr_stage_s_sampler_and_guidance_are_set_in_the_cascade_box_and_reach_its_run(make_window, qtbot):
    window = make_window()
    panel, g = window.panel, window.session.generation
    g.steps, g.sr_steps = 3, 2
    assert panel.sr_sampler.currentText() == "as Sampler" and g.sr_sampler == ""
    panel.sr_sampler.setCurrentIndex(1 + list(SamplerKind).index(SamplerKind.DDPM))
    panel.sr_guidance_slider.setValue(25)  # steps of 0.1
    assert (g.sr_sampler, g.sr_guidance_scale) == (SamplerKind.DDPM, 2.5)
    settings = _run(window, qtbot).recipe.settings
    assert (settings.sampler, settings.sr_sampler, settings.sr_guidance_scale) == (SamplerKind.DDIM,
                                                                                   SamplerKind.DDPM, 2.5)
    panel.cascade.setChecked(False)  # no SR stage: neither applies
    assert not panel.sr_sampler.isEnabled() and not panel.sr_guidance_slider.isEnabled()


def test_reuse_in_the_gallery_puts_the_mode_enum_and_the_combo_box_back(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 3, False
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.STROKES))
    strokes = _run(window, qtbot)
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.TEXT))
    window.gallery.list.setCurrentRow(0)
    window.gallery.buttons["reuse"].click()
    assert type(g.mode) is Mode and g.mode is Mode.STROKES
    assert window.panel.mode.currentText() == Mode.STROKES.label
    again = _run(window, qtbot)
    assert again.recipe.kind is JobKind.STROKES_TO_IMAGE
    assert again.recipe.settings.seed == strokes.recipe.settings.seed  # reuse locks the seed: the same picture


def test_opening_a_studio_png_puts_its_mode_enum_back_and_the_next_run_is_of_that_kind(make_window, qtbot, tmp_path):
    from studio.images.files import save_png
    from studio.images.metadata import png_chunks

    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 3, False
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.STROKES))
    made = _run(window, qtbot)
    path = save_png(tmp_path / "made.png", made.images[0], png_chunks(made.recipe))
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.TEXT))
    window.canvas.image_dropped.emit(str(path))  # as a file dropped on the canvas
    assert type(g.mode) is Mode and g.mode is Mode.STROKES
    assert window.panel.mode.currentText() == Mode.STROKES.label
    assert _run(window, qtbot).recipe.kind is JobKind.STROKES_TO_IMAGE


def test_the_mode_is_stored_by_its_stable_identifier_not_its_label(make_window, tmp_path):
    window = make_window()
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.STROKES))
    window.session.save_settings()
    stored = QSettings(str(tmp_path / "data" / "settings.ini"), QSettings.Format.IniFormat)
    assert stored.value("generation/mode") == JobKind.STROKES_TO_IMAGE.value == "strokes-to-image"
    assert Mode.STROKES.label == "Strokes → image"


def test_the_export_format_combo_box_gives_the_format_enum_and_the_files_follow_it(make_window, qtbot, tmp_path):
    window = make_window()
    window.session.gallery.add(np.zeros((16, 16, 3), np.uint8), None)
    dialog = window.export_gallery()
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    for index, fmt in enumerate(ExportFormat):
        dialog.fmt.setCurrentIndex(index)
        assert type(dialog.request().fmt) is ExportFormat and dialog.request().fmt is fmt
    out.mkdir()
    dialog.fmt.setCurrentIndex(list(ExportFormat).index(ExportFormat.WEBP))
    with qtbot.waitSignal(window.exporter.finished, timeout=10_000):
        dialog.export.click()
    assert [p.suffix for p in out.iterdir()] == [".webp"]


# --- one run at a time ----------------------------------------------------------------------------
def test_ctrl_enter_twice_runs_one_job_and_running_lasts_until_it_ends(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 30, False
    runner = window.session.runner
    submitted = _count_submissions(runner)
    running = []
    runner.running_changed.connect(running.append)
    _activate(window, qtbot)
    with qtbot.waitSignal(runner.finished, timeout=60_000):
        qtbot.keyClick(window.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(window.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        assert len(submitted) == 1 and runner.running
        assert window.statusBar().currentMessage() == "a run is going: Esc cancels it"
        window.actions["generate"].trigger()  # Run → Generate
        window.panel.generate.click()  # disabled while running, and refused if it were not
        assert len(submitted) == 1 and runner.running
    assert running == [True, False]  # true from the start to the end of the one run, never false between
    assert window.panel.generate.isEnabled()
    with qtbot.waitSignal(runner.finished, timeout=60_000):
        window.actions["generate"].trigger()  # once the run has ended, the next one starts
    assert len(submitted) == 2


@pytest.mark.parametrize("how", ["escape", "button"])
def test_cancel_through_escape_or_the_button_stops_the_run_within_a_step(make_window, qtbot, how):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 200, False
    _activate(window, qtbot)
    steps = []

    def cancel_at_step_2(event):
        steps.append(event.frame.step)
        if event.frame.step == 2:
            if how == "escape":
                qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
            else:
                window.panel.cancel.click()

    window.session.runner.step.connect(cancel_at_step_2)
    with qtbot.waitSignal(window.session.runner.cancelled, timeout=60_000) as blocker:
        window.panel.generate.click()
    assert blocker.args[0].last_x0 is not None
    assert max(steps) < 10  # the worker stops within a step of the flag; 200 would mean it never saw it
    assert not window.session.runner.running and window.panel.generate.isEnabled()
    assert window.live.partial_bar.isVisibleTo(window) and not window.session.gallery.entries


def test_a_cancelled_run_can_be_dropped_or_kept(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 200, False
    window.session.runner.step.connect(lambda e: window.panel.cancel.click() if e.frame.step == 1 else None)
    for button, kept in ((window.live.drop, 0), (window.live.keep, 1)):
        with qtbot.waitSignal(window.session.runner.cancelled, timeout=60_000):
            window.panel.generate.click()
        assert window.session.partial is not None
        button.click()
        assert window.session.partial is None and not window.live.partial_bar.isVisibleTo(window)
        assert len(window.session.gallery.entries) == kept
    assert window.session.gallery.entries[0].recipe is None  # a kept partial is not reproducible


# --- seeds ----------------------------------------------------------------------------------------
def test_each_run_gets_a_fresh_seed_unless_locked_and_the_box_and_status_show_the_seed_used(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade, g.seed_locked = 2, False, False
    seeds = []
    for _ in range(3):
        seed = _run(window, qtbot).recipe.settings.seed
        seeds.append(seed)
        assert window.panel.seed.value() == seed
        assert window.panel.status.text().startswith(f"seed {seed} · done")
    assert len(set(seeds)) == 3
    assert window.gallery.list.item(0).text().endswith(f"seed {seeds[-1]}")  # the newest result comes first
    window.panel.seed_lock.setChecked(True)
    locked = [_run(window, qtbot).recipe.settings.seed for _ in range(2)]
    assert locked == [seeds[-1], seeds[-1]] and window.panel.seed.value() == seeds[-1]


# --- settings survive a crash ---------------------------------------------------------------------
def test_settings_are_saved_soon_after_a_change_without_a_normal_quit(make_window, qtbot, tmp_path):
    window = make_window()
    window.panel.prompt.setPlainText("crash-proof prompt")
    window.panel.negative.setText("blur")
    window.panel.mode.setCurrentIndex(list(Mode).index(Mode.INPAINT))
    window.panel.sampler.setCurrentIndex(list(SamplerKind).index(SamplerKind.DDPM))
    window.panel.steps_slider.setValue(77)
    window.panel.guidance_slider.setValue(45)
    stored = QSettings(str(tmp_path / "data" / "settings.ini"), QSettings.Format.IniFormat)

    def saved():
        stored.sync()
        return stored.value("generation/guidance_scale") is not None

    assert not saved()  # not at once: changes are gathered for half a second
    qtbot.waitUntil(saved, timeout=5_000)
    again = make_window()  # the first window was never closed: as after a crash
    g = again.session.generation
    assert (g.prompt, g.negative_prompt, g.mode, g.sampler, g.steps, g.guidance_scale) == (
        "crash-proof prompt", "blur", Mode.INPAINT, SamplerKind.DDPM, 77, 4.5)
    assert type(g.mode) is Mode and type(g.sampler) is SamplerKind
    assert again.session.model_path == window.session.model_path != ""
