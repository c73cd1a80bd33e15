"""Tensor → 8-bit previews. Done in the worker so the window only wraps bytes in a QImage."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [−1, 1] → contiguous uint8 [B, H, W, 3] (values outside the range clipped)."""
    scaled = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return np.ascontiguousarray(scaled.permute(0, 2, 3, 1).cpu().numpy())


def from_uint8(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [H, W, 3] or [B, H, W, 3] → float32 [B, 3, H, W] in [−1, 1]."""
    if images.ndim == 3:
        images = images[None]
    tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return tensor.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def mask_from_uint8(mask: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [H, W] (255 = regenerate) → float32 [1, 1, H, W] with values 0 or 1."""
    binary = (np.asarray(mask) >= 128).astype(np.float32)
    return torch.from_numpy(binary)[None, None].to(device)
