"""The model-family registry: an architecture names a family; the family builds the network and its
conditioning for sampling and training alike."""

import json

import pytest
import torch

from studio.core.enums import Architecture
from studio.models.config import ModelConfig
from studio.models.families import FAMILIES, family_of
from studio.models.files import build_module
from studio.models.network import DiffusionNet
from studio.models.presets import tiny_base_config, tiny_classifier_config, tiny_sr_config


def test_a_config_written_before_families_existed_reads_as_the_studio_family():
    data = json.loads(tiny_base_config().to_json())
    data.pop("architecture")
    config = ModelConfig.from_dict(data)
    assert config.architecture is Architecture.STUDIO and family_of(config) is FAMILIES[Architecture.STUDIO]


def test_an_unknown_architecture_is_refused_in_one_line():
    data = json.loads(tiny_base_config().to_json()) | {"architecture": "stable-cascade"}
    with pytest.raises(ValueError, match="architecture 'stable-cascade' is not one of"):
        ModelConfig.from_dict(data)


def test_build_module_asks_the_family():
    assert isinstance(build_module(tiny_base_config()), DiffusionNet)
    assert type(build_module(tiny_classifier_config())).__name__ == "NoisyClassifier"


def test_guidance_pairs_every_row_input_with_its_unconditional_twin():
    config = tiny_sr_config()
    module = build_module(config)
    extra, aug = torch.randn(2, 3, 32, 32), torch.tensor([5, 7])
    c = family_of(config).conditioning(module, config, ["red apple"] * 2, ["blue"] * 2, extra=extra, aug_level=aug)
    assert c.paired
    assert torch.equal(c.kwargs["extra"], torch.cat([extra, extra]))
    assert c.kwargs["aug_level"].tolist() == [5, 7, 5, 7]
    assert c.kwargs["text"].tokens.shape[0] == 4
    expected = module.encode_prompts(["red apple", "red apple", "blue", "blue"])
    assert torch.equal(c.kwargs["text"].pooled, expected.pooled)


def test_without_a_negative_prompt_or_a_text_encoder_the_batch_is_not_doubled():
    config = tiny_base_config()
    module = build_module(config)
    single = family_of(config).conditioning(module, config, ["cat"] * 3)
    assert not single.paired and single.kwargs["text"].tokens.shape[0] == 3
    textless = config.__class__(**{**config.__dict__, "text": None,
                                   "unet": config.unet.__class__(**{**config.unet.__dict__, "text_dim": 0})})
    c = family_of(textless).conditioning(build_module(textless), textless, ["cat"], ["dog"])
    assert not c.paired and "text" not in c.kwargs


def test_a_new_family_plugs_in_through_the_registry(monkeypatch):
    class Echo:
        architecture = Architecture.STUDIO

        def build_module(self, config):
            return torch.nn.Identity()

    monkeypatch.setitem(FAMILIES, Architecture.STUDIO, Echo())
    assert isinstance(build_module(tiny_base_config()), torch.nn.Identity)


def test_only_glide_s_upsamplers_sample_at_temperature_0_997_from_an_8_bit_low_res_image():
    from studio.core.enums import Architecture
    from studio.models.families import FAMILIES
    from studio.models.openai.flags import spec_from_flags

    def how(architecture, **flags):
        return FAMILIES[architecture].sampling(spec_from_flags(architecture, flags).config)

    glide_sr = how(Architecture.GLIDE, image_size=256, super_res=True)
    assert glide_sr.temperature == 0.997 and glide_sr.low_res_8bit and not glide_sr.known_into_x0
    assert how(Architecture.GLIDE).temperature == 1.0 and not how(Architecture.GLIDE).low_res_8bit
    adm_sr = how(Architecture.ADM, large_size=256, small_size=64)
    assert adm_sr.temperature == 1.0 and not adm_sr.low_res_8bit
    low = torch.tensor([-1.0, -0.9961, 0.0, 0.5, 1.0])
    assert torch.allclose(glide_sr.low_res_input(low), torch.tensor([0, 0.5, 127.5, 191.25, 255]).round() / 127.5 - 1)
    assert torch.equal(adm_sr.low_res_input(low), low)



def test_a_preset_s_authors_scales_respacing_and_sampler_are_its_setting_defaults_and_a_flags_import_has_none():
    from dataclasses import replace

    from studio.core.enums import Architecture, SamplerKind
    from studio.models.families import FAMILIES
    from studio.models.openai.flags import spec_from_flags

    def defaults(architecture, preset):
        config = spec_from_flags(architecture, {"image_size": 64} if architecture is Architecture.ADM else {}).config
        config = replace(config, openai=replace(config.openai, preset=preset))
        return FAMILIES[architecture].sampling(config).setting_defaults()

    ddpm = {"sampler": SamplerKind.DDPM}  # the references' scripts sample with p_sample_loop
    assert defaults(Architecture.GLIDE, "glide-base") == {"guidance_scale": 3.0, "respacing": "100"} | ddpm
    assert defaults(Architecture.GLIDE, "glide-base-inpaint") == {"guidance_scale": 5.0, "respacing": "100"} | ddpm
    # text2im.ipynb's upsampler runs ddim_sample_loop (η 0); the inpainting notebook's runs p_sample_loop
    assert defaults(Architecture.GLIDE, "glide-upsample") == {"respacing": "fast27", "sampler": SamplerKind.DDIM,
                                                              "eta": 0.0}
    assert defaults(Architecture.GLIDE, "glide-upsample-inpaint") == {"respacing": "fast27"} | ddpm
    assert defaults(Architecture.ADM, "adm-128") == {"class_guidance": 0.5, "respacing": "250"} | ddpm
    assert defaults(Architecture.ADM, "adm-lsun-cat") == {"respacing": "1000"} | ddpm
    assert defaults(Architecture.GLIDE, "") == {}
