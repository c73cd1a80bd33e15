"""The gallery: every result with its recipe, saved to the user data folder as it changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.core.atomic import atomic_write
from studio.core.settings import Recipe
from studio.images.files import ImageFileError, load_rgb, save_png
from studio.images.metadata import png_chunks, read_recipe


@dataclass(frozen=True, eq=False)
class GalleryEntry:
    key: str  # file stem in the gallery folder
    image: np.ndarray  # uint8 [H, W, 3]
    recipe: Recipe | None  # None for a cancelled run's last x̂₀


class Gallery(QObject):
    changed = Signal()
    error = Signal(str)

    def __init__(self, folder: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.entries: list[GalleryEntry] = []
        self._counter = 0

    def add(self, image: np.ndarray, recipe: Recipe | None) -> GalleryEntry:
        self._counter += 1
        key = f"{self._counter:05d}-{recipe.settings.seed if recipe else 'partial'}"
        entry = GalleryEntry(key, image, recipe)
        self.entries.insert(0, entry)
        self._write(entry)
        self.changed.emit()
        return entry

    def remove(self, entry: GalleryEntry) -> None:
        self.entries = [e for e in self.entries if e is not entry]
        (self.folder / f"{entry.key}.png").unlink(missing_ok=True)
        self._write_index()
        self.changed.emit()

    def load(self) -> int:
        """Restore the saved gallery (after a restart or a crash); unreadable entries are skipped."""
        index = self.folder / "index.json"
        try:
            keys = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        restored = []
        for key in keys:
            path = self.folder / f"{key}.png"
            try:
                restored.append(GalleryEntry(key, load_rgb(path), read_recipe(path)))
            except (ImageFileError, ValueError):
                continue
        self.entries = restored
        self._counter = max((int(k.split("-")[0]) for k in keys if k.split("-")[0].isdigit()), default=0)
        self.changed.emit()
        return len(restored)

    def _write(self, entry: GalleryEntry) -> None:
        try:
            save_png(self.folder / f"{entry.key}.png", entry.image, png_chunks(entry.recipe) if entry.recipe else {})
            self._write_index()
        except (ImageFileError, OSError) as exc:
            self.error.emit(f"the gallery could not be saved: {exc}")

    def _write_index(self) -> None:
        index = json.dumps([e.key for e in self.entries]).encode("utf-8")
        atomic_write(self.folder / "index.json", lambda handle: handle.write(index))
