"""The session: the model in use, the settings, the runner, the gallery and the timeline together."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal

from studio.app.gallery import Gallery
from studio.app.generation import GenerationModel, Mode
from studio.app.properties import Property, load_properties, properties_of, save_properties
from studio.app.runner import JobRunner
from studio.app.timeline import Timeline
from studio.core.events import JobCancelled, Result
from studio.core.jobs import Inpaint, Job, StrokesToImage, TextToImage, Upscale
from studio.core.paths import default_model_path
from studio.core.settings import Stage
from studio.diffusion.samplers import sampler_spec
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.model_info import ModelFileError, ModelSummary, summarize
from studio.engine.pipeline import Pipeline
from studio.engine.worker import Runner

SAVE_DELAY_MS = 500  # settings are written this long after the last change


class Control(str, Enum):
    """Panel controls whose use depends on the mode or the model."""

    STEPS = "steps"
    GUIDANCE = "guidance"
    STRENGTH = "strength"
    ETA = "eta"
    CLASS_GUIDANCE = "class_guidance"
    CASCADE = "cascade"
    NOISE_AUGMENTATION = "noise_augmentation"
    GENERATE = "generate"


class Canvas(Protocol):
    """What the session reads from the canvas: the painting and the mask, as uint8 arrays."""

    def painting(self) -> np.ndarray: ...

    def mask(self) -> np.ndarray: ...


def data_folder() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


class Session(QObject):
    model_path_changed = Signal(str)
    model_path = Property("")
    model_changed = Signal(object)  # ModelSummary | None
    error = Signal(str)  # one line for the status bar or a dialog
    message = Signal(str)
    partial_changed = Signal(object)  # the cancelled run's last x̂₀ (uint8 [B, H, W, 3]) or None

    def __init__(self, canvas: Canvas, *, runner: Runner | None = None, folder: Path | None = None,
                 settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.folder = folder or data_folder()
        self.qsettings = settings or QSettings()
        self.generation = GenerationModel(self)
        self.runner = JobRunner(runner or Pipeline(ModelCache(choose_device())), self)
        self.gallery = Gallery(self.folder / "gallery", self)
        self.timeline = Timeline(self)
        self.model: ModelSummary | None = None
        self.partial: np.ndarray | None = None
        self.last_result: Result | None = None
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self.error)
        self.runner.note.connect(self.message)
        self.gallery.error.connect(self.error)
        self._watch_settings()

    def _watch_settings(self) -> None:
        """Save the settings shortly after any of them changes, so a crash loses none of them."""
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_settings)
        for name in properties_of(GenerationModel):
            getattr(self.generation, f"{name}_changed").connect(self._save_timer.start)
        self.model_path_changed.connect(self._save_timer.start)

    # --- models -------------------------------------------------------------------------------
    def open_model(self, path: str | Path) -> bool:
        """Switch to a model file or cascade; a bad file leaves the current model in place."""
        try:
            summary = summarize(path)
        except ModelFileError as exc:
            self.error.emit(str(exc))
            return False
        self.model = summary
        self.model_path = str(path)
        self.model_changed.emit(summary)
        return True

    def open_default_model(self) -> None:
        candidates = [self.model_path] if self.model_path else []
        candidates.append(str(default_model_path()))
        for path in candidates:
            if path and Path(path).exists() and self.open_model(path):
                return
        self.message.emit("no model yet: choose “Open model file…”")

    def applies(self, control: Control) -> bool:
        """Whether a panel control applies to the current mode and model (others are disabled)."""
        mode, m = self.generation.mode, self.model
        has_sr = m is not None and m.has_sr
        rules = {
            Control.STRENGTH: mode is Mode.STROKES,
            Control.CLASS_GUIDANCE: m is not None and bool(m.class_names) and mode is not Mode.UPSCALE,
            Control.NOISE_AUGMENTATION: has_sr and (mode is Mode.UPSCALE or self.generation.cascade),
            Control.CASCADE: has_sr and mode is not Mode.UPSCALE,
            Control.ETA: "eta" in sampler_spec(self.generation.sampler).options,  # the samplers that read η
            Control.GUIDANCE: mode is not Mode.UPSCALE,
            Control.GENERATE: m is not None and not self.runner.running and (m.has_base or mode is Mode.UPSCALE),
        }
        return rules.get(control, True)

    # --- running ------------------------------------------------------------------------------
    def generate(self, *, fork=None) -> int | None:
        """Start a run — the one path for the button, the shortcut and the menu. One run at a time:
        while one is going this refuses (with a hint) rather than queueing behind the disabled button."""
        if self.runner.running:
            self.message.emit("a run is going: Esc cancels it")
            return None
        if self.model is None:
            self.error.emit("open a model first")
            return None
        if fork is None and not self.generation.seed_locked:
            self.generation.roll_seed()  # a fresh seed each run, as other tools do, unless locked
        try:
            job = self._job(fork)
        except ValueError as exc:
            self.error.emit(str(exc))
            return None
        self.timeline.clear()
        return self.runner.submit(job)

    def fork_from_current_step(self) -> int | None:
        """Re-run from the selected step's stored x_t with the settings now in the panel."""
        point = self.timeline.fork_point()
        if point is None or self.last_result is None:
            self.error.emit("run something first, then pick a step to fork from")
            return None
        parent = self.last_result.recipe.settings
        self.generation.steps, self.generation.sr_steps = parent.steps, parent.sr_steps
        return self.generate(fork=point)

    def cancel(self) -> None:
        self.runner.cancel()

    def _job(self, fork) -> Job:
        g = self.generation
        settings = g.settings(with_classifier=bool(self.model.class_names))
        path = self.model_path
        mode = g.mode
        if fork is not None and fork.stage is Stage.SR:
            settings = replace(settings, cascade=True)
        if mode is Mode.TEXT:
            return TextToImage(path, settings, fork=fork)
        if mode is Mode.STROKES:
            return StrokesToImage(path, settings, self.canvas.painting(), fork=fork)
        if mode is Mode.INPAINT:
            mask = self.canvas.mask()
            if not mask.any():
                raise ValueError("paint a mask over the part to regenerate (M switches to the mask)")
            return Inpaint(path, settings, self.canvas.painting(), mask, fork=fork)
        return Upscale(path, settings, self.canvas.painting(), fork=fork)

    def _on_finished(self, result: Result) -> None:
        self.last_result = result
        self.timeline.set_result(result)
        for image in result.images:
            self.gallery.add(image, result.recipe)
        self._set_partial(None)

    def _on_cancelled(self, event: JobCancelled) -> None:
        self._set_partial(event.last_x0)

    def _set_partial(self, images: np.ndarray | None) -> None:
        self.partial = images
        self.partial_changed.emit(images)

    def keep_partial(self) -> None:
        """Keep a cancelled run's last x̂₀ in the gallery (without a recipe: it is not reproducible)."""
        if self.partial is not None:
            for image in self.partial:
                self.gallery.add(image, None)
        self._set_partial(None)

    def drop_partial(self) -> None:
        self._set_partial(None)

    # --- persistence --------------------------------------------------------------------------
    def save_settings(self) -> None:
        save_properties(self.generation, self.qsettings, "generation")
        self.qsettings.setValue("model/path", self.model_path)
        self.qsettings.sync()

    def restore(self) -> None:
        load_properties(self.generation, self.qsettings, "generation")
        self.model_path = str(self.qsettings.value("model/path", "") or "")
        self.gallery.load()
        self.open_default_model()

    def shutdown(self) -> None:
        self.save_settings()
        self.runner.shutdown()
