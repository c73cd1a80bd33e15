"""Where the shipped files live: from an installed wheel (package data) or from a source checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_CASCADE = ("models", "default")


def resources_folder() -> Path:
    """The `resources/` folder: installed as the `studio.resources` package (pyproject maps it there)
    or, when running from a checkout without installing, the folder beside `studio/`."""
    try:
        folder = Path(str(resources.files("studio.resources")))
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[2] / "resources"
    return folder


def default_model_path() -> Path:
    """The shipped default cascade (a folder with `cascade.json`); it may be absent in a bare checkout."""
    return resources_folder().joinpath(*DEFAULT_CASCADE)


def clip_merges_path() -> Path:
    """CLIP's BPE merges (resources/clip/, MIT). The checkout's own folder is the fallback: an editable
    install of another checkout may own the `studio.resources` package."""
    parts = ("clip", "bpe_simple_vocab_16e6.txt.gz")
    packaged = resources_folder().joinpath(*parts)
    return packaged if packaged.exists() else Path(__file__).resolve().parents[2].joinpath("resources", *parts)
