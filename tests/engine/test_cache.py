"""The model cache: a file is read once, the least recently used model leaves beyond capacity, and a file
changed on disk is read again."""

import os

import torch

from studio.engine.cache import ModelCache
from studio.engine.device import choose_device
from studio.models.presets import tiny_base_config
from tests.conftest import write_model


class CountingLoader:
    """Stands in for `load_model`: a fresh object per read, and the paths read, in order."""

    def __init__(self):
        self.read: list[str] = []

    def __call__(self, path, *, device, dtype):
        self.read.append(path.name)
        return object()


def _files(tmp_path, *names):
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    return [tmp_path / name for name in names]


def test_a_file_is_read_once_and_the_least_recently_used_model_leaves_beyond_capacity(tmp_path):
    a, b, c = _files(tmp_path, "a", "b", "c")
    loader = CountingLoader()
    cache = ModelCache(choose_device("cpu"), loader=loader, capacity=2)
    model_a, model_b = cache.get(a), cache.get(b)
    assert cache.get(a) is model_a  # a is now the most recently used; b the least
    cache.get(c)  # a third model: b leaves
    assert cache.get(a) is model_a
    assert cache.get(b) is not model_b  # read again (and now c, the least recently used, has left)
    assert loader.read == ["a", "b", "c", "b"] and cache.loads == 4


def test_a_file_changed_on_disk_is_read_again_and_an_unchanged_one_is_not(tmp_path):
    (a,) = _files(tmp_path, "a")
    loader = CountingLoader()
    cache = ModelCache(choose_device("cpu"), loader=loader)
    first = cache.get(a)
    assert cache.get(str(a)) is first and cache.get(tmp_path / "." / "a") is first  # one file, however named
    stat = a.stat()
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # saved again, same size
    second = cache.get(a)
    assert second is not first and cache.get(a) is second
    a.write_bytes(b"a longer file")
    assert cache.get(a) is not second
    assert loader.read == ["a", "a", "a"]


def test_a_retrained_model_file_is_served_with_its_new_weights(tmp_path):
    path = write_model(tmp_path / "base.safetensors", tiny_base_config(), seed=1)
    cache = ModelCache(choose_device("cpu"))
    before = {k: v.clone() for k, v in cache.get(path).module.state_dict().items()}
    write_model(path, tiny_base_config(), seed=2)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # in case both writes share a clock tick
    after = cache.get(path).module.state_dict()
    assert cache.loads == 2
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_clear_forgets_every_model(tmp_path):
    (a,) = _files(tmp_path, "a")
    loader = CountingLoader()
    cache = ModelCache(choose_device("cpu"), loader=loader)
    first = cache.get(a)
    cache.clear()
    assert cache.get(a) is not first and loader.read == ["a", "a"]
