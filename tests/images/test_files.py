"""Image files: written whole or not at all, with the user's umask; unreadable ones named in one line."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

from studio.core.atomic import atomic_write
from studio.images.files import ImageFileError, load_mask, load_rgb, save_image, save_png

RED = np.full((4, 4, 3), (255, 0, 0), np.uint8)


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o027, 0o640), (0o077, 0o600)])
@pytest.mark.parametrize("fmt", ["png", "jpg", "webp"])
def test_an_image_gets_the_mode_a_plain_open_would_give_it(tmp_path, umask, mask, mode, fmt):
    umask(mask)
    path = save_image(tmp_path / f"a.{fmt}", RED, fmt, {"parameters": "red"})
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert os.listdir(tmp_path) == [f"a.{fmt}"]


def test_a_replaced_image_takes_the_umask_not_the_old_files_mode(tmp_path, umask):
    path = tmp_path / "a.png"
    path.write_bytes(b"old")
    path.chmod(0o600)
    umask(0o022)
    save_png(path, RED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    with Image.open(path) as image:
        assert image.getpixel((0, 0)) == (255, 0, 0)


def test_a_write_that_fails_leaves_neither_a_temporary_file_nor_a_changed_target(tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"precious")

    def broken(handle):
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, broken)
    assert os.listdir(tmp_path) == ["keep.bin"] and target.read_bytes() == b"precious"


def test_a_missing_folder_is_made_and_a_file_in_the_way_is_one_line(tmp_path):
    assert save_png(tmp_path / "new" / "deep" / "a.png", RED).is_file()
    (tmp_path / "blocker").write_text("")
    with pytest.raises(ImageFileError, match=r"blocker: cannot write here \(") as caught:
        save_png(tmp_path / "blocker" / "a.png", RED)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("load", [load_rgb, load_mask])
def test_an_unreadable_image_is_named_with_the_reason(tmp_path, load):
    with pytest.raises(ImageFileError, match=r"missing.png: no such file$"):
        load(tmp_path / "missing.png")
    with pytest.raises(ImageFileError, match=r": cannot read \(Is a directory\)$"):
        load(tmp_path)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageFileError, match=r"text.png: not a readable image \("):
        load(tmp_path / "text.png")


@pytest.mark.parametrize("load", [load_rgb, load_mask])
def test_an_image_without_read_permission_says_permission_denied(tmp_path, load):
    path = save_png(tmp_path / "secret.png", RED)
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("this user (root) reads files without read permission")
    with pytest.raises(ImageFileError, match=r"secret.png: cannot read \(Permission denied\)$"):
        load(path)
