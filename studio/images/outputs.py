"""Where a CLI job's files go, checked in full before any model runs, so no command loses a file.

Every output path — the image or its numbered batch names, and the step sequence — is decided and
checked first: an existing file is refused unless `--overwrite` is given, the suffix names the format
that is written, and the folder must be writable. Only then does the job run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from studio.images.sequences import SequenceFormat


class OutputError(ValueError):
    """An output path that cannot or must not be written; one line naming it."""


class ImageFormat(str, Enum):
    PNG = "png"  # carries the `parameters` text and the whole recipe
    JPEG = "jpg"  # carries the `parameters` text (EXIF UserComment)
    WEBP = "webp"


SUFFIXES = {".png": ImageFormat.PNG, ".jpg": ImageFormat.JPEG, ".jpeg": ImageFormat.JPEG,
            ".webp": ImageFormat.WEBP}
FRAME_GLOB = "*-[0-9][0-9][0-9]-x[t0].png"  # what FRAMES writes: base-000-xt.png, sr-019-x0.png, …


@dataclass(frozen=True)
class OutputPlan:
    images: tuple[Path, ...]
    image_format: ImageFormat
    steps_dir: Path | None = None
    sequence: SequenceFormat = SequenceFormat.FRAMES
    sequence_file: Path | None = None  # GIF, WebP or contact sheet; None for frames


def plan_outputs(out: Path, count: int, steps_dir: str | None, sequence: SequenceFormat,
                 overwrite: bool) -> OutputPlan:
    image_format = SUFFIXES.get(out.suffix.lower())
    if image_format is None:
        raise OutputError(f"{out}: the name must end in .png, .jpg, .jpeg or .webp (the format written)")
    images = tuple(_numbered(out, count))
    for path in images:
        _check_file(path, overwrite)
    plan = OutputPlan(images, image_format)
    if steps_dir:
        folder = Path(steps_dir)
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder}: not a folder")
        if sequence is SequenceFormat.FRAMES:
            check_writable_folder(folder)
            if not overwrite and folder.is_dir() and next(folder.glob(FRAME_GLOB), None) is not None:
                raise OutputError(f"{folder}: already holds step frames (use --overwrite to replace them)")
            plan = OutputPlan(images, image_format, folder, sequence)
        else:
            suffix = {"gif": "gif", "webp": "webp", "sheet": "png"}[sequence.value]
            target = folder / f"{out.stem}-steps.{suffix}"
            _check_file(target, overwrite)
            plan = OutputPlan(images, image_format, folder, sequence, target)
    return plan


def _numbered(out: Path, count: int) -> list[Path]:
    if count == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i + 1}{out.suffix}") for i in range(count)]


def _check_file(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise OutputError(f"{path}: cannot write (Is a directory)")
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: already exists (use --overwrite to replace it)")
    check_writable_folder(path.parent if str(path.parent) else Path("."))


def check_writable_folder(folder: Path) -> None:
    """The folder, or the nearest part of it that exists (the rest will be made), must be writable —
    checked before a long job, so that its result is not lost at the end."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{existing}: cannot write here (Not a directory)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{existing}: cannot write here (Permission denied)")
