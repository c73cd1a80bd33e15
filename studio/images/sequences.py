"""A run's steps as a file: an animated GIF or WebP, numbered PNG frames, or a contact sheet.

Frames are (x_t, x̂₀) pairs of uint8 [H, W, 3] images; stages of different sizes are scaled to the
largest with nearest-neighbour so pixels stay honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image

from studio.images.files import ImageFileError, _atomic_write, save_png


class SequenceFormat(str, Enum):
    GIF = "gif"
    WEBP = "webp"
    FRAMES = "frames"
    SHEET = "sheet"


Pair = tuple[np.ndarray, np.ndarray]  # (x_t, x̂₀)


def _upscaled(image: np.ndarray, size: int) -> Image.Image:
    img = Image.fromarray(image)
    return img if img.width == size else img.resize((size, size), Image.Resampling.NEAREST)


def side_by_side(pair: Pair, size: int) -> Image.Image:
    """x_t on the left, x̂₀ on the right, each `size` pixels square."""
    out = Image.new("RGB", (2 * size, size), "white")
    out.paste(_upscaled(pair[0], size), (0, 0))
    out.paste(_upscaled(pair[1], size), (size, 0))
    return out


def export_sequence(pairs: Sequence[Pair], path: Path, fmt: SequenceFormat, *, frame_ms: int = 80) -> Path:
    if not pairs:
        raise ValueError("there are no steps to export")
    size = max(max(a.shape[0], b.shape[0]) for a, b in pairs)
    if fmt is SequenceFormat.FRAMES:
        folder = Path(path)
        for i, pair in enumerate(pairs):
            save_png(folder / f"step-{i:04d}.png", np.asarray(side_by_side(pair, size)))
        return folder
    if fmt is SequenceFormat.SHEET:
        return save_png(path, contact_sheet(pairs, size))
    frames = [side_by_side(p, size) for p in pairs]
    kind = "GIF" if fmt is SequenceFormat.GIF else "WEBP"

    def write(handle) -> None:
        frames[0].save(handle, kind, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0,
                       **({"lossless": True} if kind == "WEBP" else {}))

    try:
        return _atomic_write(Path(path), write)
    except ImageFileError:
        raise
    except (OSError, ValueError) as exc:
        raise ImageFileError(f"{path}: cannot write ({exc})") from None


def contact_sheet(pairs: Sequence[Pair], size: int | None = None, columns: int | None = None) -> np.ndarray:
    """Two rows per line of steps: x_t above, x̂₀ below, steps left to right."""
    size = size or max(a.shape[0] for a, _ in pairs)
    columns = columns or min(len(pairs), 16)
    lines = -(-len(pairs) // columns)
    sheet = Image.new("RGB", (columns * size, lines * 2 * size), "white")
    for i, (x_t, x0) in enumerate(pairs):
        line, col = divmod(i, columns)
        sheet.paste(_upscaled(x_t, size), (col * size, line * 2 * size))
        sheet.paste(_upscaled(x0, size), (col * size, (line * 2 + 1) * size))
    return np.asarray(sheet)


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """[N, H, W, 3] → one image, `columns` wide (fewer if there are fewer images), padded with white."""
    n, h, w, _ = images.shape
    columns = min(columns, n)
    rows = -(-n // columns)
    sheet = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    return sheet
