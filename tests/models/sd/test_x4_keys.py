"""The x4 upscaler's layout: the file's tensor names and shapes recognised, parsed back into the released
model's config, and checked tensor by tensor.

The names and shapes below are the released `x4-upscaler-ema.safetensors`'s, as diffusers' public
single-file loader (its "upscale" detection key, its OpenCLIP and LDM tables) and x4-upscaling.yaml give
them — facts written here by hand, not produced by our code."""

import pytest
import torch

from studio.models.sd.config import x4_upscaler_config
from studio.models.sd.keys import check_shapes, file_shapes, looks_like_sd, looks_like_x4, x4_config
from studio.models.sd.network import StableDiffusion

RELEASED = {
    "model.diffusion_model.input_blocks.0.0.weight": (256, 7, 3, 3),  # [latent, low-res RGB]
    "model.diffusion_model.label_emb.weight": (1000, 1024),  # the noise level's embedding
    "model.diffusion_model.time_embed.0.weight": (1024, 256),
    "model.diffusion_model.input_blocks.4.1.proj_in.weight": (512, 512),  # linear, not a 1×1 conv
    "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_k.weight": (512, 1024),  # prompt
    "model.diffusion_model.input_blocks.10.0.skip_connection.bias": (1024,),  # diffusers' "upscale" key
    "model.diffusion_model.input_blocks.10.1.transformer_blocks.0.attn1.to_k.weight": (1024, 1024),
    "model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.0.proj.weight": (8192, 1024),
    "model.diffusion_model.output_blocks.11.0.skip_connection.weight": (256, 512, 1, 1),
    "model.diffusion_model.out.2.weight": (4, 256, 3, 3),
    "first_stage_model.encoder.down.2.block.0.nin_shortcut.weight": (512, 256, 1, 1),
    "first_stage_model.decoder.up.0.block.0.conv1.weight": (128, 256, 3, 3),
    "first_stage_model.decoder.mid.attn_1.q.weight": (512, 512, 1, 1),
    "cond_stage_model.model.positional_embedding": (77, 1024),
    "cond_stage_model.model.token_embedding.weight": (49408, 1024),
    "cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight": (3072, 1024),
    "cond_stage_model.model.transformer.resblocks.23.mlp.c_fc.weight": (4096, 1024),
    "cond_stage_model.model.ln_final.weight": (1024,),
}


@pytest.fixture(scope="module")
def header():
    with torch.device("meta"):
        module = StableDiffusion(x4_upscaler_config())
    return {k: tuple(v.shape) for k, v in module.state_dict().items()} | {
        "cond_stage_model.model.text_projection": (1024, 1024), "cond_stage_model.model.logit_scale": (),
        "betas": (1000,), "low_scale_model.alphas_cumprod": (1000,)}


def test_our_modules_hold_the_released_names_and_shapes(header):
    assert {k: header[k] for k in RELEASED} == RELEASED


def test_the_released_layout_parses_back_into_its_config(header):
    assert looks_like_x4(header) and looks_like_sd(header)
    shapes, names = file_shapes(header)
    config = x4_config(shapes)
    assert config == x4_upscaler_config()
    check_shapes(shapes, names, config)
    assert "cond_stage_model.model.text_projection" not in names.values()  # CLIP's contrastive head: not read


def test_the_unet_has_the_released_parameter_count(header):
    count = sum(torch.Size(s).numel() for k, s in header.items() if k.startswith("model.diffusion_model."))
    assert count == pytest.approx(473e6, rel=0.005)  # 473 M, as the brief's reference says


def test_an_sd1_layout_is_not_the_x4s():
    header = {"model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3), "first_stage_model.x": (1,),
              "cond_stage_model.transformer.text_model.x": (1,)}
    assert looks_like_sd(header) and not looks_like_x4(header)


def test_a_swapped_tensor_is_named(header):
    name = "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_k.weight"
    shapes, names = file_shapes(header | {name: (512, 512)})
    with pytest.raises(ValueError, match=f"tensor '{name}' has shape"):
        check_shapes(shapes, names, x4_upscaler_config())
