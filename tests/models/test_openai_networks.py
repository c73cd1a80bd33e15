"""OpenAI's networks: the details that are easy to get wrong, each on its own; configs from flags; presets
and their recognition from key shapes."""

import json
from dataclasses import replace

import pytest
import torch

from studio.core.enums import Architecture, NetKind, Pooling, Role, ScheduleKind, VarianceType
from studio.models.config import GlideTextConfig, ModelConfig, OpenAINetConfig
from studio.models.families import family_of
from studio.models.families.openai import network_timesteps
from studio.models.openai.blocks import GroupNorm32, timestep_embedding
from studio.models.openai.convert import _blocks_from_heads, build_network, reference_shapes
from studio.models.openai.flags import spec_from_flags
from studio.models.openai.presets import PRESETS
from studio.models.openai.recognise import matching_presets, recognise
from studio.models.openai.unet import OpenAIUNet

TINY = dict(image_size=8, model_channels=32, num_res_blocks=1, attention_ds=(2,), channel_mult=(1, 2),
            num_head_channels=16)


def tiny(**kw) -> OpenAINetConfig:
    return OpenAINetConfig(**(TINY | kw))


def test_the_timestep_embedding_puts_cosines_first():
    e = timestep_embedding(torch.tensor([0.0, 3.0]), 8)
    assert e[0].tolist() == [1.0] * 4 + [0.0] * 4
    freqs = torch.tensor([10000 ** (-i / 4) for i in range(4)])
    torch.testing.assert_close(e[1], torch.cat([torch.cos(3 * freqs), torch.sin(3 * freqs)]))


def test_group_norm_runs_in_float32_for_half_inputs():
    norm = GroupNorm32(32).half()
    x = (torch.randn(1, 32, 4, 4) * 300 + 2000).half()  # float16 statistics over this lose the spread
    expected = torch.nn.functional.group_norm(x.float(), 32)
    assert norm(x).dtype == torch.float16
    torch.testing.assert_close(norm(x).float(), expected, atol=2e-3, rtol=0)


def test_per_head_qkv_rows_become_all_queries_then_keys_then_values():
    heads, ch = 2, 3
    rows = torch.tensor([[h * 100 + part * 10 + c] for h in range(heads) for part in range(3) for c in range(ch)])
    out = _blocks_from_heads(rows, heads, 3).flatten().tolist()
    assert out == [h * 100 + part * 10 + c for part in range(3) for h in range(heads) for c in range(ch)]


def test_improved_diffusion_files_see_rescaled_timesteps_when_their_flags_say_so():
    t = torch.tensor([0, 2000, 3999])
    rescaled = spec_from_flags(Architecture.IDDPM, PRESETS["iddpm-imagenet64-uncond"].flags).config
    raw = spec_from_flags(Architecture.IDDPM, PRESETS["iddpm-imagenet64-cond"].flags).config
    assert network_timesteps(rescaled, t).tolist() == [0.0, 500.0, 999.75]
    assert network_timesteps(raw, t).tolist() == [0, 2000, 3999]
    adm = spec_from_flags(Architecture.ADM, PRESETS["adm-256"].flags).config
    assert network_timesteps(adm, t).tolist() == [0, 2000, 3999]


def test_learned_range_variance_means_six_output_channels():
    config = spec_from_flags(Architecture.ADM, PRESETS["adm-256"].flags).config
    assert config.openai.out_channels == 6 and config.diffusion.variance is VarianceType.LEARNED_RANGE
    data = json.loads(config.to_json())
    data["openai"]["out_channels"] = 3
    with pytest.raises(ValueError, match="twice the image channels exactly when the variance is learned"):
        ModelConfig.from_dict(data)


def test_the_upsampler_concatenates_the_bilinear_low_res_after_x_t():
    net = OpenAIUNet(tiny(kind=NetKind.SUPER_RES)).eval()
    x, low = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 4, 4)
    expected = torch.nn.functional.interpolate(low, (8, 8), mode="bilinear", align_corners=False)
    assert torch.equal(net._inputs(x, low, None, None), torch.cat([x, expected], dim=1))
    assert net.input_blocks[0][0].in_channels == 6


def test_glide_inpainting_sees_x_t_the_known_image_and_the_mask_with_one_for_known():
    net = OpenAIUNet(tiny(kind=NetKind.INPAINT)).eval()
    x, image = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    inputs = net._inputs(x, None, image, mask)
    assert torch.equal(inputs, torch.cat([x, image * mask, mask], dim=1))
    other = image.clone()
    other[..., 4:] = 7.0  # the unknown part of the image does not reach the network
    assert torch.equal(net._inputs(x, None, other, mask), inputs)


def _glide(**kw):
    text = GlideTextConfig(text_ctx=6, width=32, layers=1, heads=2, vocab_size=20)
    torch.manual_seed(0)
    net = OpenAIUNet(tiny(text=text, out_channels=6, **kw)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    return net


def test_glide_padding_positions_take_the_padding_embedding_whatever_their_token():
    net = _glide()
    x, t = torch.randn(1, 3, 8, 8), torch.tensor([10])
    mask = torch.tensor([[True, True, True, False, False, False]])
    a = torch.tensor([[5, 6, 7, 0, 0, 0]])
    b = torch.tensor([[5, 6, 7, 9, 3, 1]])
    with torch.no_grad():
        assert torch.equal(net(x, t, tokens=a, mask=mask), net(x, t, tokens=b, mask=mask))
        assert not torch.equal(net(x, t, tokens=a, mask=mask), net(x, t, tokens=a, mask=torch.ones_like(mask)))


def test_glide_pools_the_last_position_and_gives_every_attention_block_the_tokens():
    net = _glide()
    tokens, mask = torch.tensor([[1, 2, 3, 4, 5, 6]]), torch.ones(1, 6, dtype=torch.bool)
    pooled, states = net.text(tokens, mask)
    assert states.shape == (1, 32, 6)
    torch.testing.assert_close(pooled, net.text.transformer_proj(states[:, :, -1]))
    seen = []
    hooks = [m.encoder_kv.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
             for m in net.modules() if getattr(m, "encoder_kv", None) is not None]
    with torch.no_grad():
        net(torch.randn(1, 3, 8, 8), torch.tensor([3]), tokens=tokens, mask=mask)
    assert len(seen) == len(hooks) == 4  # one down, the middle, two up (num_res_blocks + 1 at that level)
    assert all(torch.equal(s, states) for s in seen)


def test_reference_flags_and_class_kwargs_give_the_same_network():
    flags = spec_from_flags(Architecture.ADM, dict(image_size=64, num_channels=64, num_res_blocks=1,
                                                   attention_resolutions="16,8", channel_mult="1,2,2,2",
                                                   learn_sigma="True", class_cond=True, num_head_channels=32))
    kwargs = spec_from_flags(Architecture.ADM, dict(image_size=64, model_channels=64, out_channels=6,
                                                    num_res_blocks=1, attention_resolutions=[4, 8],
                                                    channel_mult=[1, 2, 2, 2], num_classes=1000, num_heads=4,
                                                    num_head_channels=32, use_scale_shift_norm=True))
    assert flags.config.openai == kwargs.config.openai
    assert flags.config.diffusion == kwargs.config.diffusion


@pytest.mark.parametrize(("flags", "message"), [
    ({"num_chanels": 64}, "unknown flag 'num_chanels' for adm"),
    ({"learn_sigma": "maybe"}, "learn_sigma must be true or false"),
    ({"noise_schedule": "sqrt"}, "noise_schedule 'sqrt' is not one of"),
    ({"image_size": 48}, "no channel_mult for image size 48"),
    ({"model_channels": 64, "out_channels": 3, "num_res_blocks": 1, "attention_resolutions": [2],
      "image_size": 8, "model_class": "UNet2D"}, "model_class 'UNet2D' is not one of"),
])
def test_bad_flags_are_named(flags, message):
    with pytest.raises(ValueError, match=message):
        spec_from_flags(Architecture.ADM, flags)


def test_glide_flags_default_to_the_released_base_model():
    config = spec_from_flags(Architecture.GLIDE, {}).config
    assert config.role is Role.BASE and config.diffusion.schedule is ScheduleKind.COSINE
    assert config.openai.text == GlideTextConfig(text_ctx=128, width=512, layers=16, heads=8)
    upsampler = spec_from_flags(Architecture.GLIDE, PRESETS["glide-upsample"].flags).config
    assert upsampler.role is Role.SR and upsampler.low_res == 64 and upsampler.resolution == 256


@pytest.mark.parametrize(("name", "parameters"), [("glide-base", 385_030_726), ("adm-64", 295_904_454)])
def test_full_size_networks_have_the_references_parameter_counts(name, parameters):
    preset = PRESETS[name]
    shapes = reference_shapes(spec_from_flags(preset.architecture, preset.flags).config)
    assert sum(torch.Size(s).numel() for s in shapes.values()) == parameters


def _meta_tensors(preset):
    config = spec_from_flags(preset.architecture, preset.flags).config
    return {k: torch.empty(s, device="meta") for k, s in reference_shapes(config).items()}


# files whose tensors have the same names and shapes: only --preset can say which one a user has
TWINS = [{"adm-256-uncond", "adm-lsun-bedroom", "adm-lsun-cat", "adm-lsun-horse", "adm-lsun-horse-nodropout"},
         {"iddpm-imagenet64-uncond", "iddpm-imagenet64-uncond-vlb"},
         {"iddpm-cifar10-uncond", "iddpm-cifar10-uncond-vlb"},
         {"iddpm-lsun-bedroom", "iddpm-lsun-bedroom-2400k"}]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_public_file_is_recognised_from_its_key_shapes_or_named_among_its_twins(name):
    preset = PRESETS[name]
    twins = next((group for group in TWINS if name in group), {name})
    found = matching_presets(preset.architecture, _meta_tensors(preset))
    assert {p.name for p in found} == twins
    if len(twins) == 1:
        assert recognise(preset.architecture, _meta_tensors(preset)) is preset
    else:
        with pytest.raises(ValueError, match=r"fit several presets \(.*\); pass --preset"):
            recognise(preset.architecture, _meta_tensors(preset))


def test_twins_differ_in_nothing_the_network_computes_at_inference():
    for group in TWINS:
        nets = {spec_from_flags(PRESETS[n].architecture, PRESETS[n].flags) for n in group}
        assert len({(replace(s.config.openai, dropout=0.0), s.config.diffusion, s.new_attention_order)
                    for s in nets}) == 1


def test_the_family_builds_the_network_its_config_names():
    config = spec_from_flags(Architecture.ADM, PRESETS["adm-64-classifier"].flags).config
    assert config.openai.pool is Pooling.ATTENTION and config.role is Role.CLASSIFIER
    with torch.device("meta"):
        module = family_of(config).build_module(config)
    assert type(module).__name__ == "OpenAIClassifier"
    assert type(build_network(spec_from_flags(Architecture.GLIDE, {}).config)).__name__ == "OpenAIUNet"
