"""The x4 upscaler's networks against the reference implementations, at a tiny random configuration with
every switch of the real model (tests/models/sd/tiny.py `tiny_x4_config`).

As for SD 1.x (test_parity.py): the weights start in *our* modules, are written under the checkpoint's
(CompVis / OpenCLIP) names and reach diffusers' `UNet2DConditionModel` / `AutoencoderKL` and transformers'
`CLIPTextModel` through diffusers' own single-file conversion of that layout, so a tensor we name or
place differently from the real file gives a different output. fp32, tolerance 1e-4.
"""

import pytest
import torch

from studio.models.sd.keys import OPEN_CLIP, UNET, VAE
from tests.models.sd.test_parity import assert_autoencoder_matches_diffusers
from tests.models.sd.tiny import tiny_x4, x4_buffers

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")
single_file = pytest.importorskip("diffusers.loaders.single_file_utils")


@pytest.fixture(scope="module")
def ours():
    return tiny_x4(seed=4)


def _checkpoint(module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()} | x4_buffers()


def test_the_unet_matches_diffusers_with_the_x4_switches(ours):
    c = ours.config.unet
    reference = diffusers.UNet2DConditionModel(
        sample_size=128, in_channels=7, out_channels=4, layers_per_block=c.num_res_blocks,
        block_out_channels=tuple(c.model_channels * m for m in c.channel_mult),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=c.context_dim, attention_head_dim=c.num_heads, num_class_embeds=c.num_classes,
        use_linear_projection=True, only_cross_attention=(True, True, False),  # the x4's disable_self_attentions
    ).eval()
    converted = single_file.convert_ldm_unet_checkpoint(_checkpoint(ours), reference.config)
    assert reference.load_state_dict(converted, strict=True)
    g = torch.Generator().manual_seed(0)
    x, context = torch.randn(2, 7, 16, 16, generator=g), torch.randn(2, 77, c.context_dim, generator=g)
    t, level = torch.tensor([999, 17]), torch.tensor([20, 350])
    with torch.inference_mode():
        expected = reference(x, t, encoder_hidden_states=context, class_labels=level).sample
        got = ours.unet(x, t, context, level)
        other_level = ours.unet(x, t, context, torch.tensor([0, 0]))
    assert expected.std() > 0.05
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert (got - other_level).abs().max() > 5e-4  # the noise level reaches the output, beyond the tolerance


def test_the_f4_autoencoder_matches_diffusers_autoencoderkl(ours):
    latents = assert_autoencoder_matches_diffusers(ours.vae, _checkpoint(ours))
    assert latents.shape == (2, 4, 8, 8)  # f = 4


def test_the_open_clip_text_encoder_matches_transformers_at_its_penultimate_layer(ours):
    """diffusers' SD 2 text encoder is transformers' CLIPTextModel with OpenCLIP's last block dropped (its
    last_hidden_state, after the final LayerNorm, is OpenCLIP's penultimate layer normalised), exact GELU."""
    c = ours.config.text
    reference = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=c.vocab_size, hidden_size=c.width, intermediate_size=c.intermediate,
        num_hidden_layers=c.layers - 1, num_attention_heads=c.heads, max_position_embeddings=c.context,
        hidden_act="gelu",
    )).eval()
    converted = single_file.convert_open_clip_checkpoint(reference, _checkpoint(ours))
    missing, unexpected = reference.load_state_dict(converted, strict=False)
    last = f"text_model.encoder.layers.{c.layers - 1}."  # diffusers drops the real file's 24th block by name
    assert all(k.endswith("position_ids") for k in missing)
    assert unexpected and all(k.startswith(last) or k == "text_projection.weight" for k in unexpected)
    prompts = ["a red apple on a wooden table", ""]
    ids = ours.tokenizer.encode(prompts, pad=0)
    with torch.inference_mode():
        expected = reference(ids).last_hidden_state
        got = ours.encode_prompts(prompts)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_prompts_are_padded_with_token_zero_as_open_clip_pads():
    ids = tiny_x4().tokenizer.encode(["a red apple"], pad=0)[0].tolist()
    assert ids[:5] == [49406, 320, 736, 3055, 49407] and set(ids[5:]) == {0} and len(ids) == 77


def test_every_tensor_lives_under_one_of_the_three_checkpoint_prefixes(ours):
    assert all(k.startswith((UNET, VAE, OPEN_CLIP)) for k in ours.state_dict())
