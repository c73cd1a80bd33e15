"""Exporting gallery entries to a folder: one file per event-loop tick, so the window stays live."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from studio.app.gallery import GalleryEntry
from studio.app.properties import Property
from studio.images.files import ImageFileError, save_image
from studio.images.metadata import png_chunks
from studio.images.names import format_name


class ExportFormat(str, Enum):
    """The file formats a gallery export writes; the value is the file suffix and save_image's format."""

    PNG = "png"
    JPEG = "jpg"
    WEBP = "webp"

    @property
    def label(self) -> str:
        return {"png": "PNG (lossless, recipe in a text chunk)", "jpg": "JPEG", "webp": "WebP (lossless)"}[self.value]


@dataclass(frozen=True)
class ExportRequest:
    entries: tuple[GalleryEntry, ...]
    folder: Path
    pattern: str = "{seed}-{prompt}"
    fmt: ExportFormat = ExportFormat.PNG
    metadata: bool = True


def target_path(request: ExportRequest, entry: GalleryEntry, index: int, taken: set[Path]) -> Path:
    """A fresh file name: never an existing file, never one used earlier in this export."""
    s = entry.recipe.settings if entry.recipe else None
    stem = format_name(request.pattern, prompt=s.prompt if s else "cancelled", seed=s.seed if s else 0,
                       index=index, steps=s.steps if s else 0, sampler=s.sampler.value if s else "")
    suffix = request.fmt.value
    path, n = request.folder / f"{stem}.{suffix}", 1
    while path.exists() or path in taken:
        n += 1
        path = request.folder / f"{stem}-{n}.{suffix}"
    return path


class GalleryExport(QObject):
    running_changed = Signal(bool)
    progress_changed = Signal(float)
    running = Property(False, persist=False)
    progress = Property(0.0, persist=False)
    finished = Signal(str)  # a summary line
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next)
        self._request: ExportRequest | None = None
        self._index = 0
        self._written: list[Path] = []

    def start(self, request: ExportRequest) -> None:
        if not request.entries:
            self.failed.emit("nothing to export: the gallery selection is empty")
            return
        self._request, self._index, self._written = request, 0, []
        self.running, self.progress = True, 0.0
        self._timer.start(0)

    def cancel(self) -> None:
        if self.running:
            self._stop(f"export cancelled after {len(self._written)} files; those stay in {self._request.folder}")

    def _next(self) -> None:
        request = self._request
        entry = request.entries[self._index]
        try:
            path = target_path(request, entry, self._index + 1, set(self._written))
            chunks = png_chunks(entry.recipe) if request.metadata and entry.recipe else {}
            save_image(path, entry.image, request.fmt.value, chunks)
        except (ImageFileError, ValueError, OSError) as exc:
            self._timer.stop()
            self.running = False
            self.failed.emit(str(exc))
            return
        self._written.append(path)
        self._index += 1
        self.progress = self._index / len(request.entries)
        if self._index == len(request.entries):
            self._stop(f"exported {len(self._written)} files to {request.folder}")

    def _stop(self, summary: str) -> None:
        self._timer.stop()
        self.running = False
        self.finished.emit(summary)
