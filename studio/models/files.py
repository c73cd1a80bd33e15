"""Model files: safetensors with the config and card as JSON in the header's metadata.

Metadata keys: `studio.format` (integer version), `studio.config` (ModelConfig JSON),
`studio.card` (ModelCard JSON), `studio.dtype` (the floating dtype of every tensor). The header is
parsed and checked here before safetensors reads a byte of data, so a bad file gets a message that
says what is wrong. Nothing is ever unpickled.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from studio.core.atomic import atomic_target
from studio.core.enums import Role
from studio.models.classifier import NoisyClassifier
from studio.models.config import ModelCard, ModelConfig
from studio.models.network import DiffusionNet

FORMAT_VERSION = 1
SUFFIX = ".safetensors"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_ST_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}
_MAX_HEADER = 100 * 2**20


class ModelFileError(Exception):
    """A model file (or cascade) that cannot be used; str() is one line: "<path>: <problem>"."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), problem


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    format: int
    config: ModelConfig
    card: ModelCard
    dtype: str
    sha256: str


@dataclass(frozen=True, eq=False)
class LoadedModel:
    info: ModelInfo
    module: nn.Module

    @property
    def config(self) -> ModelConfig:
        return self.info.config

    @property
    def card(self) -> ModelCard:
        return self.info.card

    @property
    def sha256(self) -> str:
        return self.info.sha256

    @property
    def path(self) -> Path:
        return self.info.path


def build_module(config: ModelConfig) -> nn.Module:
    return NoisyClassifier(config.classifier) if config.role is Role.CLASSIFIER else DiffusionNet(config)


def save_model(path: str | Path, module: nn.Module, config: ModelConfig, card: ModelCard,
               *, dtype: torch.dtype = torch.float32) -> Path:
    """Write a model file atomically (temporary name, then rename)."""
    path = Path(path)
    name = next(k for k, v in DTYPES.items() if v == dtype)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in module.state_dict().items()}
    metadata = {
        "studio.format": str(FORMAT_VERSION),
        "studio.config": config.to_json(),
        "studio.card": card.to_json(),
        "studio.dtype": name,
    }
    with atomic_target(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_model_info(path: str | Path) -> ModelInfo:
    """Config, card and digest of a model file, after checking its header against the config."""
    path = Path(path)
    header, size = _read_header(path)
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict):
        raise ModelFileError(path, "has no studio metadata (not a Diffusion Studio model file)")
    for key in ("studio.format", "studio.config", "studio.card", "studio.dtype"):
        if key not in meta:
            raise ModelFileError(path, f"metadata lacks {key!r}")
    if meta["studio.format"] != str(FORMAT_VERSION):
        raise ModelFileError(path, f"unknown format version {meta['studio.format']!r} "
                                   f"(this studio reads version {FORMAT_VERSION})")
    if meta["studio.dtype"] not in DTYPES:
        raise ModelFileError(path, f"unsupported dtype {meta['studio.dtype']!r}")
    try:
        config = ModelConfig.from_json(meta["studio.config"])
        card = ModelCard.from_json(meta["studio.card"])
    except ValueError as exc:
        raise ModelFileError(path, f"invalid config: {exc}") from None
    _check_tensors(path, header, size, config, meta["studio.dtype"])
    return ModelInfo(path, FORMAT_VERSION, config, card, meta["studio.dtype"], _sha256(path))


def load_model(path: str | Path, *, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> LoadedModel:
    """Check, then load a model file into a module in eval mode on `device` in `dtype`."""
    info = read_model_info(path)
    with torch.device("meta"):
        module = build_module(info.config)
    try:
        with safe_open(str(info.path), framework="pt", device="cpu") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(info.path, f"cannot read tensors ({exc})") from None
    module.load_state_dict(state, assign=True)
    module = module.to(device=device, dtype=dtype).eval()
    if torch.device(device).type != "cpu":
        module = module.to(memory_format=torch.channels_last)
    return LoadedModel(info, module)


def _read_header(path: Path) -> tuple[dict, int]:
    if not path.exists():
        raise ModelFileError(path, "no such file")
    if path.is_dir():
        raise ModelFileError(path, "is a folder, not a model file")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(path, "is empty")
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFileError(path, "is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length < 2 or length > min(_MAX_HEADER, size - 8):
            raise ModelFileError(path, "is not a safetensors file (bad header length)")
        raw = f.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(path, "has a corrupt safetensors header (not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "has a corrupt safetensors header")
    return header, size - 8 - length


def _check_tensors(path: Path, header: dict, data_size: int, config: ModelConfig, dtype: str) -> None:
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build_module(config).state_dict().items()}
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing:
        raise ModelFileError(path, f"missing tensor {missing[0]!r}" + _more(missing))
    if unexpected:
        raise ModelFileError(path, f"unexpected tensor {unexpected[0]!r}" + _more(unexpected))
    for name in sorted(expected):
        entry = header[name]
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
            raise ModelFileError(path, f"corrupt header entry for {name!r}")
        if tuple(entry["shape"]) != expected[name]:
            raise ModelFileError(path, f"tensor {name!r} has shape {tuple(entry['shape'])}, "
                                       f"expected {expected[name]}")
        if _ST_DTYPES.get(entry["dtype"]) != dtype:
            raise ModelFileError(path, f"tensor {name!r} has dtype {entry['dtype']}, expected {dtype}")
        end = entry["data_offsets"][1]
        if not isinstance(end, int) or end > data_size:
            raise ModelFileError(path, f"is truncated (tensor {name!r} runs past the end of the file)")


def _more(names: list[str]) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""


def _sha256(path: Path) -> str:
    """The file's digest, computed once per (path, size, mtime): opening a model and running jobs on
    it ask again and again, and hashing a large file takes seconds."""
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
