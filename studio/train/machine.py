"""A one-line description of the machine a model was trained on, for its card."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def describe_machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"{_cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} training thread(s)"


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "an unknown CPU"
