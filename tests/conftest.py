"""Shared test set-up: no screen, no network, deterministic torch."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from studio.models.config import ModelCard, ModelConfig  # noqa: E402
from studio.models.files import build_module, save_model  # noqa: E402
from studio.models.presets import tiny_base_config, tiny_classifier_config, tiny_sr_config  # noqa: E402


def lively(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give zero-initialised layers small random weights, so a random model's output depends on
    every input (a freshly built U-Net predicts exactly zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return module


def write_model(path: Path, config: ModelConfig, seed: int = 0, name: str = "tiny") -> Path:
    torch.manual_seed(seed)
    module = lively(build_module(config), seed)
    return save_model(path, module, config, ModelCard(name=name, licence="test only"))


@pytest.fixture(scope="session")
def tiny_cascade(tmp_path_factory) -> Path:
    """A folder with a 16×16 text-conditioned base, a 16→32 SR stage and a 3-class classifier."""
    folder = tmp_path_factory.mktemp("cascade")
    write_model(folder / "base.safetensors", tiny_base_config(), 1, "tiny base")
    write_model(folder / "sr.safetensors", tiny_sr_config(), 2, "tiny sr")
    write_model(folder / "classifier.safetensors", tiny_classifier_config(), 3, "tiny classifier")
    (folder / "cascade.json").write_text(json.dumps({
        "name": "tiny", "base": "base.safetensors", "sr": "sr.safetensors", "classifier": "classifier.safetensors",
    }))
    return folder


@pytest.fixture(scope="session")
def tiny_base(tiny_cascade) -> Path:
    return tiny_cascade / "base.safetensors"
