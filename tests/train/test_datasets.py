"""Datasets: the compact .npz format, folders of the user's pictures, the emoji builder."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.train.datasets import load_dataset, save_dataset
from studio.train.emoji import EMOJI_TEST_PATHS, FONT_PATHS, build_emoji_dataset, parse_emoji_test


def test_npz_round_trip_keeps_images_captions_labels_and_source(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    path = save_dataset(tmp_path / "d.npz", images, ["a", "b", "ç"], labels={"group": ["x", "y", "x"]},
                        source="tests", licence="CC0")
    data = load_dataset(path)
    assert np.array_equal(data.images, images) and data.captions == ("a", "b", "ç")
    assert data.class_names("group") == ("x", "y") and data.class_indices("group").tolist() == [0, 1, 0]
    assert (data.source, data.licence) == ("tests", "CC0")


def test_an_image_folder_is_cropped_captioned_and_skips_unreadable_files(tmp_path):
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "wide.png")
    (tmp_path / "wide.txt").write_text("a red banner\n")
    Image.new("RGBA", (10, 10), (0, 0, 255, 0)).save(tmp_path / "clear.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    data = load_dataset(tmp_path, resolution=16)
    assert data.images.shape == (2, 16, 16, 3)
    assert sorted(data.captions) == ["", "a red banner"]
    assert len(data.skipped) == 1 and data.skipped[0].startswith("broken.jpg")
    clear = data.images[data.captions.index("")]
    assert (clear == 255).all()  # transparency is composited on white


def test_a_folder_with_nothing_readable_is_an_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match="no readable pictures"):
        load_dataset(tmp_path)


HAVE_EMOJI = any(p.is_file() for p in FONT_PATHS) and any(p.is_file() for p in EMOJI_TEST_PATHS)


@pytest.mark.skipif(not HAVE_EMOJI, reason="needs fonts-noto-color-emoji and unicode-data (.ci/run installs them)")
def test_the_emoji_builder_renders_twenty_emoji_deterministically(tmp_path):
    assert build_emoji_dataset(tmp_path / "a", size=32, limit=20) == 20
    build_emoji_dataset(tmp_path / "b", size=32, limit=20)
    first, second = (tmp_path / "a" / "emoji-32.npz"), (tmp_path / "b" / "emoji-32.npz")
    a, b = load_dataset(first), load_dataset(second)
    assert np.array_equal(a.images, b.images) and a.captions == b.captions
    assert a.images.shape == (20, 32, 32, 3)
    assert a.captions[0] == "grinning face" and a.labels["subgroup"][0] == "face-smiling"
    corners = a.images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners > 240).all()  # centred on white
    assert (a.images.reshape(20, -1).std(axis=1) > 20).all()  # every glyph actually drew


def test_emoji_test_parsing_reads_groups_subgroups_and_names(tmp_path):
    text = "# group: Animals\n# subgroup: cat\n1F408 ; fully-qualified # 🐈 E0.7 cat\n" \
           "263A ; unqualified # ☺ E0.6 smiling face\n"
    path = Path(tmp_path / "emoji-test.txt")
    path.write_text(text, encoding="utf-8")
    entries = list(parse_emoji_test(path))
    assert [(e.text, e.name, e.group, e.subgroup) for e in entries] == [("🐈", "cat", "Animals", "cat")]
