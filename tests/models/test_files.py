"""Model files: round trips, and a one-line ModelFileError naming the file and the problem for every
kind of bad file (DESIGN §5)."""

import hashlib
import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from studio.models import files
from studio.models.config import ModelCard
from studio.models.files import ModelFileError, build_module, load_model, read_model_info, save_model
from studio.models.presets import tiny_base_config, tiny_classifier_config, tiny_sr_config
from tests.conftest import lively, write_model

T = torch.tensor([5, 600])
BIAS = "unet.out.2.bias"  # shape (3,): 12 bytes in float32
WEIGHT = "unet.out.2.weight"  # shape (3, 32, 3, 3), stored right after BIAS


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


def _expect(path, words):
    """Loading `path` fails with one line that starts with the file's path and says `words`."""
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    assert words in message, message
    return message


def _safetensors_refuses(path):
    """The file is broken for safetensors itself too: our check is not stricter than the format."""
    with pytest.raises(Exception), safe_open(str(path), framework="pt") as f:  # noqa: B017 (its own types)
        [f.get_tensor(k) for k in f.keys()]


# round trips


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


def test_a_classifier_file_round_trips(tmp_path):
    path = write_model(tmp_path / "c.safetensors", tiny_classifier_config())
    loaded = load_model(path)
    assert loaded.module(torch.randn(2, 3, 16, 16), T).shape == (2, 3)


def test_the_info_carries_the_file_digest(good):
    assert read_model_info(good).sha256 == hashlib.sha256(good.read_bytes()).hexdigest()


# not a model file at all


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


class _Tripwire:
    """Unpickling this creates the file `marker`: proof that a loader ran pickle's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_a_pickle_is_refused_without_being_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    pickle.loads(pickle.dumps(_Tripwire(marker)))
    assert marker.exists()  # the tripwire works
    marker.unlink()
    path = tmp_path / "evil.safetensors"
    torch.save({"weight": _Tripwire(marker)}, path)
    _expect(path, "not a safetensors file")
    path.write_bytes(pickle.dumps({"weight": _Tripwire(marker)}))
    _expect(path, "safetensors")
    assert not marker.exists()


def test_a_plain_safetensors_file_without_studio_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    _expect(path, "has no studio metadata")


# the header


def test_a_header_that_is_not_json(good):
    header, data = _header(good)
    text = b"{" + json.dumps(header).encode()[1:-1]  # unbalanced JSON of the right length framing
    good.write_bytes(struct.pack("<Q", len(text)) + text + data)
    _expect(good, "has a corrupt safetensors header (not JSON)")


@pytest.mark.parametrize(("value", "kind"), [([1, 2], "array"), ("model", "string"), (None, "null")])
def test_a_header_that_is_json_but_not_an_object(good, value, kind):
    _, data = _header(good)
    _rewrite(good, value, data)
    _expect(good, f"has a corrupt safetensors header (a JSON {kind}, not an object)")


def test_unknown_format_version(good):
    header, data = _header(good)
    header["__metadata__"]["studio.format"] = "99"
    _rewrite(good, header, data)
    _expect(good, "unknown format version '99' (this studio reads version 1)")


def test_missing_metadata_key(good):
    header, data = _header(good)
    del header["__metadata__"]["studio.card"]
    _rewrite(good, header, data)
    _expect(good, "lacks 'studio.card'")


def test_a_metadata_value_that_is_not_a_string(good):
    """safetensors stores metadata as strings only; a number there is a damaged header, not version 1."""
    header, data = _header(good)
    header["__metadata__"]["studio.format"] = 1
    _rewrite(good, header, data)
    _expect(good, "metadata 'studio.format' is a JSON number, not a string")


@pytest.mark.parametrize("dtype", ["float64", "int8", "F32"])
def test_an_unsupported_studio_dtype(good, dtype):
    header, data = _header(good)
    header["__metadata__"]["studio.dtype"] = dtype
    _rewrite(good, header, data)
    _expect(good, f"unsupported studio.dtype {dtype!r} (this studio reads float32, float16, bfloat16)")


@pytest.mark.parametrize("dtype", ["I32", "F64", "F16", "Q4"])
def test_a_tensor_whose_dtype_is_not_the_files_dtype(good, dtype):
    """The file says float32; one tensor stored as another (or an unknown) safetensors dtype is named."""
    header, data = _header(good)
    header[BIAS]["dtype"] = dtype
    _rewrite(good, header, data)
    _expect(good, f"tensor {BIAS!r} has dtype {dtype}, expected float32")


def test_a_tensor_of_a_dtype_the_file_does_not_declare(good):
    header, data = _header(good)
    header["__metadata__"]["studio.dtype"] = "float16"  # the tensors stay F32
    _rewrite(good, header, data)
    _expect(good, "has dtype F32, expected float16")


# the config and the card


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


def test_a_config_value_of_the_wrong_json_type_is_an_invalid_config_not_a_crash(tmp_path):
    path = write_model(tmp_path / "sr.safetensors", tiny_sr_config())
    header, data = _header(path)
    config = json.loads(header["__metadata__"]["studio.config"])
    config["low_res"] = "16"
    header["__metadata__"]["studio.config"] = json.dumps(config)
    _rewrite(path, header, data)
    _expect(path, "invalid config: ")


def test_a_card_that_is_not_json(good):
    header, data = _header(good)
    header["__metadata__"]["studio.card"] = "{name: tiny"
    _rewrite(good, header, data)
    _expect(good, "invalid card: card is not valid JSON (")


@pytest.mark.parametrize(("card", "words"), [
    ('["tiny"]', "invalid card: card must be an object"),
    ('{"name": 5}', "invalid card: card.name is a JSON number, not a string"),
    ('{"name": "tiny", "wings": 2}', "invalid card: card has unknown fields: wings"),
])
def test_a_card_that_is_json_but_not_a_card(good, card, words):
    header, data = _header(good)
    header["__metadata__"]["studio.card"] = card
    _rewrite(good, header, data)
    _expect(good, words)


# tensors against the config


def test_missing_tensor(good):
    header, data = _header(good)
    del header[WEIGHT]
    _rewrite(good, header, data)
    _expect(good, f"missing tensor {WEIGHT!r}")


def test_unexpected_tensor(good):
    header, data = _header(good)
    header["unet.smuggled"] = dict(header[BIAS])
    _rewrite(good, header, data)
    _expect(good, "unexpected tensor 'unet.smuggled'")


def test_wrong_shape(good):
    header, data = _header(good)
    header[BIAS]["shape"] = [4]
    _rewrite(good, header, data)
    _expect(good, "has shape (4,), expected (3,)")


@pytest.mark.parametrize("field", ["shape", "data_offsets"])
@pytest.mark.parametrize("value", [3, "three", [3.0], None])
def test_a_header_entry_of_the_wrong_json_type(good, field, value):
    header, data = _header(good)
    header[BIAS][field] = value
    _rewrite(good, header, data)
    _expect(good, f"corrupt header entry for {BIAS!r} (")


# where each tensor's bytes lie: back to back, from the start of the data section to the end of the file


def test_truncated_file(good):
    good.write_bytes(good.read_bytes()[:-1000])
    _expect(good, "is truncated (tensor 'unet.up.3.res.skip.weight' runs past the end of the file)")


def test_a_tensor_whose_data_starts_late(good):
    header, data = _header(good)
    begin, end = header[BIAS]["data_offsets"]
    header[BIAS]["data_offsets"] = [begin + 4, end]
    _rewrite(good, header, data)
    _expect(good, f"tensor {BIAS!r} has data_offsets [{begin + 4}, {end}] (8 bytes), "
                  "but shape (3,) in float32 needs 12 bytes")


def test_a_tensor_whose_data_is_too_long(good):
    header, data = _header(good)
    begin, end = header[BIAS]["data_offsets"]
    header[BIAS]["data_offsets"] = [begin, end + 4]
    _rewrite(good, header, data)
    _expect(good, f"tensor {BIAS!r} has data_offsets [{begin}, {end + 4}] (16 bytes), but shape (3,) in float32 "
                  "needs 12 bytes")


def test_a_negative_offset(good):
    header, data = _header(good)
    header[BIAS]["data_offsets"] = [-12, 0]
    _rewrite(good, header, data)
    _expect(good, f"corrupt header entry for {BIAS!r} (data_offsets is not two integers ≥ 0)")


def test_two_tensors_sharing_their_bytes(good):
    """unet.out.0.bias and unet.out.0.weight have the same size; pointing one at the other's bytes keeps every
    length right, yet two tensors would read the same data and 128 bytes would belong to none."""
    header, data = _header(good)
    header["unet.out.0.weight"]["data_offsets"] = header["unet.out.0.bias"]["data_offsets"]
    _rewrite(good, header, data)
    _expect(good, "tensor 'unet.out.0.weight' overlaps tensor 'unet.out.0.bias' in the data section")
    _safetensors_refuses(good)


def test_data_that_does_not_start_at_the_start_of_the_data_section(good):
    header, data = _header(good)
    for name, entry in header.items():
        if name != "__metadata__":
            entry["data_offsets"] = [offset + 8 for offset in entry["data_offsets"]]
    _rewrite(good, header, bytes(8) + data)
    _expect(good, "has 8 unused bytes before tensor 'text_encoder.blocks.0.mlp.0.bias' in the data section")
    _safetensors_refuses(good)


def test_a_gap_between_two_tensors(good):
    header, data = _header(good)
    bias, weight = header[BIAS]["data_offsets"], header[WEIGHT]["data_offsets"]
    assert bias[1] == weight[0]  # WEIGHT follows BIAS
    header[BIAS]["data_offsets"] = [bias[0] - 4, bias[1] - 4]  # same length, 4 bytes earlier
    _rewrite(good, header, data)
    _expect(good, "overlaps tensor")
    header[BIAS]["data_offsets"] = bias
    for name, entry in header.items():  # every tensor from WEIGHT on moves 4 bytes later
        if name != "__metadata__" and entry["data_offsets"][0] >= weight[0]:
            entry["data_offsets"] = [offset + 4 for offset in entry["data_offsets"]]
    _rewrite(good, header, data[:weight[0]] + bytes(4) + data[weight[0]:])
    _expect(good, f"has 4 unused bytes before tensor {WEIGHT!r} in the data section")
    _safetensors_refuses(good)


def test_stray_bytes_after_the_last_tensor(good):
    good.write_bytes(good.read_bytes() + bytes(16))
    _expect(good, "has 16 stray bytes after its last tensor")
    _safetensors_refuses(good)


def test_tensor_data_that_fails_to_read_after_the_header_passed(good, monkeypatch):
    """Another program cuts the file short between the header check and the read: safetensors' own error
    comes back as one line naming the file."""
    check = files.read_model_info

    def check_then_truncate(path):
        info = check(path)
        good.write_bytes(good.read_bytes()[:-1000])
        return info

    monkeypatch.setattr(files, "read_model_info", check_then_truncate)
    message = _expect(good, "cannot read tensors (")
    assert message.endswith(")")
