"""Cascades: a base model with an optional super-resolution stage and classifier.

A cascade is a folder holding `cascade.json` ({"name", "base", "sr"?, "classifier"?}: file names
relative to the folder), or that JSON file itself. A single base or inpainting model file is a cascade
of one; an SR stage or classifier file alone is not (it cannot make an image by itself).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.core.enums import Role
from studio.models.files import ModelFileError, ModelInfo, read_model_info

DESCRIPTION = "cascade.json"
_ROLES = {"base": (Role.BASE, Role.INPAINT), "sr": (Role.SR,), "classifier": (Role.CLASSIFIER,)}
_KEYS = ("name", *_ROLES)
_HOW_TO_OPEN = f"its folder or {DESCRIPTION}"


@dataclass(frozen=True)
class Cascade:
    name: str
    base: Path | None  # None: a lone upscaler read in place (the SD x4), which only upscales
    sr: Path | None = None
    classifier: Path | None = None


def read_cascade(path: str | Path) -> Cascade:
    """Read and check a cascade description: the files exist and their roles match their slots."""
    path = Path(path)
    description = path / DESCRIPTION if path.is_dir() else path
    if path.is_dir() and not description.is_file():
        raise ModelFileError(path, f"no {DESCRIPTION} in folder")
    try:
        data = json.loads(description.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(description, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(description, f"is not a valid cascade description ({exc})") from None
    _check_description(description, data)
    files = {}
    for slot, roles in _ROLES.items():
        if data.get(slot) is None:
            continue
        file = description.parent / str(data[slot])
        info = read_model_info(file)
        if info.config.role not in roles:
            raise ModelFileError(file, f"is a {info.config.role.value} model, listed as {slot}")
        files[slot] = file
    return Cascade(name=str(data.get("name") or description.parent.name), **files)


def _check_description(description: Path, data: object) -> None:
    """The JSON's shape: an object with only the known keys, a base file name, optional file names."""
    if not isinstance(data, dict):
        raise ModelFileError(description, "a cascade description must be a JSON object")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise ModelFileError(description, f"has unknown keys {unknown} (a cascade lists {', '.join(_KEYS)})")
    if not isinstance(data.get("base"), str):
        raise ModelFileError(description, "a cascade description needs at least a \"base\" file")
    for key in _KEYS:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ModelFileError(description, f"\"{key}\" must be a string")


def resolve_model_path(path: str | Path) -> Cascade:
    """A base (or inpainting) model file, a cascade folder or a cascade JSON, as a Cascade (files checked).
    A lone SR stage or classifier of ours is refused: it only runs as part of its cascade. A foreign upscaler
    read in place (the SD x4) has no cascade of its own: alone, it upscales."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".json":
        return read_cascade(path)
    info = read_model_info(path)
    # an SR stage or a classifier cannot make an image from nothing; their cascade can
    if info.config.role is Role.SR and info.in_place:
        return Cascade(name=info.card.name or path.stem, base=None, sr=path)
    if info.config.role is Role.SR:
        raise ModelFileError(path, f"is a super-resolution stage; open the cascade ({_HOW_TO_OPEN})")
    if info.config.role is Role.CLASSIFIER:
        raise ModelFileError(path, f"is a classifier; open the cascade ({_HOW_TO_OPEN})")
    return Cascade(name=info.card.name or path.stem, base=path)


def describe_model_path(path: str | Path) -> str:
    """What `studio info` prints: every model's card, then its config as JSON."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".json":
        cascade = read_cascade(path)
        slots = [(s, getattr(cascade, s)) for s in _ROLES if getattr(cascade, s) is not None]
        parts = [f"Cascade: {cascade.name}"]
        parts += [describe_info(read_model_info(file), slot) for slot, file in slots]
        return "\n\n".join(parts)
    return describe_info(read_model_info(path), None)


def describe_info(info: ModelInfo, slot: str | None) -> str:
    card = info.card
    title = f"[{slot}] " if slot else ""
    lines = [
        f"{title}{card.name or info.path.stem}  ({info.config.role.value}, "
        f"{info.config.resolution}×{info.config.resolution}, {info.dtype})",
        f"  file:        {info.path}",
        f"  sha256:      {info.sha256}",
    ]
    for label, value in (("description", card.description), ("data", card.training_data),
                         ("licence", card.licence), ("training", card.training)):
        if value:
            lines.append(f"  {label + ':':<12} {value}")
    data = info.config.to_dict()
    if info.config.text is not None:  # the vocabulary is long; show its size instead
        data["text"]["vocab"] = f"<{len(info.config.text.vocab)} words>"
    if info.config.openai is not None and info.config.openai.text is not None:  # so are GPT-2's merges
        data["openai"]["text"]["merges"] = f"<{len(info.config.openai.text.merges)} BPE merges>"
    config = json.dumps(data, indent=2, ensure_ascii=False)
    lines.append("  config:      " + config.replace("\n", "\n  "))
    return "\n".join(lines)
