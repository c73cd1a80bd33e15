"""Cascades: a folder with cascade.json, or the JSON itself, checked file by file."""

import json

import pytest

from studio.models.cascade import Cascade, describe_model_path, read_cascade, resolve_model_path
from studio.models.files import ModelFileError
from studio.models.presets import tiny_base_config, tiny_sr_config
from tests.conftest import write_model


def test_a_cascade_folder_lists_its_files_by_role(tiny_cascade):
    cascade = read_cascade(tiny_cascade)
    assert cascade.name == "tiny"
    assert cascade.base.name == "base.safetensors" and cascade.sr.name == "sr.safetensors"
    assert resolve_model_path(tiny_cascade / "cascade.json") == cascade


def test_a_single_base_model_file_is_a_cascade_of_one(tiny_base):
    cascade = resolve_model_path(tiny_base)
    assert cascade == Cascade(name="tiny base", base=tiny_base)


@pytest.mark.parametrize(("file", "kind"), [("sr.safetensors", "a super-resolution stage"),
                                            ("classifier.safetensors", "a classifier")])
def test_a_lone_sr_stage_or_classifier_is_refused_with_the_way_to_open_its_cascade(tiny_cascade, file, kind):
    """Neither makes an image by itself; the message says what the file is and what to open instead."""
    with pytest.raises(ModelFileError) as info:
        resolve_model_path(tiny_cascade / file)
    assert str(info.value) == f"{tiny_cascade / file}: is {kind}; open the cascade (its folder or cascade.json)"


def test_studio_info_still_describes_a_lone_sr_stage(tiny_cascade):
    assert describe_model_path(tiny_cascade / "sr.safetensors").startswith("tiny sr  (sr, 32×32, float32)")


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


@pytest.mark.parametrize(("description", "problem"), [
    ({"base": "base.safetensors", "upscaler": "sr.safetensors", "vae": "v.safetensors"},
     "has unknown keys ['upscaler', 'vae'] (a cascade lists name, base, sr, classifier)"),
    (["base.safetensors"], "a cascade description must be a JSON object"),
    ({"sr": "base.safetensors"}, 'a cascade description needs at least a "base" file'),
    ({"base": "base.safetensors", "sr": 5}, '"sr" must be a string'),
    ({"name": ["tiny"], "base": "base.safetensors"}, '"name" must be a string'),
])
def test_a_description_of_the_wrong_shape_is_refused_before_any_file_is_read(tmp_path, description, problem):
    (tmp_path / "cascade.json").write_text(json.dumps(description))  # no model files: none is opened
    for path in (tmp_path, tmp_path / "cascade.json"):
        with pytest.raises(ModelFileError) as info:
            resolve_model_path(path)
        assert str(info.value) == f"{tmp_path / 'cascade.json'}: {problem}"


def test_info_shows_each_card_and_config(tiny_cascade):
    text = describe_model_path(tiny_cascade)
    assert text.startswith("Cascade: tiny")
    for words in ("[base] tiny base", "[sr] tiny sr", "[classifier] tiny classifier", "licence:", '"role": "sr"'):
        assert words in text
