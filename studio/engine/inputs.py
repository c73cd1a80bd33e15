"""Fitting the user's images to a model: resized (with a note) rather than refused."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from studio.engine.previews import from_uint8, mask_from_uint8


def check_rgb(image: np.ndarray, what: str) -> np.ndarray:
    """Accept uint8 [H, W, 3] (or RGBA / grey, converted); refuse anything else with a clear error."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"the {what} must be 8-bit, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 1:
        raise ValueError(f"the {what} must be an RGB image, got an array of shape {array.shape}")
    if array.shape[2] == 4:  # composite on white, as a painter's transparent canvas reads
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return array


def fit_image(image: np.ndarray, size: int, device: torch.device, what: str, notes: list[str]) -> torch.Tensor:
    """uint8 image → float [1, 3, size, size] in [−1, 1]; a non-matching size is resized, with a note."""
    array = check_rgb(image, what)
    tensor = from_uint8(array, device)
    if array.shape[:2] != (size, size):
        notes.append(f"the {what} ({array.shape[1]}×{array.shape[0]}) was resized to {size}×{size}")
        tensor = F.interpolate(tensor, size=(size, size), mode="bicubic", antialias=True).clamp(-1, 1)
    return tensor


def fit_mask(mask: np.ndarray, size: int, device: torch.device, notes: list[str]) -> torch.Tensor:
    """uint8 [H, W] (255 = regenerate) → {0, 1} float [1, 1, size, size]."""
    array = np.asarray(mask)
    if array.ndim == 3:
        array = array[..., :3].max(axis=2)
    if array.ndim != 2:
        raise ValueError(f"the mask must be a single-channel image, got shape {array.shape}")
    tensor = mask_from_uint8(array.astype(np.uint8), device)
    if array.shape != (size, size):
        notes.append(f"the mask ({array.shape[1]}×{array.shape[0]}) was resized to {size}×{size}")
        tensor = (F.interpolate(tensor, size=(size, size), mode="area") > 0.0).float()
    if not bool(tensor.any()):
        raise ValueError("the mask is empty: paint the region to regenerate")
    return tensor
