"""Device choice: CUDA if present, else Apple's MPS, else the CPU; half precision on a GPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    dtype: torch.dtype  # the networks' dtype; samplers keep x_t in float32 regardless

    @property
    def label(self) -> str:
        return f"{self.device.type} ({str(self.dtype).removeprefix('torch.')})"


def choose_device(preference: str | None = None) -> DeviceChoice:
    """`preference` is "cuda", "mps", "cpu" or None for the best available."""
    if preference is not None:
        device = torch.device(preference)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA was asked for but no CUDA device is available")
        if device.type == "mps" and not _mps_available():
            raise ValueError("MPS was asked for but is not available")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif _mps_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    dtype = torch.float32 if device.type == "cpu" else torch.float16
    return DeviceChoice(device, dtype)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
