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
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from studio.core.atomic import atomic_target
from studio.models.config import ModelCard, ModelConfig
from studio.models.families import Family, family_of, family_reading_in_place

FORMAT_VERSION = 1
SUFFIX = ".safetensors"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_ST_NAMES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}  # safetensors' dtype names
_MAX_HEADER = 100 * 2**20
_ST_DTYPES = {v: k for k, v in _ST_NAMES.items()}
_PICKLES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
_T = TypeVar("_T")


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
    in_place: bool = False  # a foreign checkpoint read in place by its family (no studio metadata)


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
    """The untrained network of a config, built by its family (models.families)."""
    return family_of(config).build_module(config)


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
    if path.suffix.lower() in _PICKLES:
        raise ModelFileError(path, "is a pickled PyTorch checkpoint, which can run code hidden in it when loaded, so "
                                   "this studio never opens one: download the .safetensors version of the model "
                                   "(SD 1.x models are published that way) or convert it with a tool you trust")
    header, data_size = _read_header(path)
    meta = header.pop("__metadata__", None)
    if not (isinstance(meta, dict) and "studio.format" in meta):
        family = family_reading_in_place(header)
        if family is not None:
            return _read_in_place(path, header, data_size, family)
    meta = _studio_metadata(path, meta)
    config = _parse(path, "config", ModelConfig.from_json, meta["studio.config"])
    card = _parse(path, "card", ModelCard.from_json, meta["studio.card"])
    _check_card_text(path, card)
    _check_tensors(path, header, data_size, config, meta["studio.dtype"])
    return ModelInfo(path, FORMAT_VERSION, config, card, meta["studio.dtype"], _sha256(path))


def load_model(path: str | Path, *, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> LoadedModel:
    """Check, then load a model file into a module in eval mode on `device` in `dtype`."""
    info = read_model_info(path)
    with torch.device("meta"):
        module = build_module(info.config)
    family = family_of(info.config)
    if info.in_place:
        state = _read_foreign_tensors(info.path, family, dtype)
    else:
        try:
            with safe_open(str(info.path), framework="pt", device="cpu") as f:
                names = family.file_tensor_names(f.keys())
                state = {key: family.module_tensor(key, f.get_tensor(name)) for name, key in names.items()}
        except Exception as exc:  # safetensors' own error types; after our header checks: the file changed
            raise ModelFileError(info.path, f"cannot read tensors ({_one_line(exc)})") from None
    module.load_state_dict(state, assign=True)
    module = module.to(device=device, dtype=dtype).eval()
    if torch.device(device).type != "cpu":
        module = module.to(memory_format=torch.channels_last)
    return LoadedModel(info, module)


def _read_foreign_tensors(path: Path, family: Family, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The tensors a family reads from a large foreign checkpoint, one by one with plain reads into their
    own memory, each converted to `dtype` at once: no memory map (its pages count as resident until it
    closes, doubling the peak for a 4 GB file) and never a second copy of the whole model."""
    header, data_size = _read_header(path)
    header.pop("__metadata__", None)
    start = path.stat().st_size - data_size
    state = {}
    try:
        with path.open("rb") as f:
            for name, key in family.file_tensor_names(header).items():
                entry = header[name]
                begin, end = entry["data_offsets"]
                raw = torch.empty(end - begin, dtype=torch.uint8)
                f.seek(start + begin)
                if f.readinto(raw.numpy()) != end - begin:
                    raise OSError(f"tensor {name!r} is cut short")
                tensor = raw.view(DTYPES[_ST_DTYPES[entry["dtype"]]]).reshape(entry["shape"])
                state[key] = family.module_tensor(key, tensor).to(dtype)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read tensors ({_one_line(exc)})") from None
    return state


def _read_in_place(path: Path, header: dict, data_size: int, family: Family) -> ModelInfo:
    """A foreign checkpoint (no studio metadata) whose key layout `family` reads: every entry checked,
    the config derived from the shapes and checked against them, a card written for it."""
    shapes = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry) \
                or not _integers(entry["shape"]) or not _integers(entry["data_offsets"]):
            raise ModelFileError(path, f"corrupt header entry for {name!r}")
        begin, end = entry["data_offsets"] if len(entry["data_offsets"]) == 2 else (-1, -1)
        if not 0 <= begin <= end <= data_size:
            raise ModelFileError(path, f"is truncated or corrupt (tensor {name!r} lies outside the data section)")
        shapes[name] = tuple(entry["shape"])
    try:
        config = family.config_from_shapes(shapes)
    except ValueError as exc:
        raise ModelFileError(path, _one_line(exc)) from None
    loaded = family.file_tensor_names(header)
    for name in loaded:
        dtype = _ST_DTYPES.get(header[name]["dtype"])
        if dtype is None:
            raise ModelFileError(path, f"tensor {name!r} has dtype {header[name]['dtype']}, "
                                       f"expected one of {', '.join(_ST_NAMES.values())}")
        begin, end = header[name]["data_offsets"]
        if end - begin != math.prod(shapes[name]) * DTYPES[dtype].itemsize:
            raise ModelFileError(path, f"tensor {name!r} has {end - begin} bytes of data, not its shape's")
    counts: dict[str, int] = {}
    for name in loaded:  # files may mix dtypes (an fp32 autoencoder beside an fp16 U-Net): the most common
        counts[_ST_DTYPES[header[name]["dtype"]]] = counts.get(_ST_DTYPES[header[name]["dtype"]], 0) + 1
    dtype = max(counts, key=counts.get)
    return ModelInfo(path, FORMAT_VERSION, config, family.card(config, path.stem), dtype, _sha256(path), in_place=True)


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
        raise ModelFileError(path, f"has a corrupt safetensors header (a JSON {_json_kind(header)}, not an object)")
    return header, size - 8 - length


def _json_kind(value: object) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _studio_metadata(path: Path, meta: object) -> dict[str, str]:
    """The header's metadata, checked: every studio key present, a string (as safetensors requires), and
    a format version and dtype this studio reads."""
    if not isinstance(meta, dict):
        raise ModelFileError(path, "has no studio metadata (not a Diffusion Studio model file)")
    for key in ("studio.format", "studio.config", "studio.card", "studio.dtype"):
        if key not in meta:
            raise ModelFileError(path, f"metadata lacks {key!r}")
    for key, value in meta.items():
        if not isinstance(value, str):
            raise ModelFileError(path, f"metadata {key!r} is a JSON {_json_kind(value)}, not a string")
    if meta["studio.format"] != str(FORMAT_VERSION):
        raise ModelFileError(path, f"unknown format version {meta['studio.format']!r} "
                                   f"(this studio reads version {FORMAT_VERSION})")
    if meta["studio.dtype"] not in DTYPES:
        raise ModelFileError(path, f"unsupported studio.dtype {meta['studio.dtype']!r} "
                                   f"(this studio reads {', '.join(DTYPES)})")
    return meta


def _parse(path: Path, what: str, parse: Callable[[str], _T], text: str) -> _T:
    """Parse the config or card JSON; a bad one is named as such ("invalid card: …")."""
    try:
        return parse(text)
    except (ValueError, TypeError) as exc:  # TypeError: a value of the wrong JSON type met a comparison
        raise ModelFileError(path, f"invalid {what}: {_one_line(exc)}") from None


def _check_card_text(path: Path, card: ModelCard) -> None:
    # every card field is shown as text (window, `studio info`); a number or list there would break it
    for item in fields(card):
        value = getattr(card, item.name)
        if not isinstance(value, str):
            raise ModelFileError(path, f"invalid card: card.{item.name} is a JSON {_json_kind(value)}, "
                                       "not a string")


def _check_tensors(path: Path, header: dict, data_size: int, config: ModelConfig, dtype: str) -> None:
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build_module(config).state_dict().items()}
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing:
        raise ModelFileError(path, f"missing tensor {missing[0]!r}" + _more(missing))
    if unexpected:
        raise ModelFileError(path, f"unexpected tensor {unexpected[0]!r}" + _more(unexpected))
    spans = {name: _check_entry(path, name, header[name], expected[name], dtype) for name in sorted(expected)}
    _check_layout(path, spans, data_size)


def _check_entry(path: Path, name: str, entry: object, shape: tuple[int, ...], dtype: str) -> tuple[int, int]:
    """One tensor's header entry against the config; returns its byte span in the data section."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise ModelFileError(path, f"corrupt header entry for {name!r}")
    if not _integers(entry["shape"]):
        raise ModelFileError(path, f"corrupt header entry for {name!r} (shape is not a list of integers)")
    if tuple(entry["shape"]) != shape:
        raise ModelFileError(path, f"tensor {name!r} has shape {tuple(entry['shape'])}, expected {shape}")
    if entry["dtype"] != _ST_NAMES[dtype]:
        raise ModelFileError(path, f"tensor {name!r} has dtype {entry['dtype']}, expected {dtype}")
    offsets = entry["data_offsets"]
    if not (_integers(offsets) and len(offsets) == 2 and offsets[0] >= 0):
        raise ModelFileError(path, f"corrupt header entry for {name!r} (data_offsets is not two integers ≥ 0)")
    begin, end = offsets
    needed = math.prod(shape) * DTYPES[dtype].itemsize
    if end - begin != needed:
        raise ModelFileError(path, f"tensor {name!r} has data_offsets [{begin}, {end}] ({end - begin} bytes), "
                                   f"but shape {shape} in {dtype} needs {needed} bytes")
    return begin, end


def _check_layout(path: Path, spans: dict[str, tuple[int, int]], data_size: int) -> None:
    """Tensors lie back to back from the start of the data section to the end of the file: the layout
    safetensors writes and demands (it refuses anything else too, but only once the data is read, and
    without saying which tensor)."""
    position, previous = 0, None
    for name, (begin, end) in sorted(spans.items(), key=lambda item: item[1]):
        if begin < position:
            raise ModelFileError(path, f"tensor {name!r} overlaps tensor {previous!r} in the data section")
        if begin > position:
            raise ModelFileError(path, f"has {begin - position} unused bytes before tensor {name!r} "
                                       "in the data section")
        if end > data_size:
            raise ModelFileError(path, f"is truncated (tensor {name!r} runs past the end of the file)")
        position, previous = end, name
    if position < data_size:
        raise ModelFileError(path, f"has {data_size - position} stray bytes after its last tensor")


def _integers(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


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
