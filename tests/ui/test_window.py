"""The window, offscreen, with a tiny model: painting, generating, cancelling, forking, saving."""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor

from studio.app.generation import Mode
from studio.images.sequences import SequenceFormat
from studio.ui.canvas_document import Layer
from studio.ui.tools import Tool


def _drag(qtbot, view, start, end):
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, 11):
        p = start + (end - start) * (i / 10)
        qtbot.mouseMove(view, QPoint(int(p.x()), int(p.y())))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def _activate(window, qtbot):
    window.show()
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)


def _stroke(window, qtbot):
    view = window.canvas
    frame = view._frame()
    start = QPoint(int(frame.x() + 40), int(frame.y() + 40))
    end = QPoint(int(frame.x() + 300), int(frame.y() + 200))
    _drag(qtbot, view, start, end)


def test_a_brush_stroke_changes_the_paint_layer_and_undo_redo_restore_it(make_window, qtbot):
    window = make_window()
    window.show()
    before = window.doc.painting().copy()
    _stroke(window, qtbot)
    after = window.doc.painting()
    assert (after != before).any(axis=2).sum() > 200
    window.doc.undo_stack.undo()
    assert np.array_equal(window.doc.painting(), before)
    window.doc.undo_stack.redo()
    assert np.array_equal(window.doc.painting(), after)


def test_mask_painting_marks_the_mask_and_leaves_the_painting(make_window, qtbot):
    window = make_window()
    _activate(window, qtbot)
    qtbot.keyClick(window.canvas, Qt.Key.Key_M)
    assert window.tools.current.kind is Tool.MASK
    painting = window.doc.painting().copy()
    _stroke(window, qtbot)
    assert window.doc.mask().max() == 255 and (window.doc.mask() > 0).sum() > 200
    assert np.array_equal(window.doc.painting(), painting)
    window.doc.clear(Layer.MASK)
    assert window.doc.mask().max() == 0


def test_a_full_generate_shows_one_preview_per_step_and_fills_the_gallery(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.prompt, g.steps, g.sr_steps, g.seed, g.seed_locked = "red apple", 6, 3, 5, True
    _activate(window, qtbot)
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000) as blocker:
        qtbot.keyClick(window.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    result = blocker.args[0]
    assert window.live.step_previews == 9 and len(result.frames) == 9
    entry = window.session.gallery.entries[0]
    assert entry.recipe.settings.prompt == "red apple" and entry.recipe.settings.seed == 5
    assert window.gallery.list.count() == 1
    assert window.session.timeline.length == 9
    assert "done" in window.panel.status.text()


def test_cancel_ends_the_run_and_offers_the_last_prediction(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 200, False
    window.session.runner.step.connect(lambda e: window.session.cancel() if e.frame.step == 1 else None)
    with qtbot.waitSignal(window.session.runner.cancelled, timeout=60_000):
        window.session.generate()
    assert window.session.partial is not None and window.live.partial_bar.isVisibleTo(window)
    window.session.keep_partial()
    assert window.session.gallery.entries[0].recipe is None
    assert not window.session.runner.running


def test_fork_from_a_step_reruns_from_its_stored_x_t(make_window, qtbot):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade, g.prompt = 8, False, "red apple"
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000):
        window.session.generate()
    parent = window.session.last_result
    window.session.timeline.index = 3
    g.prompt = "blue cat"
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000) as blocker:
        window.live.fork.click()
    forked = blocker.args[0]
    assert forked.recipe.fork == ("base", 4)  # the timeline showed "base step 4 of 8"
    assert parent.frames[3].step + 1 == 4
    assert len(forked.frames) == 8 - 3 and forked.recipe.settings.prompt == "blue cat"
    assert np.array_equal(forked.frames[0].x_t, parent.frames[3].x_t)


def test_the_sequence_exports_as_gif_and_contact_sheet(make_window, qtbot, tmp_path):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade = 5, False
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000):
        window.session.generate()
    for name, fmt in (("steps.gif", SequenceFormat.GIF), ("sheet.png", SequenceFormat.SHEET)):
        with qtbot.waitSignal(window.session.message, timeout=10_000) as blocker:
            window.session.export_sequence(tmp_path / name, fmt)
        assert blocker.args[0] == f"5 steps exported to {tmp_path / name}"
    from PIL import Image

    with Image.open(tmp_path / "steps.gif") as gif:
        assert gif.n_frames == 5
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.size == (5 * 16, 2 * 16)


def test_settings_come_back_after_a_restart(make_window, tmp_path):
    folder = tmp_path / "data"
    first = make_window(folder)
    g = first.session.generation
    g.prompt, g.steps, g.guidance_scale, g.mode, g.seed_locked = "green star", 42, 5.5, Mode.STROKES, True
    first.close()
    second = make_window(folder)
    g2 = second.session.generation
    assert (g2.prompt, g2.steps, g2.guidance_scale, g2.mode, g2.seed_locked) == ("green star", 42, 5.5,
                                                                                   Mode.STROKES, True)
    assert second.panel.steps_slider.value() == 42


def test_canvas_and_gallery_come_back_after_a_crash(make_window, qtbot, tmp_path):
    folder = tmp_path / "data"
    first = make_window(folder)
    first.show()
    _stroke(first, qtbot)
    g = first.session.generation
    g.steps, g.cascade = 3, False
    with qtbot.waitSignal(first.session.runner.finished, timeout=60_000):
        first.session.generate()
    first.session.canvas_files.save()  # what the 5-second autosave timer does; then no clean shutdown at all
    painting = first.doc.painting().copy()
    second = make_window(folder)
    assert np.array_equal(second.doc.painting(), painting)
    assert len(second.session.gallery.entries) == 1
    assert second.session.gallery.entries[0].recipe.settings.steps == 3


def test_a_bad_model_file_gives_a_message_and_the_window_stays(make_window, qtbot, tmp_path):
    window = make_window()
    window.show()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"definitely not safetensors, just some bytes")
    before = window.session.model
    with qtbot.waitSignal(window.session.error, timeout=10_000) as blocker:
        window.session.open_model(bad)
        assert window.panel.model_name.full_text == "opening bad.safetensors…"
        assert not window.panel.generate.isEnabled()
    assert "not a safetensors file" in blocker.args[0]
    assert "not a safetensors file" in window.statusBar().currentMessage()
    assert window.isVisible() and window.session.model is before  # the previous model is kept
    assert window.panel.model_name.full_text == "tiny  (16→32 px)" and window.panel.generate.isEnabled()


def test_moving_the_strength_slider_shows_the_forward_noised_painting(make_window, qtbot):
    window = make_window()
    window.doc.colour = QColor(0, 0, 255)
    window.doc.fill(Layer.PAINT)
    g = window.session.generation
    g.mode = Mode.STROKES
    g.strength = 0.0
    window.panel.strength_slider.setValue(30)
    low = window.session.schedule.noised.astype(float)
    assert window.schedule.start_t is not None
    window.panel.strength_slider.setValue(95)
    high = window.session.schedule.noised.astype(float)
    blue = np.array([0, 0, 255], float)
    assert np.abs(low - blue).mean() < np.abs(high - blue).mean()  # more strength, more noise
    assert window.canvas._preview is not None


def test_controls_that_do_not_apply_are_disabled(make_window):
    window = make_window()
    g = window.session.generation
    g.mode = Mode.TEXT
    assert not window.panel.strength_slider.isEnabled()
    g.mode = Mode.STROKES
    assert window.panel.strength_slider.isEnabled()
    g.sampler = g.sampler.__class__("ddpm")
    assert not window.panel.eta_slider.isEnabled()
    assert window.panel.class_picker.isEnabled() and window.panel.class_picker.count() == 3  # has a classifier
    g.mode = Mode.UPSCALE
    assert not window.panel.class_picker.isEnabled() and not window.panel.guidance_slider.isEnabled()
    assert window.panel.noise_augmentation_slider.isEnabled()


def test_the_canvas_keys_switch_tools_and_resize_the_brush(make_window, qtbot):
    window = make_window()
    _activate(window, qtbot)
    qtbot.keyClick(window.canvas, Qt.Key.Key_E)
    assert window.tools.current.kind is Tool.ERASER and window.actions["tool.eraser"].isChecked()
    qtbot.keyClick(window.canvas, Qt.Key.Key_B)
    assert window.tools.current.kind is Tool.BRUSH and not window.actions["tool.eraser"].isChecked()
    size = window.doc.brush_size
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert window.doc.brush_size > size


def test_canvas_maps_points_to_image_pixels(make_window):
    window = make_window()
    frame = window.canvas._frame()
    p = window.canvas.to_image(QPointF(frame.x() + 10 * window.canvas.zoom, frame.y()))
    assert round(p.x()) == 10 and round(p.y()) == 0


def test_the_gallery_exports_in_a_batch_with_progress_and_never_overwrites(make_window, qtbot, tmp_path):
    window = make_window()
    g = window.session.generation
    g.steps, g.cascade, g.batch_size, g.prompt, g.seed_locked = 2, False, 3, "red/apple", True
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000):
        window.session.generate()
    out = tmp_path / "export"
    out.mkdir()
    dialog = window.export_gallery()
    dialog.all.setChecked(True)
    dialog.folder.setText(str(out))
    dialog.pattern.setText("{seed}-{prompt}")
    with qtbot.waitSignal(window.exporter.finished, timeout=10_000) as blocker:
        dialog.export.click()
    assert "exported 3 files" in blocker.args[0] and dialog.progress.value() == 1000
    names = sorted(p.name for p in out.iterdir())
    assert names == ["1-red_apple-2.png", "1-red_apple-3.png", "1-red_apple.png"]
    with qtbot.waitSignal(window.exporter.finished, timeout=10_000):
        dialog.export.click()
    assert len(list(out.iterdir())) == 6  # a second export adds files beside, never over, the first


def test_an_export_to_an_unwritable_folder_is_reported_in_the_dialog(make_window, qtbot, tmp_path):
    window = make_window()
    window.session.gallery.add(np.zeros((16, 16, 3), np.uint8), None)
    blocker_file = tmp_path / "not-a-folder"
    blocker_file.write_text("")
    dialog = window.export_gallery()
    dialog.folder.setText(str(blocker_file / "sub"))
    with qtbot.waitSignal(window.exporter.failed, timeout=10_000) as blocker:
        dialog.export.click()
    assert "cannot write" in blocker.args[0] and "⚠" in dialog.status.text()


def test_opening_a_studio_png_restores_its_settings(make_window, qtbot, tmp_path):
    window = make_window()
    g = window.session.generation
    g.prompt, g.steps, g.cascade, g.seed, g.seed_locked, g.guidance_scale = "yellow star", 3, False, 77, True, 6.5
    with qtbot.waitSignal(window.session.runner.finished, timeout=60_000) as blocker:
        window.session.generate()
    from studio.images.files import save_png
    from studio.images.metadata import png_chunks

    result = blocker.args[0]
    path = save_png(tmp_path / "made.png", result.images[0], png_chunks(result.recipe))
    g.prompt, g.steps, g.seed, g.guidance_scale = "other", 30, 1, 3.0
    window.session.open_image(path)
    assert (g.prompt, g.steps, g.seed, g.guidance_scale) == ("yellow star", 3, 77, 6.5)
    assert "restored" in window.statusBar().currentMessage()


def test_fill_paints_the_connected_region_only_and_undoes(make_window):
    window = make_window()
    doc = window.doc
    doc.colour = QColor(0, 0, 0)
    doc.brush_size, doc.hardness = 6.0, 1.0
    tools = window.tools
    tools.select(Tool.BRUSH)
    tools.press(QPointF(128, 0))
    for y in range(0, 256, 2):
        tools.move(QPointF(128, y))
    tools.release()  # a black wall down the middle
    before = doc.painting().copy()
    doc.colour = QColor(0, 200, 0)
    tools.select(Tool.FILL)
    tools.press(QPointF(20, 20))
    tools.release()
    after = doc.painting()
    assert (after[:, :100] == (0, 200, 0)).all()
    assert (after[:, 160:] == 255).all()  # the other side of the wall stays white
    doc.undo_stack.undo()
    assert np.array_equal(doc.painting(), before)


def test_the_sampler_list_is_the_sampler_table_and_each_option_is_enabled_only_for_its_samplers(make_window):
    """The combo lists the table's entries in order (tooltip: the entry's label); choosing each entry
    enables exactly the sliders of the options it reads: η for DDIM, churn for Euler and Heun, the
    corrector's SNR for predictor–corrector."""
    from studio.core.enums import SamplerKind
    from studio.diffusion.samplers import SAMPLERS

    window = make_window()
    panel, g = window.panel, window.session.generation
    assert [panel.sampler.itemText(i) for i in range(panel.sampler.count())] == [k.value for k in SAMPLERS]
    assert panel.sampler.itemData(4, Qt.ItemDataRole.ToolTipRole) == SAMPLERS[SamplerKind.HEUN].label
    sliders = {"eta": panel.eta_slider, "churn": panel.churn_slider, "snr": panel.snr_slider}
    enabled_for = {name: set() for name in sliders}
    for index, spec in enumerate(SAMPLERS.values()):
        panel.sampler.setCurrentIndex(index)
        assert g.sampler is spec.kind
        for name, slider in sliders.items():
            assert slider.isEnabled() == (name in spec.options), (spec.kind, name)
            if slider.isEnabled():
                enabled_for[name].add(spec.kind.value)
    assert enabled_for == {"eta": {"ddim"}, "churn": {"euler", "heun"}, "snr": {"pc"}}
