"""The canvas as the session sees it, and its files: the autosave that survives a crash, and opening an
image (a studio PNG brings its settings along).

The canvas itself (layers, brushes, undo) is a widget-side document, because painting needs QtGui; this
layer only exchanges numpy arrays with it.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from studio.app.background import Background
from studio.app.generation import GenerationModel
from studio.images.files import ImageFileError, load_mask, load_rgb, save_png
from studio.images.metadata import read_recipe

AUTOSAVE_MS = 5000
PAINT_FILE, MASK_FILE = "canvas-paint.png", "canvas-mask.png"


class Canvas(Protocol):
    """What the view models need of the canvas: its layers as uint8 arrays, and a way to replace them."""

    def painting(self) -> np.ndarray: ...  # [H, W, 3]

    def mask(self) -> np.ndarray: ...  # [H, W], 255 = regenerate

    def place_image(self, image: np.ndarray, text: str) -> None: ...  # one undoable step

    def grow_to(self, image: np.ndarray, text: str) -> None: ...  # the image becomes the canvas, at its size

    def restore_layers(self, paint: np.ndarray | None, mask: np.ndarray | None) -> None: ...  # not undoable


class _Task(Enum):
    AUTOSAVE = "autosave"  # a newer autosave supersedes one still queued


def write_layers(folder: Path, paint: np.ndarray, mask: np.ndarray) -> None:
    """Both layers as PNGs, each replaced in one step (a crash mid-write keeps the previous file)."""
    save_png(folder / PAINT_FILE, paint)
    save_png(folder / MASK_FILE, mask)


def read_layers(folder: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The autosaved layers; a missing or unreadable one is None (the canvas keeps its blank layer)."""
    layers = []
    for name, load in ((PAINT_FILE, load_rgb), (MASK_FILE, load_mask)):  # load_mask reads older RGBA masks too
        try:
            layers.append(load(folder / name))
        except ImageFileError:
            layers.append(None)
    return layers[0], layers[1]


class CanvasFiles(QObject):
    message = Signal(str)
    error = Signal(str)

    def __init__(self, canvas: Canvas, folder: Path, generation: GenerationModel, background: Background,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.folder, self.generation, self.background = canvas, folder, generation, background
        self._timer = QTimer(self, interval=AUTOSAVE_MS)
        self._timer.timeout.connect(self.autosave)
        self._restored = False  # until then a save would overwrite the canvas still to restore

    # --- autosave -----------------------------------------------------------------------------
    def restore(self) -> None:
        """Bring back the autosaved canvas, then keep saving it. On the UI thread, and before anything
        else: the user's first stroke must land on the restored canvas, and an autosave before the restore
        would overwrite the one to restore with a blank canvas."""
        paint, mask = read_layers(self.folder)
        if paint is not None or mask is not None:
            self.canvas.restore_layers(paint, mask)
        self._restored = True
        self._timer.start()

    def autosave(self) -> None:
        """The timer's save: the layers are copied here, written in the background."""
        folder, paint, mask = self.folder, self.canvas.painting(), self.canvas.mask()
        self.background.run_in_background(lambda: write_layers(folder, paint, mask), lambda _: None,
                                          self._save_failed, key=_Task.AUTOSAVE)

    def save(self) -> bool:
        """Save now, on this thread (when the window closes, when nothing may be left for later); not
        before `restore`."""
        if not self._restored:
            return False
        try:
            write_layers(self.folder, self.canvas.painting(), self.canvas.mask())
        except ImageFileError as exc:
            self._save_failed(str(exc))
            return False
        return True

    def stop(self) -> None:
        self._timer.stop()

    def _save_failed(self, message: str) -> None:
        self.error.emit(f"the canvas could not be autosaved: {message}")

    # --- opening an image ---------------------------------------------------------------------
    def open_image(self, path: str | Path) -> bool:
        """Put an image file on the canvas (one undo step); a studio PNG's recipe also restores its settings
        and mode. A file that is not an image changes nothing and says why."""
        try:
            image = load_rgb(path)
        except ImageFileError as exc:
            self.error.emit(str(exc))
            return False
        self.canvas.place_image(image, "open image")
        try:
            recipe = read_recipe(path)
        except (OSError, ValueError):  # an image with a broken recipe chunk is still an image
            recipe = None
        if recipe is not None:
            self.generation.apply(recipe)
            self.message.emit("settings restored from the image's recipe")
        return True
