"""The gallery shows a result at once from memory and writes its PNG in the background, in order; a failed
write is one line and the image stays; closing writes what is still queued; the saved gallery is read back
in the background."""

import threading

import numpy as np
import pytest

import studio.app.gallery as gallery_module
from studio.app.background import Background
from studio.app.gallery import Gallery
from studio.core.settings import JobKind, Recipe, Settings
from studio.images.files import load_rgb
from studio.images.metadata import read_recipe

TIMEOUT = 10_000


def _recipe(seed: int) -> Recipe:
    return Recipe(JobKind.TEXT_TO_IMAGE, "fake", "0" * 64, Settings(prompt="red apple", seed=seed), 8, 8)


def _image(level: int) -> np.ndarray:
    return np.full((8, 8, 3), level, np.uint8)


@pytest.fixture()
def background(qtbot):
    runner = Background()
    yield runner
    runner.shutdown(wait=True)


@pytest.fixture()
def held_writes(monkeypatch):
    """PNG writes wait for the returned event, and record the thread they ran on."""
    gate, threads = threading.Event(), []
    save = gallery_module.save_png

    def held(*args, **kwargs):
        threads.append(threading.current_thread())
        assert gate.wait(10)
        return save(*args, **kwargs)

    monkeypatch.setattr(gallery_module, "save_png", held)
    return gate, threads


def test_a_result_shows_at_once_and_its_png_follows_from_another_thread(tmp_path, background, held_writes, qtbot):
    gate, threads = held_writes
    gallery = Gallery(tmp_path / "gallery", background)
    with qtbot.waitSignal(gallery.changed, timeout=0):  # emitted inside add, before any file is written
        entry = gallery.add(_image(40), _recipe(7))
    assert gallery.entries == [entry] and not (tmp_path / "gallery" / f"{entry.key}.png").exists()
    gate.set()
    qtbot.waitUntil(lambda: not background.busy, timeout=TIMEOUT)
    path = tmp_path / "gallery" / f"{entry.key}.png"
    assert np.array_equal(load_rgb(path), _image(40)) and read_recipe(path) == _recipe(7)
    assert threads and threads[0] is not threading.main_thread()


def test_many_results_are_written_in_order_and_the_index_lists_them_all(tmp_path, background, qtbot):
    gallery = Gallery(tmp_path / "gallery", background)
    entries = [gallery.add(_image(10 * n), _recipe(n)) for n in range(5)]
    gallery.remove(entries[1])
    qtbot.waitUntil(lambda: not background.busy, timeout=TIMEOUT)
    again = Gallery(tmp_path / "gallery", background)
    with qtbot.waitSignal(again.changed, timeout=TIMEOUT):
        assert again.load() == 4
    assert [e.key for e in again.entries] == [e.key for e in reversed(entries) if e is not entries[1]]
    assert not (tmp_path / "gallery" / f"{entries[1].key}.png").exists()


def test_a_failed_write_is_one_line_and_the_image_stays_in_the_gallery(tmp_path, background, qtbot):
    (tmp_path / "not-a-folder").write_text("a file where the gallery folder should be")
    gallery = Gallery(tmp_path / "not-a-folder" / "gallery", background)
    errors = []
    gallery.error.connect(errors.append)
    entry = gallery.add(_image(90), _recipe(3))
    qtbot.waitUntil(lambda: errors != [], timeout=TIMEOUT)
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith(f"the gallery could not save {entry.key}.png: ")
    assert errors[0].endswith("(the image stays in the gallery until you close the studio)")
    assert gallery.entries == [entry] and np.array_equal(entry.image, _image(90))
    gallery.add(_image(91), _recipe(4))  # the next result is tried too, and reported once
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=TIMEOUT)
    assert len(gallery.entries) == 2


def test_closing_writes_every_result_still_queued(tmp_path, background, held_writes, qtbot):
    gate, _ = held_writes
    gallery = Gallery(tmp_path / "gallery", background)
    entries = [gallery.add(_image(n), _recipe(n)) for n in range(3)]  # the first is held in the background
    threading.Timer(0.2, gate.set).start()  # the held write finishes while flush waits for it
    gallery.flush()
    background.shutdown()
    for entry in entries:
        assert (tmp_path / "gallery" / f"{entry.key}.png").exists()
    fresh = Background()
    again = Gallery(tmp_path / "gallery", fresh)
    with qtbot.waitSignal(again.changed, timeout=TIMEOUT):
        assert again.load() == 3
    assert [e.key for e in again.entries] == [e.key for e in reversed(entries)]
    fresh.shutdown(wait=True)


def test_the_saved_gallery_is_read_in_the_background_and_a_result_made_meanwhile_comes_first(
        tmp_path, background, monkeypatch, qtbot):
    gallery = Gallery(tmp_path / "gallery", background)
    saved = [gallery.add(_image(n), _recipe(n)) for n in range(2)]
    qtbot.waitUntil(lambda: not background.busy, timeout=TIMEOUT)
    gate, threads, read = threading.Event(), [], gallery_module.load_rgb

    def held(path):
        threads.append(threading.current_thread())
        assert gate.wait(10)
        return read(path)

    monkeypatch.setattr(gallery_module, "load_rgb", held)
    again = Gallery(tmp_path / "gallery", background)
    assert again.load() == 2 and again.entries == []  # returns before any PNG is decoded
    new = again.add(_image(50), _recipe(9))
    assert new.key.startswith("00003-")  # numbered after the saved ones, though they are not read yet
    gate.set()
    qtbot.waitUntil(lambda: len(again.entries) == 3 and not background.busy, timeout=TIMEOUT)
    assert [e.key for e in again.entries] == [new.key, saved[1].key, saved[0].key]
    assert threads and all(t is not threading.main_thread() for t in threads)
    third = Gallery(tmp_path / "gallery", background)  # the index written meanwhile kept the saved entries
    with qtbot.waitSignal(third.changed, timeout=TIMEOUT):
        assert third.load() == 3
