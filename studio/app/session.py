"""The session: the model in use, the settings, the runner, the gallery and the timeline together.

Every view model the window binds to hangs off it; it is built and tested without a window (tests/app run it
against a fake engine). Slow work — reading a model, exporting a sequence — goes to `background`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal

from studio.app.background import Background
from studio.app.canvas import Canvas, CanvasFiles
from studio.app.checkpoints import CheckpointImporter
from studio.app.exact_frames import ExactFrames
from studio.app.gallery import Gallery, GalleryEntry
from studio.app.generation import GenerationModel, Mode
from studio.app.properties import Property, load_properties, properties_of, save_properties
from studio.app.runner import JobRunner
from studio.app.schedule import CurveFn, SchedulePreview
from studio.app.timeline import Timeline
from studio.core.enums import SamplerKind
from studio.core.events import JobCancelled, Result
from studio.core.jobs import Ilvr, Inpaint, Job, Outpaint, StrokesToImage, TextToImage, Upscale
from studio.core.paths import default_model_path
from studio.core.settings import Stage
from studio.diffusion.samplers import sampler_kinds, sampler_spec
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.model_info import ModelFileError, ModelSummary, respacing_error, schedule_curve, summarize
from studio.engine.outpaint import WithOutpaint
from studio.engine.outpaint_windows import Growth, axis_starts
from studio.engine.pipeline import Pipeline
from studio.engine.worker import Runner
from studio.images.sequences import SequenceFormat, export_sequence

SAVE_DELAY_MS = 500  # settings are written this long after the last change


class Control(str, Enum):
    """Panel controls whose use depends on the mode or the model."""

    STEPS = "steps"
    SR_STEPS = "sr_steps"
    GUIDANCE = "guidance"
    STRENGTH = "strength"
    ETA = "eta"
    CHURN = "churn"
    SNR = "snr"
    ILVR_FACTOR = "ilvr_factor"
    CLASS_GUIDANCE = "class_guidance"
    CASCADE = "cascade"
    NOISE_AUGMENTATION = "noise_augmentation"
    SR_SAMPLER = "sr_sampler"
    SR_GUIDANCE = "sr_guidance"
    GENERATE = "generate"


class _Task(Enum):
    OPEN_MODEL = "open model"  # opening another model supersedes an opening still under way
    EXPORT_SEQUENCE = "export sequence"


@dataclass(frozen=True)
class Opened:
    path: str  # as the user gave it (a file, a cascade folder or its cascade.json)
    summary: ModelSummary


def first_readable(paths: list[str], read: Callable[[str], ModelSummary]) -> Opened:
    """The first of `paths` that reads as a model; ModelFileError for the first one's problem if none does."""
    problems: list[ModelFileError] = []
    for path in paths:
        try:
            return Opened(path, read(path))
        except ModelFileError as exc:
            problems.append(exc)
    raise problems[0]


def data_folder() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


class Session(QObject):
    model_path_changed = Signal(str)
    model_path = Property("")
    model_changed = Signal(object)  # ModelSummary | None
    opening_changed = Signal(str)
    opening = Property("", persist=False)  # the model being read in the background; "" when none
    error = Signal(str)  # one line for the status bar or a dialog
    message = Signal(str)
    partial_changed = Signal(object)  # the cancelled run's last x̂₀ (uint8 [B, H, W, 3]) or None
    respacing_problem_changed = Signal(str)
    sr_respacing_problem_changed = Signal(str)
    # why the respacing string cannot respace the model's chain, for the panel to show at once; "" = fine
    respacing_problem = Property("", persist=False)
    sr_respacing_problem = Property("", persist=False)

    def __init__(self, canvas: Canvas, *, runner: Runner | None = None, folder: Path | None = None,
                 settings: QSettings | None = None, read_model: Callable[[str], ModelSummary] = summarize,
                 curve_of: CurveFn = schedule_curve, parent: QObject | None = None) -> None:
        """`runner`, `read_model` and `curve_of` are the engine; tests pass fakes (DESIGN §14.10)."""
        super().__init__(parent)
        self.canvas = canvas
        self.folder = folder or data_folder()
        self.qsettings = settings or QSettings()
        self._read_model = read_model
        self.background = Background(self)
        self.generation = GenerationModel(self)
        self.runner = JobRunner(WithOutpaint(runner or Pipeline(ModelCache(choose_device()))), self)
        self.gallery = Gallery(self.folder / "gallery", self.background, self)
        self.timeline = Timeline(self)
        self.exact_frames = ExactFrames(self.timeline, self.runner, self)
        self.canvas_files = CanvasFiles(canvas, self.folder, self.generation, self.background, self)
        self.schedule = SchedulePreview(self.generation, canvas, self.background, curve_of=curve_of, parent=self)
        self.checkpoints = CheckpointImporter(self.background, self)
        self.model: ModelSummary | None = None
        self._brought: dict[str, object] = {}  # the settings the open model's authors chose
        self.partial: np.ndarray | None = None
        self.last_result: Result | None = None
        self._run_model = ""  # the model of the run going (the user may open another meanwhile)
        self._outpainting = False  # the run going is an outpainting: its result becomes the canvas
        self._wire()
        self._watch_settings()

    def _wire(self) -> None:
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self.error)
        self.runner.failed.connect(lambda _: setattr(self, "_outpainting", False))
        self.runner.note.connect(self.message)
        self.runner.step.connect(lambda event: self.schedule.show_frame(event.frame))
        self.timeline.index_changed.connect(lambda _: self.schedule.show_frame(self.timeline.current()))
        self.model_changed.connect(self.schedule.set_model)
        for signal in (self.generation.respacing_changed, self.generation.sr_respacing_changed, self.model_changed):
            signal.connect(lambda _: self._check_respacing())
        for part in (self.gallery, self.canvas_files, self.schedule, self.checkpoints, self.exact_frames):
            part.error.connect(self.error)
        self.checkpoints.progress.connect(self.message)
        self.checkpoints.imported.connect(self.open_model)  # the imported file opens at once
        self.canvas_files.message.connect(self.message)

    def _watch_settings(self) -> None:
        """Save the settings shortly after any of them changes, so a crash loses none of them."""
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_settings)
        for name in properties_of(GenerationModel):
            getattr(self.generation, f"{name}_changed").connect(self._save_timer.start)
        self.model_path_changed.connect(self._save_timer.start)

    # --- models -------------------------------------------------------------------------------
    def open_model(self, path: str | Path) -> None:
        """Start reading a model file or cascade in the background and return at once; `model_changed`
        follows, or `error` — a bad file leaves the current model in place. While it reads, `opening` names
        it and Generate waits; opening another model meanwhile supersedes this one."""
        path, read = str(path), self._read_model
        self._start_opening(path, lambda: Opened(path, read(path)), self._open_failed)

    def open_default_model(self) -> None:
        """The model of the last session, else the shipped one (in the background, as `open_model`)."""
        candidates = [p for p in (self.model_path, str(default_model_path())) if p and Path(p).exists()]
        if not candidates:
            self.message.emit("no model yet: choose “Open model file…”")
            return
        read = self._read_model
        self._start_opening(candidates[0], lambda: first_readable(candidates, read), self._no_model)

    def _start_opening(self, label: str, task: Callable[[], Opened], on_error: Callable[[str], None]) -> None:
        self.opening = label
        self.background.run_in_background(task, self._opened, on_error, key=_Task.OPEN_MODEL)

    def _opened(self, opened: Opened) -> None:
        if opened.path != self.model_path:  # another model: its authors' scales (reopening keeps the user's)
            self._take_back_brought()
            # a respacing string names timesteps of one model's chain: another model starts from its authors'
            self.generation.respacing = self.generation.sr_respacing = self.generation.sr_sampler = ""
            self.generation.sr_guidance_scale = 1.0
            for name, value in opened.summary.defaults:
                setattr(self.generation, name, value)
        self._brought = dict(opened.summary.defaults)
        self.model, self.model_path = opened.summary, opened.path
        self.opening = ""
        self.model_changed.emit(opened.summary)
        self.message.emit(f"opened {opened.summary.name} (its card: Model card…)")

    def _take_back_brought(self) -> None:
        """What the last model's authors chose and the user left alone goes back to the window's default, so
        one model's choices (ADM's classifier scale, GLIDE's sampler) do not carry over to the next."""
        defaults = properties_of(GenerationModel)
        for name, value in self._brought.items():
            if getattr(self.generation, name) == value:
                setattr(self.generation, name, defaults[name].default)

    def _open_failed(self, message: str) -> None:
        self.opening = ""
        self.error.emit(message)

    def _no_model(self, message: str) -> None:
        self._open_failed(message)
        if self.model is None:
            self.message.emit("no model yet: choose “Open model file…”")

    def _check_respacing(self) -> None:
        g, m = self.generation, self.model
        if m is None:
            base_t = sr_t = 1000
        else:
            base_t, sr_t = m.stage_schedule(Stage.BASE)[1], m.stage_schedule(Stage.SR)[1]
        self.respacing_problem = respacing_error(g.respacing.strip(), base_t) or ""
        self.sr_respacing_problem = respacing_error(g.sr_respacing.strip(), sr_t, "super-resolution respacing") or ""

    @staticmethod
    def sampler_kinds() -> tuple[SamplerKind, ...]:
        """The window's sampler list: the sampler table's entries, in its order."""
        return sampler_kinds()

    @staticmethod
    def sampler_label(kind: SamplerKind) -> str:
        """The table's one-line description of a sampler (the list's tooltip)."""
        return sampler_spec(kind).label

    def applies(self, control: Control) -> bool:
        """Whether a panel control applies to the current mode and model (others are disabled)."""
        g, m = self.generation, self.model
        mode = g.mode
        has_sr = m is not None and m.has_sr
        runs_sr = self._runs_sr()
        read = set().union(*(sampler_spec(kind).options for kind in self._samplers_in_use()))
        rules = {
            Control.STEPS: not self.generation.respacing.strip(),  # a respacing string names the steps instead
            Control.SR_STEPS: runs_sr and not g.sr_respacing.strip(),
            Control.SR_SAMPLER: runs_sr,
            Control.SR_GUIDANCE: runs_sr,
            Control.STRENGTH: mode is Mode.STROKES,
            Control.ILVR_FACTOR: mode is Mode.ILVR,
            Control.CLASS_GUIDANCE: m is not None and bool(m.class_names) and mode is not Mode.UPSCALE,
            Control.NOISE_AUGMENTATION: runs_sr,
            Control.CASCADE: has_sr and mode is not Mode.UPSCALE,
            # η, churn and the corrector's SNR: only where a sampler this run uses reads them
            Control.ETA: "eta" in read,
            Control.CHURN: "churn" in read,
            Control.SNR: "snr" in read,
            Control.GUIDANCE: mode is not Mode.UPSCALE,
            Control.GENERATE: m is not None and not self.runner.running and not self.opening
            and (m.has_base or mode is Mode.UPSCALE),
        }
        return rules.get(control, True)

    def _runs_sr(self) -> bool:
        """Whether a run started now has a super-resolution stage."""
        g, m = self.generation, self.model
        return m is not None and m.has_sr and (g.mode is Mode.UPSCALE or g.cascade)

    def _samplers_in_use(self) -> set[SamplerKind]:
        g = self.generation
        sr = SamplerKind(g.sr_sampler or g.sampler)
        if g.mode is Mode.UPSCALE:
            return {sr}
        return {SamplerKind(g.sampler), sr} if self._runs_sr() else {SamplerKind(g.sampler)}

    # --- running ------------------------------------------------------------------------------
    def generate(self, *, fork=None) -> int | None:
        """Start a run — the one path for the button, the shortcut and the menu. One run at a time:
        while one is going this refuses (with a hint) rather than queueing behind the disabled button."""
        if not self._may_run():
            return None
        if fork is None and not self.generation.seed_locked:
            self.generation.roll_seed()  # a fresh seed each run, as other tools do, unless locked
        try:
            job = self._job(fork)
        except ValueError as exc:
            self.error.emit(str(exc))
            return None
        return self._submit(job)

    def outpaint(self, growth: tuple[int, int, int, int], overlap: int | None = None) -> int | None:
        """Grow the canvas by (left, top, right, bottom) pixels and paint the new area with the current model,
        prompt and settings, as inpainting in overlapping windows of the base model's size (engine/outpaint.py,
        as `studio outpaint`); `overlap` defaults to half a window. The result becomes the canvas (one undo
        step) and joins the gallery; a cancelled or failed run leaves the canvas as it was."""
        if not self._may_run():
            return None
        try:
            job = self._outpaint_job(growth, overlap)
        except ValueError as exc:
            self.error.emit(str(exc))
            return None
        self._outpainting = True
        return self._submit(job)

    def _submit(self, job: Job) -> int:
        self.timeline.clear()
        self._run_model = job.model
        return self.runner.submit(job)

    def _outpaint_job(self, growth: tuple[int, int, int, int], overlap: int | None) -> Outpaint:
        """The job, checked here so that a bad size is refused before the run rather than failing in it."""
        sides, size = Growth(*growth), self.model.resolution
        overlap = size // 2 if overlap is None else overlap
        image = self.canvas.painting()
        axis_starts(image.shape[0] + sides.top + sides.bottom, size, overlap)
        axis_starts(image.shape[1] + sides.left + sides.right, size, overlap)
        if not self.generation.seed_locked:
            self.generation.roll_seed()
        settings = self.generation.settings(with_classifier=bool(self.model.class_names))
        return Outpaint(self.model_path, settings, image, growth, size, overlap)

    def _may_run(self) -> bool:
        """Whether a run may start now; if not, says why (one run at a time, a model read and opened)."""
        if self.runner.running:
            self.message.emit("a run is going: Esc cancels it")
            return False
        if self.opening:  # the run would otherwise go to the model being replaced
            self.message.emit("a model is opening: Generate works once it is read")
            return False
        if self.model is None:
            self.error.emit("open a model first")
            return False
        return True

    def fork_from_current_step(self) -> int | None:
        """Re-run from the selected step's stored x_t with the settings now in the panel."""
        point = self.timeline.fork_point()
        if point is None or self.last_result is None:
            self.error.emit("run something first, then pick a step to fork from")
            return None
        parent, g = self.last_result.recipe.settings, self.generation
        g.steps, g.sr_steps, g.respacing, g.sr_respacing = parent.steps, parent.sr_steps, parent.respacing, \
            parent.sr_respacing
        return self.generate(fork=point)

    def cancel(self) -> None:
        self.runner.cancel()

    def _job(self, fork) -> Job:
        g = self.generation
        mode = g.mode
        sr_fork = fork is not None and fork.stage is Stage.SR
        settings = g.settings(with_classifier=bool(self.model.class_names), with_sr=self._runs_sr() or sr_fork)
        path = self.model_path
        if sr_fork:
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
        if mode is Mode.ILVR:
            return Ilvr(path, settings, self.canvas.painting(), fork=fork)
        return Upscale(path, settings, self.canvas.painting(), fork=fork)

    def _on_finished(self, result: Result) -> None:
        self.last_result = result
        self.timeline.set_result(result, self._run_model)
        if self._outpainting:
            self._outpainting = False
            self.canvas.grow_to(result.images[0], "outpaint")
        for image in result.images:
            self.gallery.add(image, result.recipe)
        self._set_partial(None)

    def _on_cancelled(self, event: JobCancelled) -> None:
        self._outpainting = False
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

    # --- gallery entries and the canvas -------------------------------------------------------
    def reuse(self, entry: GalleryEntry) -> None:
        """Put a result's settings and mode back (a kept partial has none to give)."""
        if entry.recipe is None:
            self.error.emit("a cancelled run's image has no settings to reuse")
            return
        self.generation.apply(entry.recipe)

    def send_to_canvas(self, entry: GalleryEntry) -> None:
        self.canvas.place_image(entry.image, "send to canvas")

    def upscale(self, entry: GalleryEntry) -> int | None:
        """Run the super-resolution stage on a gallery image: it becomes the canvas, the mode Upscale. An image
        already at the SR stage's output size is refused with a message: it would come back the same size."""
        height, width = entry.image.shape[:2]
        if self.model is not None and self.model.has_sr and min(height, width) >= self.model.output_resolution:
            self.error.emit(f"this image is already {width}×{height} px, the size this model's super-resolution "
                            "stage makes: there is nothing to upscale")
            return None
        self.canvas.place_image(entry.image, "upscale input")
        self.generation.mode = Mode.UPSCALE
        return self.generate()

    def open_image(self, path: str | Path) -> bool:
        return self.canvas_files.open_image(path)

    def export_sequence(self, path: str | Path, fmt: SequenceFormat) -> bool:
        """Write the last run's steps (x_t beside x̂₀) in the background; `message` or `error` follows.
        False, with an error, when there is nothing to export."""
        frames = self.timeline.frames
        if not frames:
            self.error.emit("run something first: there are no steps to export")
            return False
        pairs, target = [(f.x_t_preview[0], f.x0_preview[0]) for f in frames], Path(path)
        self.background.run_in_background(
            lambda: export_sequence(pairs, target, fmt),
            lambda _: self.message.emit(f"{len(pairs)} steps exported to {target}"), self.error.emit,
            key=_Task.EXPORT_SEQUENCE)
        return True

    # --- persistence --------------------------------------------------------------------------
    def save_settings(self) -> None:
        save_properties(self.generation, self.qsettings, "generation")
        self.qsettings.setValue("model/path", self.model_path)
        self.qsettings.sync()

    def restore(self) -> None:
        """Start-up: the settings, the canvas and the gallery of the last session (quick, here), then its
        model (read in the background)."""
        load_properties(self.generation, self.qsettings, "generation")
        self.model_path = str(self.qsettings.value("model/path", "") or "")
        self.canvas_files.restore()
        self.gallery.load()
        self.open_default_model()

    def shutdown(self) -> None:
        """Save what a next start restores, stop every timer and thread; safe to call twice."""
        self.canvas_files.stop()
        self.schedule.stop()
        self.timeline.stop()
        self.exact_frames.stop()
        self.save_settings()
        self.canvas_files.save()
        self.gallery.flush()
        self.background.shutdown()
        self.runner.shutdown()
