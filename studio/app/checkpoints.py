"""File → Import checkpoint…: an OpenAI `.pt` becomes a studio model file off the UI thread, with progress.

The import (reading a multi-gigabyte pickle safely, converting, writing safetensors) takes seconds to
minutes; it runs through `Background` like a model opening. Progress lines are emitted from the pool
thread — a queued signal brings them to the main thread — and the finished file is opened."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from studio.app.background import Background
from studio.app.properties import Property
from studio.engine.openai_import import FAMILY_NAMES, import_checkpoint, preset_names

RECOGNISE = ""  # the preset choice that means: recognise the file from its tensors' shapes


class CheckpointImporter(QObject):
    progress = Signal(str)  # "importing base.pt: converting (50%)", from any thread
    imported = Signal(str)  # the written model file
    error = Signal(str)

    importing_changed = Signal(str)
    importing = Property("", persist=False)  # the file being imported ("" when none)

    families = FAMILY_NAMES

    def __init__(self, background: Background, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.background = background

    @staticmethod
    def presets(family: str) -> list[str]:
        return preset_names(family)

    def start(self, family: str, source: str, out: str, preset: str = RECOGNISE) -> None:
        """Import in the background; `imported` or `error` follows (one line). Overwrites `out`: the save
        dialog has already asked."""
        name = source.rsplit("/", 1)[-1]

        def report(what: str, fraction: float) -> None:
            self.progress.emit(f"importing {name}: {what} ({fraction:.0%})")

        def task() -> str:
            result = import_checkpoint(family, source, out, preset=preset or None, overwrite=True, progress=report)
            return str(result.path)

        self.importing = source
        self.background.run_in_background(task, self._done, self._failed)

    def _done(self, path: str) -> None:
        self.importing = ""
        self.imported.emit(path)

    def _failed(self, message: str) -> None:
        self.importing = ""
        self.error.emit(message)
