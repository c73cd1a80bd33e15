"""Cascades: a folder with cascade.json, or the JSON itself, checked file by file."""

import json

import pytest

from studio.models.cascade import describe_model_path, read_cascade, resolve_model_path
from studio.models.files import ModelFileError
from studio.models.presets import tiny_base_config, tiny_sr_config
from tests.conftest import write_model


def test_a_cascade_folder_lists_its_files_by_role(tiny_cascade):
    cascade = read_cascade(tiny_cascade)
    assert cascade.name == "tiny"
    assert cascade.base.name == "base.safetensors" and cascade.sr.name == "sr.safetensors"
    assert resolve_model_path(tiny_cascade / "cascade.json") == cascade


def test_a_single_model_file_is_a_cascade_of_one(tiny_base):
    cascade = resolve_model_path(tiny_base)
    assert cascade.base == tiny_base and cascade.sr is None


def test_a_folder_without_a_description_is_refused(tmp_path):
    write_model(tmp_path / "base.safetensors", tiny_base_config())
    with pytest.raises(ModelFileError, match="no cascade.json in folder"):
        resolve_model_path(tmp_path)


def test_a_file_in_the_wrong_slot_is_refused(tmp_path):
    write_model(tmp_path / "sr.safetensors", tiny_sr_config())
    (tmp_path / "cascade.json").write_text(json.dumps({"base": "sr.safetensors"}))
    with pytest.raises(ModelFileError, match="is a sr model, listed as base"):
        read_cascade(tmp_path)


def test_a_listed_file_that_is_missing_is_named(tmp_path):
    (tmp_path / "cascade.json").write_text(json.dumps({"base": "gone.safetensors"}))
    with pytest.raises(ModelFileError, match="gone.safetensors: no such file"):
        read_cascade(tmp_path)


def test_a_broken_description_is_refused(tmp_path):
    (tmp_path / "cascade.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not a valid cascade description"):
        read_cascade(tmp_path)


def test_info_shows_each_card_and_config(tiny_cascade):
    text = describe_model_path(tiny_cascade)
    assert text.startswith("Cascade: tiny")
    for words in ("[base] tiny base", "[sr] tiny sr", "[classifier] tiny classifier", "licence:", '"role": "sr"'):
        assert words in text
