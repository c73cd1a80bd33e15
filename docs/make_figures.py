"""Draw the README's figures with the shipped default cascade, through the `studio` command.

    python docs/make_figures.py            # writes docs/default-grid.png, docs/strokes.png, docs/denoising.png

Every picture comes from a fixed seed, so running this again on the same machine redraws the same pixels.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

DOCS = Path(__file__).resolve().parent
# (prompt, whether it is a training caption: the Unicode name of an emoji in the set)
PROMPTS = (
    ("grinning face", True), ("red apple", True), ("red heart", True), ("cat face", True),
    ("sun", True), ("flag: Japan", True), ("pizza", True), ("rocket", True),
    ("smiling face with sunglasses", True), ("four leaf clover", True), ("ghost", True), ("cherries", True),
    ("green apple face", False), ("blue heart with sunglasses", False), ("red cat", False),
    ("yellow rocket", False),
)
CELL = 128  # each 128-pixel result shown at 1:1
SEED = 1  # prompt n of the grid uses seed SEED + n: one shared x_T would show one noise draw 16 times


def studio(*args: str) -> None:
    subprocess.run(["studio", *args], check=True, stdout=subprocess.DEVNULL)


def cell(path: Path, size: int = CELL) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB").resize((size, size), Image.Resampling.NEAREST)


def grid(work: Path) -> None:
    tiles = []
    for n, (prompt, _) in enumerate(PROMPTS):
        out = work / f"grid-{n}.png"
        studio("generate", "--prompt", prompt, "--seed", str(SEED + n), "--out", str(out))
        tiles.append(cell(out))
    sheet = Image.new("RGB", (4 * CELL, 4 * CELL), "white")
    for n, tile in enumerate(tiles):
        sheet.paste(tile, ((n % 4) * CELL, (n // 4) * CELL))
    sheet.save(DOCS / "default-grid.png")


def painting(size: int = 128) -> Image.Image:
    """A rough red apple: a red disc, a brown stalk and a green leaf, as a user might paint it."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    k = size / 64
    draw.ellipse((12 * k, 18 * k, 52 * k, 58 * k), fill=(214, 40, 40))
    draw.line((32 * k, 20 * k, 34 * k, 8 * k), fill=(110, 70, 30), width=round(3 * k))
    draw.ellipse((35 * k, 8 * k, 49 * k, 16 * k), fill=(60, 170, 60))
    return image


def strokes(work: Path) -> None:
    source = work / "painting.png"
    painting().save(source)
    tiles = [cell(source)]
    for strength in ("0.3", "0.6", "0.9"):
        out = work / f"sdedit-{strength}.png"
        studio("sdedit", "--image", str(source), "--strength", strength, "--prompt", "red apple",
               "--seed", str(SEED), "--out", str(out))
        tiles.append(cell(out))
    strip = Image.new("RGB", (len(tiles) * CELL, CELL), "white")
    for n, tile in enumerate(tiles):
        strip.paste(tile, (n * CELL, 0))
    strip.save(DOCS / "strokes.png")


def denoising(work: Path, shown: int = 10) -> None:
    """x̂₀ at evenly spaced steps of the base stage, then the SR stage's last x̂₀ (the result)."""
    steps = work / "steps"
    studio("generate", "--prompt", "grinning face", "--seed", str(SEED), "--out", str(work / "run.png"),
           "--save-steps", str(steps))
    base = sorted(steps.glob("base-*-x0.png"))
    picks = [base[int(round(i))] for i in np.linspace(0, len(base) - 1, shown)]
    picks.append(sorted(steps.glob("sr-*-x0.png"))[-1])
    # 32-px base steps at 4× (nearest), then the 128-px result at 1:1
    strip = Image.new("RGB", (len(picks) * CELL, CELL), "white")
    for n, path in enumerate(picks):
        strip.paste(cell(path), (n * CELL, 0))
    strip.save(DOCS / "denoising.png")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        grid(work)
        strokes(work)
        denoising(work)
    print("wrote docs/default-grid.png, docs/strokes.png, docs/denoising.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
