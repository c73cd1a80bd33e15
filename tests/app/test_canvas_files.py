"""The canvas's files without a window: opening an image (a studio PNG restores its settings) and the
autosave that brings the canvas back after a crash."""

import numpy as np

from studio.app.generation import Mode
from studio.core.enums import SamplerKind
from studio.core.settings import JobKind, Recipe, Settings
from studio.images.files import save_png
from studio.images.metadata import png_chunks
from tests.app.fakes import FakeCanvas


def _studio_png(path):
    settings = Settings(prompt="yellow star", seed=77, steps=3, sampler=SamplerKind.DDPM, guidance_scale=6.5)
    recipe = Recipe(JobKind.STROKES_TO_IMAGE, "tiny", "0" * 64, settings, 8, 8)
    return save_png(path, np.full((8, 8, 3), 120, np.uint8), png_chunks(recipe))


def test_a_studio_png_goes_on_the_canvas_and_brings_its_settings(make_session, qtbot, tmp_path):
    session = make_session()
    g = session.generation
    with qtbot.waitSignal(session.message) as blocker:
        assert session.open_image(_studio_png(tmp_path / "made.png"))
    assert blocker.args == ["settings restored from the image's recipe"]
    assert (g.prompt, g.seed, g.steps, g.sampler, g.guidance_scale) == ("yellow star", 77, 3, SamplerKind.DDPM, 6.5)
    assert g.mode is Mode.STROKES and g.seed_locked
    image, text = session.canvas.placed[-1]
    assert text == "open image" and (image == 120).all()


def test_a_plain_image_goes_on_the_canvas_and_leaves_the_settings(make_session, tmp_path):
    session = make_session()
    session.generation.prompt = "mine"
    path = save_png(tmp_path / "plain.png", np.zeros((8, 8, 3), np.uint8))
    assert session.open_image(path)
    assert session.generation.prompt == "mine" and len(session.canvas.placed) == 1


def test_a_file_that_is_not_an_image_changes_nothing_and_says_why(make_session, tmp_path):
    session = make_session()
    errors = []
    session.error.connect(errors.append)
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    assert not session.open_image(path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}: not a readable image") and not session.canvas.placed


def test_the_autosaved_canvas_comes_back_in_a_new_session(make_session, tmp_path):
    folder = tmp_path / "data"
    first = make_session(canvas=FakeCanvas(), folder=folder)
    first.canvas_files.restore()  # nothing saved yet: the canvas stays blank
    first.canvas.paint[2:5, 2:5] = (10, 200, 30)
    first.canvas.coverage[4:8, :] = 255
    assert first.canvas_files.save()
    second = make_session(canvas=FakeCanvas(), folder=folder)
    second.canvas_files.restore()
    assert np.array_equal(second.canvas.paint, first.canvas.paint)
    assert np.array_equal(second.canvas.coverage, first.canvas.coverage)


def test_the_timer_saves_in_the_background(make_session, qtbot, tmp_path):
    session = make_session(folder=tmp_path / "data")
    session.canvas_files.restore()
    session.canvas.coverage[:] = 255
    session.canvas_files.autosave()
    qtbot.waitUntil(lambda: not session.background.busy, timeout=10_000)
    again = make_session(folder=tmp_path / "data")
    again.canvas_files.restore()
    assert (again.canvas.coverage == 255).all()


def test_nothing_is_saved_before_the_canvas_is_restored(make_session, tmp_path):
    """A save before the restore would overwrite the canvas that is still to come back with a blank one."""
    folder = tmp_path / "data"
    first = make_session(folder=folder)
    first.canvas_files.restore()
    first.canvas.paint[:] = 7
    first.canvas_files.save()
    second = make_session(folder=folder)
    assert not second.canvas_files.save()
    second.canvas_files.restore()
    assert (second.canvas.paint == 7).all()


def test_an_unwritable_data_folder_is_reported_once_per_save(make_session, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    session = make_session(folder=blocker / "data")
    errors = []
    session.error.connect(errors.append)
    session.canvas_files.restore()
    assert not session.canvas_files.save()
    assert len(errors) == 1 and errors[0].startswith("the canvas could not be autosaved: ")
