"""Model files: round trips, and a clear ModelFileError for every kind of bad file."""

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from studio.models.config import ModelCard
from studio.models.files import ModelFileError, build_module, load_model, read_model_info, save_model
from studio.models.presets import tiny_base_config, tiny_classifier_config
from tests.conftest import lively, write_model

T = torch.tensor([5, 600])


@pytest.fixture()
def good(tmp_path):
    return write_model(tmp_path / "good.safetensors", tiny_base_config())


def _header(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _rewrite(path, header, data):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_a_saved_model_loads_back_with_identical_outputs(tmp_path, dtype):
    torch.manual_seed(0)
    config = tiny_base_config()
    module = lively(build_module(config)).eval()
    path = save_model(tmp_path / "m.safetensors", module, config, ModelCard(name="m", licence="MIT"), dtype=dtype)
    loaded = load_model(path)
    assert loaded.config == config and loaded.card.licence == "MIT" and loaded.info.dtype == str(dtype)[6:]
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        reference = module.to(dtype).float()(x, T, text=module.encode_prompts(["red", "cat"]))
        again = loaded.module(x, T, text=loaded.module.encode_prompts(["red", "cat"]))
    assert torch.equal(reference, again)
    assert not list(tmp_path.glob("*.part"))


def test_the_info_carries_the_file_digest(good):
    import hashlib

    assert read_model_info(good).sha256 == hashlib.sha256(good.read_bytes()).hexdigest()


def _expect(path, words):
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert words in message, message


def test_missing_path(tmp_path):
    _expect(tmp_path / "nope.safetensors", "no such file")


def test_a_folder_is_not_a_model_file(tmp_path):
    _expect(tmp_path, "is a folder")


def test_empty_file(tmp_path):
    (tmp_path / "e.safetensors").write_bytes(b"")
    _expect(tmp_path / "e.safetensors", "is empty")


def test_not_a_safetensors_file(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"PNG\x00 certainly not a model file at all")
    _expect(tmp_path / "x.safetensors", "not a safetensors file")


def test_a_pickle_is_refused_without_being_unpickled(tmp_path):
    path = tmp_path / "evil.safetensors"
    torch.save({"weight": torch.zeros(3)}, path)
    _expect(path, "not a safetensors file")
    path.write_bytes(pickle.dumps({"a": 1}))
    _expect(path, "safetensors")


def test_truncated_file(good):
    good.write_bytes(good.read_bytes()[:-1000])
    _expect(good, "truncated")


def test_corrupt_header(good):
    header, data = _header(good)
    text = b"{" + json.dumps(header).encode()[1:-1]  # unbalanced JSON of the right length framing
    good.write_bytes(struct.pack("<Q", len(text)) + text + data)
    _expect(good, "corrupt safetensors header")


def test_missing_tensor(good):
    header, data = _header(good)
    name = "unet.out.2.weight"
    del header[name]
    _rewrite(good, header, data)
    _expect(good, f"missing tensor {name!r}")


def test_unexpected_tensor(good):
    header, data = _header(good)
    header["unet.smuggled"] = dict(header["unet.out.2.bias"])
    _rewrite(good, header, data)
    _expect(good, "unexpected tensor 'unet.smuggled'")


def test_wrong_shape(good):
    header, data = _header(good)
    header["unet.out.2.bias"]["shape"] = [4]
    _rewrite(good, header, data)
    _expect(good, "has shape (4,), expected (3,)")


def test_wrong_dtype(good):
    header, data = _header(good)
    header["unet.out.2.bias"]["dtype"] = "I32"
    _rewrite(good, header, data)
    _expect(good, "has dtype I32, expected float32")


def test_unknown_format_version(good):
    header, data = _header(good)
    header["__metadata__"]["studio.format"] = "99"
    _rewrite(good, header, data)
    _expect(good, "unknown format version '99'")


def test_config_that_fails_validation(good):
    header, data = _header(good)
    config = json.loads(header["__metadata__"]["studio.config"])
    config["unet"]["resolution"] = 17
    header["__metadata__"]["studio.config"] = json.dumps(config)
    _rewrite(good, header, data)
    _expect(good, "invalid config")


def test_config_that_is_not_json(good):
    header, data = _header(good)
    header["__metadata__"]["studio.config"] = "{role: base"
    _rewrite(good, header, data)
    _expect(good, "invalid config: config is not valid JSON")


def test_a_plain_safetensors_file_without_studio_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    _expect(path, "has no studio metadata")


def test_missing_metadata_key(good):
    header, data = _header(good)
    del header["__metadata__"]["studio.card"]
    _rewrite(good, header, data)
    _expect(good, "lacks 'studio.card'")


def test_a_classifier_file_round_trips(tmp_path):
    path = write_model(tmp_path / "c.safetensors", tiny_classifier_config())
    loaded = load_model(path)
    assert loaded.module(torch.randn(2, 3, 16, 16), T).shape == (2, 3)
