import json

import pytest

from studio.core.enums import SamplerKind, Thresholding
from studio.core.settings import JobKind, Recipe, Settings, Stage


def test_settings_accept_enum_values_given_as_strings():
    s = Settings(sampler="ddpm", thresholding="dynamic")
    assert s.sampler is SamplerKind.DDPM
    assert s.thresholding is Thresholding.DYNAMIC


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": 1001}, "steps"),
        ({"eta": -0.1}, "DDIM η"),
        ({"guidance_scale": 1e9}, r"guidance scale must lie in \[0, 30\], got 1e\+09"),
        ({"class_guidance": 21}, "class guidance"),
        ({"seed": 2**31}, "seed"),
        ({"batch_size": 17}, "batch size"),
        ({"guidance_scale": -1}, "guidance"),
        ({"batch_size": 0}, "batch size"),
        ({"strength": 1.5}, "strength"),
        ({"noise_augmentation": -0.2}, "noise augmentation"),
        ({"seed": -1}, "seed"),
    ],
)
def test_settings_refuse_out_of_range_values_with_a_message_naming_the_field(change, words):
    with pytest.raises(ValueError, match=words):
        Settings(**change)


def test_the_limits_themselves_are_accepted():
    from studio.core.settings import LIMITS

    low = Settings(**{name: type(getattr(Settings(), name))(limit.low) for name, limit in LIMITS.items()})
    high = Settings(**{name: type(getattr(Settings(), name))(limit.high) for name, limit in LIMITS.items()})
    assert (low.guidance_scale, high.guidance_scale, high.steps, high.seed) == (0.0, 30.0, 1000, 2**31 - 1)


def test_settings_round_trip_through_a_dict_and_ignore_unknown_keys():
    s = Settings(prompt="red apple", seed=7, sampler=SamplerKind.DDPM, class_label=3)
    data = s.to_dict() | {"from_a_newer_version": 1}
    assert Settings.from_dict(data) == s


def test_recipe_round_trips_through_json_exactly():
    recipe = Recipe(
        kind=JobKind.INPAINT,
        model="emoji",
        model_hash="ab" * 32,
        settings=Settings(prompt="ünïcode ✓", negative_prompt="blue", seed=3),
        width=128,
        height=128,
        inputs=(("image", "00" * 32), ("mask", "11" * 32)),
        fork=("base", 12),
    )
    assert Recipe.from_json(recipe.to_json()) == recipe


def test_a_broken_recipe_is_a_value_error():
    with pytest.raises(ValueError, match="not a valid recipe"):
        Recipe.from_json('{"kind": "text-to-image"}')


@pytest.mark.parametrize("respacing", ["", "250", "10,15,20", "ddim25", "fast27"])
def test_openai_respacing_strings_are_accepted_and_the_empty_one_means_the_step_count(respacing):
    assert Settings(respacing=respacing).respacing == respacing


@pytest.mark.parametrize("respacing", ["fast", "ddim", "10,,10", "-5", "250 "])
def test_a_malformed_respacing_string_is_refused_in_one_line(respacing):
    with pytest.raises(ValueError, match=r"^respacing .* is not a step count, a list of counts, ddimN or fast27$"):
        Settings(respacing=respacing)


@pytest.mark.parametrize("respacing", ["", "250", "10,15,20", "ddim25", "fast27"])
def test_the_super_resolution_chain_takes_the_same_respacing_strings(respacing):
    assert Settings(sr_respacing=respacing).sr_respacing == respacing


@pytest.mark.parametrize("respacing", ["fast", "10,,10", "250 "])
def test_a_malformed_super_resolution_respacing_is_refused_in_one_line(respacing):
    with pytest.raises(ValueError, match=r"^super-resolution respacing .* is not a step count, a list of counts, "
                                         r"ddimN or fast27$"):
        Settings(sr_respacing=respacing)


def test_a_recipe_keeps_both_respacing_strings_and_an_older_recipe_without_them_still_opens():
    recipe = Recipe(JobKind.TEXT_TO_IMAGE, "glide", "ab" * 32, Settings(respacing="100", sr_respacing="fast27"),
                    256, 256)
    assert Recipe.from_json(recipe.to_json()).settings.sr_respacing == "fast27"
    old = json.loads(recipe.to_json())
    del old["settings"]["respacing"], old["settings"]["sr_respacing"]
    settings = Recipe.from_json(json.dumps(old)).settings
    assert (settings.respacing, settings.sr_respacing) == ("", "")


def test_the_sr_stage_has_its_own_sampler_only_when_one_is_set_and_recipes_keep_it():
    s = Settings(sampler="ddpm", sr_sampler="ddim")
    assert (s.sampler_for(Stage.BASE), s.sampler_for(Stage.SR)) == (SamplerKind.DDPM, SamplerKind.DDIM)
    assert Settings(sampler="heun").sampler_for(Stage.SR) is SamplerKind.HEUN
    assert Settings.from_dict(s.to_dict()) == s and s.to_dict()["sr_sampler"] == "ddim"
    assert Settings.from_dict({"sampler": "ddpm"}).sr_sampler is None  # a recipe written before the field
