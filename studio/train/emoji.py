"""The emoji dataset: Noto Color Emoji rendered with Pillow, captions and labels from Unicode.

Glyphs come from the Debian package `fonts-noto-color-emoji` (SIL Open Font License); names,
groups and subgroups from `emoji-test.txt` of the Debian package `unicode-data`. Nothing is
downloaded. The bitmap font has one strike, size 109, whose glyphs are 136×128; each is
composited on white, centred on a square and resized.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from studio.train.datasets import save_dataset

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/noto/NotoColorEmoji.ttf"),
)
EMOJI_TEST_PATHS = (
    Path("/usr/share/unicode/emoji/emoji-test.txt"),
    Path("/usr/share/unicode-data/emoji/emoji-test.txt"),
)
STRIKE_SIZE = 109  # the only size of the font's colour bitmaps
GLYPH_WIDTH = 136  # width of one glyph at that size; wider means several glyphs side by side


class MissingDataError(Exception):
    """A system file the emoji builder needs is not installed; the message names the package."""


@dataclass(frozen=True)
class EmojiEntry:
    text: str  # the emoji itself
    name: str  # Unicode CLDR short name, e.g. "grinning face"
    group: str
    subgroup: str


def find_file(candidates: tuple[Path, ...], package: str) -> Path:
    for path in candidates:
        if path.is_file():
            return path
    raise MissingDataError(
        f"{candidates[0]} not found: install the Debian package {package} (apt-get install {package})"
    )


def parse_emoji_test(path: Path) -> Iterator[EmojiEntry]:
    """Fully-qualified entries of emoji-test.txt, in file order, with their group and subgroup."""
    group = subgroup = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#") and "; fully-qualified" in line:
            codes, _, comment = line.partition("#")
            text = "".join(chr(int(c, 16)) for c in codes.split(";")[0].split())
            # comment reads "<emoji> E<version> <name>"
            name = comment.strip().split(" ", 2)[2] if comment.strip().count(" ") >= 2 else ""
            yield EmojiEntry(text=text, name=name, group=group, subgroup=subgroup)


def render(font: ImageFont.FreeTypeFont, text: str, size: int) -> np.ndarray | None:
    """One emoji as uint8 [size, size, 3] on white, or None when the font lacks a single glyph for it."""
    left, top, right, bottom = font.getbbox(text)
    width, height = right - left, bottom - top
    if width <= 0 or height <= 0 or width > 1.2 * GLYPH_WIDTH:
        return None  # no glyph, or a sequence drawn as several glyphs side by side
    canvas = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((-left, -top), text, font=font, embedded_color=True)
    if canvas.getchannel("A").getbbox() is None:
        return None
    side = max(width, height)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(canvas, ((side - width) // 2, (side - height) // 2))
    resized = square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


def build_emoji_dataset(
    out: Path, *, size: int = 128, limit: int | None = None, skin_tones: bool = False
) -> int:
    """Render the emoji set to `out/emoji-<size>.npz`; returns the number of images.

    Deterministic: the same font and emoji-test.txt give the same file. Skin-tone variants are
    left out by default (they repeat the same shapes); `limit` keeps the first N, for tests.
    """
    font_path = find_file(FONT_PATHS, "fonts-noto-color-emoji")
    test_path = find_file(EMOJI_TEST_PATHS, "unicode-data")
    font = ImageFont.truetype(str(font_path), STRIKE_SIZE)
    images, entries = [], []
    for entry in parse_emoji_test(test_path):
        if not skin_tones and "skin tone" in entry.name:
            continue
        pixels = render(font, entry.text, size)
        if pixels is None:
            continue
        images.append(pixels)
        entries.append(entry)
        if limit is not None and len(entries) >= limit:
            break
    save_dataset(
        out / f"emoji-{size}.npz",
        np.stack(images),
        captions=[e.name for e in entries],
        labels={"group": [e.group for e in entries], "subgroup": [e.subgroup for e in entries]},
        extra={"emoji": [e.text for e in entries]},
        source="Noto Color Emoji (Debian fonts-noto-color-emoji), rendered with Pillow; captions, groups and "
               "subgroups from Unicode emoji-test.txt (Debian unicode-data)",
        licence="SIL Open Font License 1.1 (Noto Color Emoji); Unicode License v3 (emoji-test.txt)",
    )
    return len(entries)
