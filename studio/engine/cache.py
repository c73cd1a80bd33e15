"""Models are loaded once and kept, keyed by file (path, size, mtime) and device."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from studio.engine.device import DeviceChoice
from studio.models.files import LoadedModel, load_model

Loader = Callable[..., LoadedModel]


class ModelCache:
    """Loaded models by (file identity, device, dtype). A changed file on disk is loaded again."""

    def __init__(self, device: DeviceChoice, loader: Loader = load_model, capacity: int = 6) -> None:
        self.device = device
        self._loader = loader
        self._capacity = capacity
        self._items: dict[tuple, LoadedModel] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many files were actually read (tests check reuse with it)

    def get(self, path: str | Path) -> LoadedModel:
        key = self._key(Path(path))
        with self._lock:
            if key in self._items:
                self._items[key] = self._items.pop(key)  # most recently used last
                return self._items[key]
        model = self._loader(Path(path), device=self.device.device, dtype=self.device.dtype)
        with self._lock:
            self.loads += 1
            self._items[key] = model
            while len(self._items) > self._capacity:
                self._items.pop(next(iter(self._items)))
        return model

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _key(self, path: Path) -> tuple:
        resolved = path.resolve()
        try:
            stat = resolved.stat()
            identity = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            identity = (None, None)  # the loader reports the missing file properly
        return (str(resolved), *identity, str(self.device.device), str(self.device.dtype))
