"""Outpainting's geometry (numpy only): grow a canvas on any side, and cover it with overlapping
windows of a fixed-resolution model, each placed where most of it is already painted.

The new area becomes the mask (255 = to paint). Windows overlap by at least `overlap` pixels so that
every window after the first sees finished pixels across each seam and continues them (its inpainting
keeps them exactly), rather than meeting a neighbour painted without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Growth:
    """Pixels added on each side."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0

    def __post_init__(self) -> None:
        sides = (self.left, self.top, self.right, self.bottom)
        if min(sides) < 0 or max(sides) > 4096:
            raise ValueError("each side grows by 0 to 4096 pixels")
        if not any(sides):
            raise ValueError("grow the canvas on at least one side")


@dataclass(frozen=True)
class Window:
    top: int
    left: int
    size: int

    def region(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.size), slice(self.left, self.left + self.size)


def grow(image: np.ndarray, growth: Growth) -> tuple[np.ndarray, np.ndarray]:
    """(canvas, mask): the image on a larger canvas whose new area repeats the nearest edge pixels (a
    start for models that see the masked image), and the uint8 mask, 255 over the new area."""
    pad = ((growth.top, growth.bottom), (growth.left, growth.right))
    canvas = np.pad(image, (*pad, (0, 0)), mode="edge")
    mask = np.pad(np.zeros(image.shape[:2], np.uint8), pad, constant_values=255)
    return canvas, mask


def axis_starts(length: int, size: int, overlap: int) -> list[int]:
    """Window starts along one axis: stride size − overlap, the last window flush with the end."""
    if length < size:
        raise ValueError(f"the grown canvas ({length} px) is smaller than the model's {size} px")
    if not 0 <= overlap < size:
        raise ValueError(f"the overlap must lie in [0, {size - 1}] px, got {overlap}")
    starts = list(range(0, length - size + 1, size - overlap))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def next_window(mask: np.ndarray, size: int, overlap: int) -> Window | None:
    """Of the windows still holding pixels to paint, the one with the most painted pixels (ties: first in
    reading order); None when everything is painted."""
    best, best_known = None, -1
    for top in axis_starts(mask.shape[0], size, overlap):
        for left in axis_starts(mask.shape[1], size, overlap):
            window = Window(top, left, size)
            todo = int((mask[window.region()] > 0).sum())
            if todo and size * size - todo > best_known:
                best, best_known = window, size * size - todo
    return best


def plan_windows(mask: np.ndarray, size: int, overlap: int) -> list[Window]:
    """Every window `next_window` picks, in order, painting each in turn: the whole run known before it
    starts (its length sizes the progress bar)."""
    todo, windows = mask.copy(), []
    while (window := next_window(todo, size, overlap)) is not None:
        windows.append(window)
        todo[window.region()] = 0
    return windows
