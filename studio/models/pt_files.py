"""Reading PyTorch `.pt` checkpoints (OpenAI's released files) without running any code from them.

A `.pt` file is a pickle, and a pickle can name any Python callable. `torch.load(weights_only=True)`
uses torch's restricted unpickler, which admits only tensors, storages and plain containers and refuses
every other global before calling it. It reads both layouts torch has written: the zip archive (since
torch 1.6; its root folder is the file's stem or `archive`, whichever the writer used) and the older
non-zip pickle stream. Anything else, and anything that is not a flat {name: tensor} mapping, becomes one
line in a `ModelFileError`.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch

from studio.models.files import ModelFileError

_GLOBAL = re.compile(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL|Unsupported class) ([\w.]+)")
_OPERAND = re.compile(r"Unsupported operand (\d+)")


def read_pt_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The {name: tensor} mapping of a `.pt` file, each tensor owning its memory (see `_unshare`)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such file" if not path.exists() else "is not a file")
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(path, f"refused: {_refusal(exc)}") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(path, f"is not a readable PyTorch checkpoint ({_one_line(exc)})") from None
    return _unshare(_state_dict(path, data))


def _refusal(exc: pickle.UnpicklingError) -> str:
    text = str(exc)
    found = _GLOBAL.search(text)
    operand = _OPERAND.search(text)
    if found:
        what = f"it names {found.group(1)}"
    elif operand:
        what = f"it uses pickle opcode {operand.group(1)}"
    else:
        what = "it is not a checkpoint torch's safe loader accepts"
    return f"{what}, which is not a tensor or a plain container (no code from a checkpoint is run)"


def _state_dict(path: Path, data: object) -> dict[str, torch.Tensor]:
    if not isinstance(data, dict):
        raise ModelFileError(path, f"holds a {type(data).__name__}, not a state dict (name → tensor)")
    bad = [k for k, v in data.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if bad:
        raise ModelFileError(path, f"entry {bad[0]!r} is not a named tensor; only flat state dicts are imported")
    if not data:
        raise ModelFileError(path, "holds no tensors")
    return dict(data)


def _unshare(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copy every tensor that is a view into a storage it does not fill alone.

    OpenAI's fp16 trainers save parameters that are views into one flat buffer; safetensors refuses
    tensors that share memory, and a view would keep the whole buffer alive. Tensors that own their
    storage are kept as they are (no copy of a multi-gigabyte file)."""
    users: dict[int, int] = {}
    for t in tensors.values():
        key = t.untyped_storage().data_ptr()
        users[key] = users.get(key, 0) + 1
    out = {}
    for name, t in tensors.items():
        storage = t.untyped_storage()
        whole = users[storage.data_ptr()] == 1 and storage.nbytes() == t.numel() * t.element_size()
        out[name] = t if whole and t.is_contiguous() else t.contiguous().clone()
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
