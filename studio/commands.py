"""The bodies of the `studio` subcommands (argument parsing lives in cli.py)."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path

import numpy as np

from studio.cli import CliError
from studio.core.events import Event, JobStarted, Note, Result, StepEvent
from studio.core.jobs import Ilvr, Inpaint, Job, Outpaint, StrokesToImage, TextToImage, Upscale
from studio.core.settings import Recipe, Settings
from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.engine.model_info import summarize
from studio.engine.models import ModelFileError, describe_models
from studio.engine.outpaint import WithOutpaint
from studio.engine.outpaint_windows import Growth
from studio.engine.pipeline import Pipeline
from studio.engine.worker import JobCancelledError
from studio.images.files import ImageFileError, load_mask, load_rgb, save_image, save_png
from studio.images.metadata import png_chunks
from studio.images.outputs import OutputPlan, plan_outputs
from studio.images.sequences import SequenceFormat, export_sequence

USER_ERRORS = (ModelFileError, ImageFileError, ValueError)


def dispatch(args: argparse.Namespace, settings_from_args: Callable[[argparse.Namespace], Settings]) -> int:
    """Run one subcommand; every failure becomes one line on stderr and an exit status, never a traceback."""
    try:
        return _run_command(args, settings_from_args)
    except CliError:
        raise
    except USER_ERRORS as exc:
        raise CliError(" ".join(str(exc).split())) from None
    except OSError as exc:
        if exc.filename is None:
            return _failed(exc)
        # a file the user named cannot be read (outputs were checked before the job): theirs to fix, exit 2
        raise CliError(f"{exc.filename}: cannot read ({exc.strerror or exc})") from None
    except JobCancelledError:
        print("studio: cancelled", file=sys.stderr)
        return 130
    except Exception as exc:
        return _failed(exc)


def _run_command(args: argparse.Namespace, settings_from_args: Callable[[argparse.Namespace], Settings]) -> int:
    if args.command == "info":
        print(describe_models(Path(args.path)))
        return 0
    if args.command == "bench" and args.what == "sd-unet":
        from studio.engine.bench_sd import main as bench_sd_main

        return bench_sd_main(["--rounds", str(args.rounds or 5)])
    if args.command == "bench" and args.what == "sd-x4":
        from studio.engine.bench_x4 import main as bench_x4_main

        return bench_x4_main(["--rounds", str(args.rounds or 3)])
    if args.command == "bench":
        from studio.engine.bench_unet import main as bench_main

        return bench_main(["--rounds", str(args.rounds or 20)])
    if args.command == "batch":
        from studio.batch import run_batch

        return run_batch(args, settings_from_args(args))
    if args.command in ("import", "cascade", "forward"):
        from studio.openai_commands import run

        return run(args)
    if args.command in ("data", "train", "train-all", "eval"):
        from studio import training_commands

        return getattr(training_commands, args.command.replace("-", "_"))(args)
    return _make_images(args, settings_from_args(args))


def _make_images(args: argparse.Namespace, settings: Settings) -> int:
    """generate, sdedit, inpaint, upscale, ilvr, outpaint: one job, its recipe notes, its files."""
    plan = plan_outputs(Path(args.out), settings.batch_size, args.save_steps,
                        SequenceFormat(args.sequence_format), args.overwrite)
    if args.command == "outpaint":
        result = run_outpaint(args, settings)
    else:
        result = run_job(make_job(args, settings), args.device)
    for line in recipe_differences(getattr(args, "source_recipe", None), result.recipe):
        print(f"studio: note: {line}", file=sys.stderr)
    write_outputs(result, plan)
    return 0


def _failed(exc: Exception) -> int:
    """A failure that is not the user's: one line naming it, no traceback, exit status 1."""
    print(f"studio: failed: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
    return 1


def recipe_differences(wanted: Recipe | None, made: Recipe) -> list[str]:
    """What differs between the recipe asked for and the run, besides explicitly changed settings:
    the model files and the input images, which decide the pixels as much as the settings do."""
    if wanted is None:
        return []
    lines = []
    if wanted.model_hash != made.model_hash:
        lines.append(f"the model's files differ from the recipe's (digest {made.model_hash[:12]}, recipe "
                     f"{wanted.model_hash[:12]}): the pixels will differ")
    before, now = dict(wanted.inputs), dict(made.inputs)
    lines += [f"the {role} differs from the recipe's" for role in sorted(before) if now.get(role) != before[role]]
    return lines


def make_job(args: argparse.Namespace, settings: Settings) -> Job:
    model = args.model
    if args.command == "generate":
        return TextToImage(model, settings)
    image = load_rgb(args.image)
    if args.command == "sdedit":
        return StrokesToImage(model, settings, image)
    if args.command == "inpaint":
        mask = load_mask(args.mask)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"the mask is {mask.shape[1]}×{mask.shape[0]} but the image is "
                             f"{image.shape[1]}×{image.shape[0]}")
        return Inpaint(model, settings, image, mask)
    if args.command == "ilvr":
        return Ilvr(model, settings, image)
    return Upscale(model, settings, image)


def run_outpaint(args: argparse.Namespace, settings: Settings) -> Result:
    """`studio outpaint`: the grown image, painted window by window (engine/outpaint.py)."""
    growth = Growth(args.left, args.top, args.right, args.bottom)
    size = summarize(args.model).resolution
    overlap = size // 2 if args.overlap is None else args.overlap
    job = Outpaint(args.model, settings, load_rgb(args.image), astuple(growth), size, overlap)
    return run_job(job, args.device)


def run_job(job: Job | Outpaint, device: str | None) -> Result:
    pipeline = WithOutpaint(Pipeline(ModelCache(choose_device(device))))
    progress = Progress()
    cancel = threading.Event()
    try:
        return pipeline.run(job, 1, cancel, progress)
    finally:
        progress.close()


class Progress:
    """Progress on stderr: stage, step, seconds per step and ETA, rewritten in place on a terminal."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr  # looked up now: a default bound at import outlives a replaced stderr
        self.total = 0
        self.done = 0
        self.tty = self.stream.isatty()

    def __call__(self, event: Event) -> None:
        if isinstance(event, JobStarted):
            self.total = event.total_steps
        elif isinstance(event, Note):
            self._line(f"note: {event.message}", final=True)
        elif isinstance(event, StepEvent):
            self.done += 1
            f = event.frame
            eta = event.seconds_per_step * (self.total - self.done)
            self._line(
                f"{f.stage.value:>4} step {f.step + 1}/{f.total}  "
                f"[{self.done}/{self.total}]  {event.seconds_per_step:.3f} s/step  ETA {eta:.1f} s",
                final=not self.tty,
            )

    def _line(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


def write_outputs(result: Result, plan: OutputPlan) -> None:
    chunks = png_chunks(result.recipe)
    for path, image in zip(plan.images, result.images, strict=True):
        save_image(path, image, plan.image_format.value, chunks)
        print(path, file=sys.stdout)
    if plan.steps_dir is None:
        return
    if plan.sequence_file is None:
        for frame in result.frames:
            stem = f"{frame.stage.value}-{frame.step:03d}"
            save_png(plan.steps_dir / f"{stem}-xt.png", _tile(frame.x_t_preview))
            save_png(plan.steps_dir / f"{stem}-x0.png", _tile(frame.x0_preview))
        target = plan.steps_dir
    else:
        target = plan.sequence_file
        export_sequence([(f.x_t_preview[0], f.x0_preview[0]) for f in result.frames], target, plan.sequence)
    print(f"studio: {len(result.frames)} steps written to {target}", file=sys.stderr)


def _tile(batch: np.ndarray) -> np.ndarray:
    """A batch [B, H, W, 3] side by side as one image."""
    return np.concatenate(list(batch), axis=1)
