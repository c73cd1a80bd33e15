"""Writing a file whole or not at all: a temporary name beside it, then one rename.

Every file the studio writes goes through here, so every file gets the mode a plain `open()` would
give it (0666 less the user's umask) — `tempfile.mkstemp` alone makes them 0600, unreadable to others.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def current_umask() -> int:
    status = Path("/proc/self/status")
    try:  # Linux states it without changing it (os.umask would, for a moment, for every thread)
        for line in status.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path in the target's folder; renamed onto `path` when the block succeeds and removed
    when it fails, so a reader never sees half a file and a failure never leaves debris."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # after the writer, not before: safetensors writes a file of its own at this name, always 0600
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write` with a binary file handle, then put the result at `path` in one step."""
    with atomic_target(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
    return Path(path)
