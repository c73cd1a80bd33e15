"""Random-weight models of the GPU cascade's sizes (32 → 128), for benchmarks that need its cost, not quality."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from studio.models.config import ModelCard
from studio.models.files import build_module, save_model
from studio.models.presets import gpu_base_config, gpu_sr_config


def write_default_cascade(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name, config in (("base", gpu_base_config()), ("sr", gpu_sr_config())):
        module = build_module(config)
        with torch.no_grad():  # non-zero output layers, so the work is real
            for p in module.parameters():
                if not p.any():
                    p.normal_(0, 0.02)
        save_model(folder / f"{name}.safetensors", module, config, ModelCard(name=f"random {name}"))
    (folder / "cascade.json").write_text(json.dumps({"name": "default-size", "base": "base.safetensors",
                                                     "sr": "sr.safetensors"}))
    return folder
