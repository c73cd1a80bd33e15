"""The checkpoint layout: our modules' names and shapes against the real SD 1.5 files'.

fixtures/sd15_keys.json lists every tensor the U-Net, autoencoder and text encoder of
`v1-5-pruned-emaonly.safetensors` and `sd-v1-5-inpainting` hold (name → shape; `position_ids` left out).
It was written once from diffusers' public SD 1.5 configs (UNet2DConditionModel, AutoencoderKL,
CLIPTextModel at ViT-L/14) renamed with the tables of diffusers' public
scripts/convert_diffusers_to_original_stable_diffusion.py — not from our code — and it has the 1 130
tensors (1 131 with position_ids) of the released files.
"""

import json
from pathlib import Path

import pytest

from studio.models.sd.config import SD1Config, SDUNetConfig
from studio.models.sd.keys import check_shapes, expected_shapes, file_shapes, looks_like_sd, module_key, sd1_config

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "sd15_keys.json").read_text())


def _header(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in FIXTURE[name].items()}


def test_the_sd15_layout_is_exactly_what_our_modules_hold():
    shapes, names = file_shapes(_header("sd15"))
    config = sd1_config(shapes)
    assert config == SD1Config()
    assert expected_shapes(config) == shapes
    assert len(shapes) == 1130


def test_the_inpainting_checkpoint_is_the_same_layout_with_nine_input_channels():
    shapes, names = file_shapes(_header("sd15_inpainting"))
    config = sd1_config(shapes)
    assert config.unet == SDUNetConfig(in_channels=9) and config.inpainting
    check_shapes(shapes, names, config)


def test_ema_copies_schedule_buffers_and_position_ids_are_recognised_and_not_read():
    header = _header("sd15") | {
        "model_ema.decay": (), "model_ema.num_updates": (),
        "model_ema.diffusion_modelinput_blocks00weight": (320, 4, 3, 3),
        "alphas_cumprod": (1000,), "cond_stage_model.transformer.text_model.embeddings.position_ids": (1, 77),
    }
    assert looks_like_sd(header)
    shapes, _ = file_shapes(header)
    assert len(shapes) == 1130
    assert module_key("model_ema.diffusion_modelinput_blocks00weight") is None


def test_a_pre_text_model_clip_layout_and_linear_autoencoder_attention_are_read_in_place():
    header = {k.replace("transformer.text_model.", "transformer."): v for k, v in _header("sd15").items()}
    header["first_stage_model.decoder.mid.attn_1.q.weight"] = (512, 512)
    shapes, names = file_shapes(header)
    check_shapes(shapes, names, sd1_config(shapes))
    assert names["cond_stage_model.transformer.text_model.final_layer_norm.weight"] == \
        "cond_stage_model.transformer.final_layer_norm.weight"


@pytest.mark.parametrize("swap", [
    ("model.diffusion_model.input_blocks.1.0.in_layers.0.weight", (640,)),
    ("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", (320, 320)),
    ("first_stage_model.decoder.up.3.block.0.conv1.weight", (128, 512, 3, 3)),
])
def test_a_tensor_of_the_wrong_shape_is_named(swap):
    name, shape = swap
    shapes, names = file_shapes(_header("sd15") | {name: shape})
    with pytest.raises(ValueError, match=f"tensor '{name}' has shape"):
        check_shapes(shapes, names, SD1Config())


def test_a_missing_tensor_is_named():
    header = _header("sd15")
    del header["model.diffusion_model.output_blocks.5.2.conv.weight"]
    shapes, names = file_shapes(header)
    with pytest.raises(ValueError, match=r"missing tensor 'model.diffusion_model.output_blocks.5.2.conv.weight'"):
        check_shapes(shapes, names, SD1Config())


def test_an_sd2_checkpoint_is_refused_in_one_line():
    header = _header("sd15")
    header["model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight"] = (1280, 1024)
    with pytest.raises(ValueError, match="Stable Diffusion 2.x"):
        sd1_config(file_shapes(header)[0])
