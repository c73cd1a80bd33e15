"""Training data: a compact .npz format, and a folder of the user's own pictures.

The .npz holds `images` uint8 [N, H, W, 3], `captions` (unicode strings), one `label_<name>`
string array per label kind (e.g. emoji group and subgroup) and any `extra_<name>` columns.
It loads with `allow_pickle=False`: no code can hide in a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from studio.core.atomic import atomic_write

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclass(frozen=True, eq=False)
class ImageDataset:
    images: np.ndarray  # uint8 [N, H, W, 3]
    captions: tuple[str, ...]
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # files that could not be read, with the reason
    source: str = ""  # where the pictures come from, for model cards
    licence: str = ""  # the licence of the pictures

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])

    def class_names(self, label: str) -> tuple[str, ...]:
        """Sorted distinct values of one label kind: the classifier's classes."""
        return tuple(sorted(set(self.labels[label])))

    def class_indices(self, label: str) -> np.ndarray:
        names = {name: i for i, name in enumerate(self.class_names(label))}
        return np.array([names[v] for v in self.labels[label]], dtype=np.int64)


def save_dataset(
    path: Path,
    images: np.ndarray,
    captions: list[str],
    labels: dict[str, list[str]] | None = None,
    extra: dict[str, list[str]] | None = None,
    source: str = "",
    licence: str = "",
) -> Path:
    arrays = {"images": images, "captions": np.array(captions, dtype=str),
              "meta_source": np.array(source), "meta_licence": np.array(licence)}
    arrays |= {f"label_{k}": np.array(v, dtype=str) for k, v in (labels or {}).items()}
    arrays |= {f"extra_{k}": np.array(v, dtype=str) for k, v in (extra or {}).items()}
    return atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


def load_dataset(path: Path, resolution: int | None = None) -> ImageDataset:
    """An .npz dataset, or a folder of pictures (with optional `name.txt` caption sidecars)."""
    path = Path(path)
    if path.is_dir():
        npz = sorted(path.glob("*.npz"))
        return load_npz(npz[0]) if len(npz) == 1 else load_image_folder(path, resolution)
    return load_npz(path)


def load_npz(path: Path) -> ImageDataset:
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            captions = tuple(str(c) for c in data["captions"])
            labels = {k[6:]: tuple(str(v) for v in data[k]) for k in data.files if k.startswith("label_")}
            source = str(data["meta_source"]) if "meta_source" in data.files else ""
            licence = str(data["meta_licence"]) if "meta_licence" in data.files else ""
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a studio dataset ({exc})") from None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"{path}: images must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    return ImageDataset(images, captions, labels, source=source, licence=licence)


def load_image_folder(folder: Path, resolution: int | None = None) -> ImageDataset:
    """Every picture under `folder`, resized and centre-cropped to a square of `resolution`.

    A picture's caption is the text of `name.txt` beside it, else empty (unconditional).
    Unreadable files are skipped and reported in `skipped`, never fatal.
    """
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    images, captions, skipped = [], [], []
    for file in files:
        try:
            with Image.open(file) as img:
                img.load()
                images.append(square_crop(img, resolution or 128))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            skipped.append(f"{file.name}: {exc}")
            continue
        sidecar = file.with_suffix(".txt")
        captions.append(sidecar.read_text(encoding="utf-8").strip() if sidecar.is_file() else "")
    if not images:
        raise ValueError(f"{folder}: no readable pictures ({len(skipped)} files could not be read)")
    return ImageDataset(np.stack(images), tuple(captions), {}, tuple(skipped), source=f"pictures from {folder}")


def square_crop(img: Image.Image, size: int) -> np.ndarray:
    """Composite transparency on white, scale the shorter side to `size`, crop the centre square."""
    rgba = img.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat.alpha_composite(rgba)
    w, h = flat.size
    scale = size / min(w, h)
    resized = flat.convert("RGB").resize(
        (max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.LANCZOS
    )
    left = (resized.width - size) // 2
    top = (resized.height - size) // 2
    return np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.uint8)
