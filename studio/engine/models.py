"""The models one job uses: a base model, and optionally a super-resolution stage and a classifier."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from studio.core.enums import Role
from studio.engine.cache import ModelCache
from studio.models.cascade import describe_model_path, resolve_model_path
from studio.models.files import LoadedModel, ModelFileError

__all__ = ["CascadeModels", "ModelFileError", "describe_models", "load_cascade"]


def describe_models(path: str | Path) -> str:
    """`studio info`'s text: the card and config of every file of a model or cascade (headers only);
    ModelFileError with one line when a file is not a good model file."""
    return describe_model_path(path)


@dataclass(frozen=True, eq=False)
class CascadeModels:
    name: str
    base: LoadedModel | None  # None only for a lone super-resolution file (upscale only)
    sr: LoadedModel | None
    classifier: LoadedModel | None

    def digest(self) -> str:
        """One sha256 over every file of the cascade (role and file digest, in a fixed order), so a
        recipe notices when any of them changes."""
        parts = [f"{role}:{m.sha256}" for role, m in (("base", self.base), ("sr", self.sr),
                                                       ("classifier", self.classifier)) if m is not None]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def load_cascade(cache: ModelCache, path: str | Path) -> CascadeModels:
    """Load a single model file or every file of a cascade (folder or JSON description)."""
    cascade = resolve_model_path(Path(path))
    base = cache.get(cascade.base) if cascade.base is not None else None
    sr = cache.get(cascade.sr) if cascade.sr is not None else None
    classifier = cache.get(cascade.classifier) if cascade.classifier is not None else None
    if base is not None and base.config.role is Role.SR:  # a lone SR file given as the model
        base, sr = None, base
    if base is None and sr is None:
        raise ModelFileError(Path(path), "holds neither a base nor a super-resolution model")
    return CascadeModels(cascade.name, base, sr, classifier)
