"""The gallery: every result with its recipe, saved to the user data folder as it changes.

A result shows in the gallery at once, from memory; its PNG (with the recipe) and the index are written in
the background (app/background.py), one change after another in the order they were made, so the index
never lists an older state after a newer one. A failed write is one line, and the image stays in the
gallery for this session. Closing writes whatever is still queued (`flush`). At start-up the saved PNGs
are read back in the background too (`load`), so a large gallery never holds up the window.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.app.background import Background
from studio.core.atomic import atomic_write
from studio.core.settings import Recipe
from studio.engine.worker import one_line
from studio.images.files import ImageFileError, load_rgb, save_png
from studio.images.metadata import png_chunks, read_recipe


@dataclass(frozen=True, eq=False)
class GalleryEntry:
    key: str  # file stem in the gallery folder
    image: np.ndarray  # uint8 [H, W, 3]
    recipe: Recipe | None  # None for a cancelled run's last x̂₀


@dataclass(frozen=True, eq=False)
class _Write:
    """One change of the gallery's files: a PNG written (or removed), then the index as it was then. Runs
    once, under the gallery's lock, whether the background pool or `flush` gets to it first."""

    folder: Path
    keys: tuple[str, ...]  # the index after this change, newest first
    lock: threading.Lock
    entry: GalleryEntry | None = None  # its PNG is written
    removed: str | None = None  # the key whose PNG goes
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def what(self) -> str:
        return f"{self.entry.key}.png" if self.entry is not None else "the gallery's index"

    def run_once(self) -> None:
        with self.lock:
            if self.done.is_set():
                return
            try:
                self._run()
            finally:
                self.done.set()

    def _run(self) -> None:
        if self.entry is not None:
            chunks = png_chunks(self.entry.recipe) if self.entry.recipe else {}
            save_png(self.folder / f"{self.entry.key}.png", self.entry.image, chunks)
        if self.removed is not None:
            (self.folder / f"{self.removed}.png").unlink(missing_ok=True)
        index = json.dumps(list(self.keys)).encode("utf-8")
        atomic_write(self.folder / "index.json", lambda handle: handle.write(index))


class Gallery(QObject):
    changed = Signal()
    error = Signal(str)

    def __init__(self, folder: Path, background: Background, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.background = background
        self.entries: list[GalleryEntry] = []
        self._counter = 0
        self._writes: deque[_Write] = deque()  # changes not yet handed to the background
        self._writing: _Write | None = None  # the one it has
        self._lock = threading.Lock()
        self._restoring: tuple[str, ...] = ()  # keys of saved entries still being read back (`load`)

    def add(self, image: np.ndarray, recipe: Recipe | None) -> GalleryEntry:
        """Show the image at once; its PNG follows in the background."""
        self._counter += 1
        key = f"{self._counter:05d}-{recipe.settings.seed if recipe else 'partial'}"
        entry = GalleryEntry(key, image, recipe)
        self.entries.insert(0, entry)
        self._queue(entry=entry)
        self.changed.emit()
        return entry

    def remove(self, entry: GalleryEntry) -> None:
        self.entries = [e for e in self.entries if e is not entry]
        self._queue(removed=entry.key)
        self.changed.emit()

    def flush(self) -> None:
        """Write every change still to be written, here and now (closing: the background is about to stop)."""
        pending = [w for w in (self._writing, *self._writes) if w is not None]
        self._writes.clear()
        for write in pending:
            try:
                write.run_once()  # waits for the one the background may be writing
            except Exception as exc:  # noqa: BLE001 - as the background reports it: one line
                self._failed(write, one_line(exc))

    def _queue(self, **change) -> None:
        # entries still being read back stay in the index, after the newer ones
        keys = (*(e.key for e in self.entries), *self._restoring)
        self._writes.append(_Write(self.folder, keys, self._lock, **change))
        self._next()

    def _next(self) -> None:
        if self._writing is not None or not self._writes:
            return
        write = self._writing = self._writes.popleft()
        self.background.run_in_background(write.run_once, lambda _: self._finished(),
                                          lambda message: self._finished(write, message))

    def _finished(self, write: _Write | None = None, message: str | None = None) -> None:
        self._writing = None
        if write is not None:
            self._failed(write, message)
        self._next()

    def _failed(self, write: _Write, message: str) -> None:
        kept = " (the image stays in the gallery until you close the studio)" if write.entry is not None else ""
        self.error.emit(f"the gallery could not save {write.what}: {message}{kept}")

    def load(self) -> int:
        """Restore the saved gallery (after a restart or a crash). The index is read here, so new results
        get fresh keys at once; the PNGs are decoded in the background and join the gallery in one change,
        after whatever was added meanwhile. Unreadable entries are skipped. Returns how many it lists."""
        try:
            keys = json.loads((self.folder / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return 0
        self._restoring = tuple(keys)
        numbers = (int(k.split("-")[0]) for k in keys if k.split("-")[0].isdigit())
        self._counter = max(self._counter, max(numbers, default=0))
        self.background.run_in_background(partial(_read_entries, self.folder, keys), self._restored,
                                          self._restore_failed)
        return len(keys)

    def _restored(self, restored: list[GalleryEntry]) -> None:
        self._restoring = ()
        self.entries = [*self.entries, *restored]
        self.changed.emit()

    def _restore_failed(self, message: str) -> None:
        self._restoring = ()
        self.error.emit(f"the saved gallery could not be read: {message}")


def _read_entries(folder: Path, keys: list[str]) -> list[GalleryEntry]:
    restored = []
    for key in keys:
        path = folder / f"{key}.png"
        try:
            restored.append(GalleryEntry(key, load_rgb(path), read_recipe(path)))
        except (ImageFileError, ValueError):
            continue
    return restored
