"""A fake engine for the view models (DESIGN §14.10): a runner that emits scripted events, a model reader
that returns a summary (or refuses) without reading a file, a schedule curve of known values, and a canvas
of numpy arrays. Anything a test must see "in the middle" waits on a `threading.Event` the test releases,
so no test orders events by sleeping."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from studio.core.events import Frame, JobStarted, Note, Result, StepEvent
from studio.core.jobs import Job
from studio.core.settings import Recipe, Stage
from studio.engine.model_info import ModelFileError, ModelSummary, ScheduleCurve
from studio.engine.worker import JobCancelledError

SIZE = 8  # the fake engine's images: 8×8 RGB


def summary(name: str = "fake", *, path: str = "fake/cascade.json", has_sr: bool = True,
            class_names: tuple[str, ...] = ("apple", "star", "cat")) -> ModelSummary:
    return ModelSummary(path=path, name=name, resolution=SIZE, output_resolution=2 * SIZE if has_sr else SIZE,
                        has_base=True, has_sr=has_sr, class_names=class_names, timesteps=1000, schedule="linear",
                        description=f"{name}: a fake model\n  config: {{}}", sr_timesteps=1000 if has_sr else 0,
                        sr_schedule="linear" if has_sr else "")


class FakeModels:
    """`read_model` for the session: a summary per path; any other path is refused as a bad file.
    A path in `gates` blocks its reading until the test sets the event."""

    def __init__(self, known: dict[str, ModelSummary]) -> None:
        self.known = dict(known)
        self.gates: dict[str, threading.Event] = {}
        self.reads: list[str] = []

    def __call__(self, path: str) -> ModelSummary:  # on a background thread
        self.reads.append(path)
        gate = self.gates.get(path)
        if gate is not None and not gate.wait(30):
            raise TimeoutError("the test never released the gate")
        if path not in self.known:
            raise ModelFileError(path, "not a safetensors file (header length out of range)")
        return self.known[path]

    def hold(self, path: str) -> threading.Event:
        self.gates[path] = threading.Event()
        return self.gates[path]


def curve_of(model: ModelSummary, steps: int, stage: Stage, spacing=None, respacing: str = "") -> ScheduleCurve:
    """A schedule with log SNR(t) = −t/100 and `steps` evenly spaced timesteps from 0 to 999 (any spacing); a
    respacing string that is a plain count stands for that many steps."""
    steps = int(respacing) if respacing.isdigit() else steps
    length = model.timesteps
    chain = (length - 1,) if steps == 1 else tuple(round(i * (length - 1) / (steps - 1)) for i in range(steps))
    return ScheduleCurve(stage, tuple(-t / 100 for t in range(length)), chain)


EXACT = 255  # the fake exact decode: previews of pure white, unlike any step's grey


def frame(stage: Stage, step: int, total: int, batch: int = 1, latent: bool = False) -> Frame:
    """A step whose previews are flat grey at 10·(step + 1), so a test can tell steps apart. A `latent` one
    carries a latent x̂₀ (4 channels at half size), as a latent model's frames do."""
    level = min(254, 10 * (step + 1))
    preview = np.full((batch, SIZE, SIZE, 3), level, np.uint8)
    channels, size = (4, SIZE // 2) if latent else (3, SIZE)
    x0 = np.full((batch, 4, SIZE // 2, SIZE // 2), step, np.float32) if latent else None
    return Frame(stage, step, total, index=total - 1 - step, t=999 - step * (999 // max(total, 1)),
                 x_t_preview=preview, x0_preview=preview, x_t=np.full((batch, channels, size, size), step, np.float32),
                 x0=x0)


@dataclass
class FakeRunner:
    """Runs a job as `steps` base steps (plus `sr_steps` when the job asks for the cascade), emitting the
    events the real pipeline emits. `gate`: wait before the first step until the test releases it.
    `fail`: raise this message instead of finishing. `hold_after`: after emitting that step (0-based, over
    all stages), wait until the job is cancelled — a user pressing Esc while the step shows. The cancel flag
    is looked at between steps, as the real pipeline does."""

    steps: int = 3
    sr_steps: int = 2
    gate: threading.Event | None = None
    fail: str | None = None
    note: str | None = None
    hold_after: int | None = None
    latent: bool = False  # frames carry a latent x̂₀, whose exact decode the window may ask for
    decode_gate: threading.Event | None = None  # `exact_frame` waits for it
    decode_fail: str | None = None
    jobs: list[Job] = field(default_factory=list)
    decoded: list[tuple[str, int]] = field(default_factory=list)  # (model, frame step) per exact_frame call

    def run(self, job: Job, job_id: int, cancel: threading.Event, emit) -> Result:  # on the worker thread
        self.jobs.append(job)
        stages = [(Stage.BASE, self.steps)] + ([(Stage.SR, self.sr_steps)] if job.settings.cascade else [])
        emit(JobStarted(job_id, tuple(stages)))
        if self.note:
            emit(Note(job_id, self.note))
        if self.gate is not None and not self.gate.wait(30):
            raise TimeoutError("the test never released the gate")
        frames = []
        for stage, total in stages:
            for step in range(total):
                if cancel.is_set():
                    last = frames[-1] if frames else None
                    raise JobCancelledError(last and last.x0_preview, last and last.stage)
                frames.append(frame(stage, step, total, job.settings.batch_size, self.latent))
                emit(StepEvent(job_id, frames[-1], seconds_per_step=0.25))
                if len(frames) - 1 == self.hold_after and not cancel.wait(30):
                    raise TimeoutError("the test never cancelled")
        if self.fail:
            raise RuntimeError(self.fail)
        images = frames[-1].x0_preview
        recipe = Recipe(job.kind, "fake", "0" * 64, job.settings, images.shape[2], images.shape[1])
        return Result(images, recipe, tuple(frames), seconds=1.5, base_output=np.zeros((1, 3, SIZE, SIZE), np.float32))

    def exact_frame(self, model: str, frame: Frame) -> Frame:  # on the worker thread
        self.decoded.append((model, frame.step))
        if self.decode_gate is not None and not self.decode_gate.wait(30):
            raise TimeoutError("the test never released the decode")
        if self.decode_fail:
            raise RuntimeError(self.decode_fail)
        exact = np.full_like(frame.x0_preview, EXACT)
        return replace(frame, x0_preview=exact, x_t_preview=exact)


class FakeCanvas:
    """The canvas as arrays; records what the session places on it."""

    def __init__(self, size: int = 16) -> None:
        self.paint = np.full((size, size, 3), 255, np.uint8)
        self.coverage = np.zeros((size, size), np.uint8)
        self.placed: list[tuple[np.ndarray, str]] = []

    def painting(self) -> np.ndarray:
        return self.paint.copy()

    def mask(self) -> np.ndarray:
        return self.coverage.copy()

    def place_image(self, image: np.ndarray, text: str) -> None:
        self.placed.append((image, text))
        self.paint = image.copy()

    def grow_to(self, image: np.ndarray, text: str) -> None:
        self.placed.append((image, text))
        self.paint, self.coverage = image.copy(), np.zeros(image.shape[:2], np.uint8)

    def restore_layers(self, paint: np.ndarray | None, mask: np.ndarray | None) -> None:
        if paint is not None:
            self.paint = paint.copy()
        if mask is not None:
            self.coverage = mask.copy()


def model_file(folder: Path, name: str = "model.safetensors") -> str:
    """A path that exists (the session only reads paths that do); the fake reader never opens it."""
    path = folder / name
    path.write_bytes(b"")
    return str(path)
