"""Writing image files safely: a temporary name in the same folder, then an atomic rename."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from studio.core.atomic import atomic_write


class ImageFileError(Exception):
    """An image file could not be read or written; the message is one line naming the path and why."""


def save_png(path: str | Path, image: np.ndarray, text: dict[str, str] | None = None) -> Path:
    """Write uint8 [H, W, 3] as PNG with optional text chunks; never leaves a half-written file."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    return _atomic_write(Path(path), lambda f: Image.fromarray(image).save(f, "PNG", pnginfo=info))


def save_image(path: str | Path, image: np.ndarray, fmt: str, text: dict[str, str] | None = None) -> Path:
    """PNG (with text chunks), JPEG or WebP (with the `parameters` text as EXIF UserComment)."""
    if fmt == "png":
        return save_png(path, image, text)
    exif = Image.Exif()
    if text and "parameters" in text:
        exif[0x9286] = text["parameters"]  # UserComment, where other tools look for it
    kind = {"jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    options = {"quality": 95} if kind == "JPEG" else {"lossless": True}
    return _atomic_write(Path(path), lambda f: Image.fromarray(image).save(f, kind, exif=exif, **options))


def load_rgb(path: str | Path) -> np.ndarray:
    """An image file as uint8 [H, W, 3] (transparency composited on white)."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
                background = Image.new("RGBA", img.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, img)
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except (PermissionError, IsADirectoryError) as exc:  # the same words as any other unreadable file
        raise ImageFileError(f"{path}: cannot read ({exc.strerror})") from None
    except OSError as exc:
        raise ImageFileError(f"{path}: not a readable image ({exc})") from None


def load_mask(path: str | Path) -> np.ndarray:
    """A mask image as uint8 [H, W]: white (or opaque, for images with alpha) = regenerate."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA"):
                return np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
            return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except (PermissionError, IsADirectoryError) as exc:  # the same words as any other unreadable file
        raise ImageFileError(f"{path}: cannot read ({exc.strerror})") from None
    except OSError as exc:
        raise ImageFileError(f"{path}: not a readable image ({exc})") from None


def _atomic_write(path: Path, write) -> Path:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        return atomic_write(path, write)
    except IsADirectoryError:
        raise ImageFileError(f"{path}: cannot write (Is a directory)") from None
    except OSError as exc:
        where = folder if not folder.is_dir() or not os.access(folder, os.W_OK) else path
        raise ImageFileError(f"{where}: cannot write here ({exc.strerror or exc})") from None
