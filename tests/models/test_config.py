"""Configs validate on construction and survive JSON exactly."""

import pytest

from studio.core.enums import PredictionType, Role, VarianceType
from studio.models.config import DiffusionConfig, ModelConfig, UNetConfig
from studio.models.presets import PRESETS


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_json(name):
    config = PRESETS[name]()
    assert ModelConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"resolution": 30}, "divisible"),
        ({"attention_resolutions": (5,)}, "not feature-map sizes"),
        ({"model_channels": 48}, "multiple of 32"),
        ({"num_res_blocks": 0}, "num_res_blocks"),
    ],
)
def test_unet_configs_that_cannot_build_a_network_are_refused(change, words):
    with pytest.raises(ValueError, match=words):
        UNetConfig(**change)


def test_roles_need_their_parts():
    with pytest.raises(ValueError, match="needs a unet"):
        ModelConfig(role=Role.BASE, resolution=32)
    with pytest.raises(ValueError, match="low_res"):
        ModelConfig(role=Role.SR, resolution=32, unet=UNetConfig(extra_channels=3, aug_level_embedding=True))
    with pytest.raises(ValueError, match="learn_sigma"):
        ModelConfig(role=Role.BASE, resolution=32, unet=UNetConfig(),
                    diffusion=DiffusionConfig(variance=VarianceType.LEARNED_RANGE))


def test_unknown_values_and_fields_are_named():
    with pytest.raises(ValueError, match="diffusion.prediction 'noise' is not one of"):
        DiffusionConfig(prediction="noise")
    data = PRESETS["tiny_base"]().to_dict()
    data["unet"]["wings"] = 2
    with pytest.raises(ValueError, match="unet has unknown fields: wings"):
        ModelConfig.from_dict(data)
    data = PRESETS["tiny_base"]().to_dict()
    data["unet"]["num_res_blocks"] = "two"
    with pytest.raises(ValueError, match="must be an integer"):
        ModelConfig.from_dict(data)


def test_enums_come_back_as_enums():
    config = ModelConfig.from_json(PRESETS["tiny_base"]().to_json())
    assert config.diffusion.prediction is PredictionType.EPSILON and config.role is Role.BASE


def test_the_sampling_hints_of_our_briefly_trained_models_round_trip_and_are_bounded():
    base, sr = PRESETS["gpu_base_32"](), PRESETS["gpu_sr_128"]()
    assert (base.diffusion.sample_eta, base.diffusion.sample_strength) == (1.0, 1.0)
    assert (sr.diffusion.sample_eta, sr.diffusion.sample_strength) == (1.0, 0.8)
    assert ModelConfig.from_json(sr.to_json()) == sr
    assert base.text.pooling.value == "mean" and ModelConfig.from_json(base.to_json()).text == base.text
    older = sr.to_dict()
    del older["diffusion"]["sample_eta"], older["diffusion"]["sample_strength"]
    older_diffusion = ModelConfig.from_dict(older).diffusion  # files from before: η = 0, the whole chain
    assert (older_diffusion.sample_eta, older_diffusion.sample_strength) == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"sample_strength must lie in \(0, 1\]"):
        DiffusionConfig(sample_strength=0.0)
    with pytest.raises(ValueError, match=r"sample_eta must lie in \[0, 1\]"):
        DiffusionConfig(sample_eta=1.5)
