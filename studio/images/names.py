"""File names from user text: safe on Linux, macOS and Windows, short enough, still readable."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_SPACES = re.compile(r"\s+")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_BYTES = 150  # well under the 255-byte limit of common file systems, leaving room for suffixes


def safe_name(text: str, max_bytes: int = MAX_BYTES) -> str:
    """Slashes, control characters and other reserved characters become '_', runs of spaces one '-',
    non-Latin letters stay; cut at a character boundary to `max_bytes` of UTF-8."""
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub("-", text.strip())  # tabs and newlines count as spaces, not as control characters
    text = _UNSAFE.sub("_", text)
    text = text.strip(". ") or "untitled"
    if text.split(".")[0].upper() in _RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore").rstrip(". ") or "untitled"


def format_name(pattern: str, *, prompt: str, seed: int, index: int, steps: int, sampler: str,
                today: date | None = None) -> str:
    """Fill a pattern such as "{date}-{seed}-{prompt}" and make the result safe."""
    fields = {"prompt": prompt, "seed": seed, "index": index, "steps": steps, "sampler": sampler,
              "date": (today or date.today()).isoformat()}
    try:
        text = pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        known = ", ".join("{" + k + "}" for k in fields)
        raise ValueError(f"bad file-name pattern {pattern!r} ({exc}); use {known}") from None
    return safe_name(text)
