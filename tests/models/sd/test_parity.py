"""Our SD 1.x networks against the reference implementations, at tiny random configurations.

The weights start in *our* modules, are written under the checkpoint's (CompVis) names, and reach the
references through diffusers' own single-file conversion of that layout — so a tensor we name or place
differently from real checkpoints gives a different output. fp32, tolerance 1e-4.
"""

import pytest
import torch

from studio.models.sd.keys import TEXT, UNET, VAE
from tests.models.sd.tiny import tiny_sd1

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")
single_file = pytest.importorskip("diffusers.loaders.single_file_utils")


@pytest.fixture(scope="module")
def ours():
    return tiny_sd1(seed=3, attention_levels=(0, 1))


def _checkpoint(module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_the_unet_matches_diffusers_unet2dconditionmodel(ours):
    c = ours.config.unet
    reference = diffusers.UNet2DConditionModel(
        sample_size=64, in_channels=c.in_channels, out_channels=c.out_channels, layers_per_block=c.num_res_blocks,
        block_out_channels=tuple(c.model_channels * m for m in c.channel_mult),
        down_block_types=("CrossAttnDownBlock2D",) * 2, up_block_types=("CrossAttnUpBlock2D",) * 2,
        cross_attention_dim=c.context_dim, attention_head_dim=c.num_heads,  # diffusers' SD 1.x name for the head count
    ).eval()
    converted = single_file.convert_ldm_unet_checkpoint(_checkpoint(ours), reference.config)
    assert reference.load_state_dict(converted, strict=True)
    g = torch.Generator().manual_seed(0)
    x, context = torch.randn(2, 4, 16, 16, generator=g), torch.randn(2, 77, c.context_dim, generator=g)
    t = torch.tensor([999, 17])
    with torch.inference_mode():
        expected = reference(x, t, encoder_hidden_states=context).sample
        got = ours.unet(x, t, context)
    assert expected.std() > 0.05  # a real signal that varies over the pixels, not a vanishing one
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def assert_autoencoder_matches_diffusers(vae, checkpoint: dict[str, torch.Tensor]) -> torch.Tensor:
    """Our autoencoder against diffusers' AutoencoderKL of the same levels, loaded from `checkpoint` through
    diffusers' single-file conversion: encode (the mode) and decode agree to 1e-4; returns our latents."""
    c = vae.config
    levels = len(c.channel_mult)
    reference = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=c.z_channels, layers_per_block=c.num_res_blocks,
        block_out_channels=tuple(c.channels * m for m in c.channel_mult),
        down_block_types=("DownEncoderBlock2D",) * levels, up_block_types=("UpDecoderBlock2D",) * levels,
    ).eval()
    converted = single_file.convert_ldm_vae_checkpoint(checkpoint, reference.config)
    assert reference.load_state_dict(converted, strict=True)
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        expected_latents = reference.encode(images).latent_dist.mode()
        latents = vae.encode(images)
        expected_images = reference.decode(expected_latents).sample
        decoded = vae.decode(latents)
    torch.testing.assert_close(latents, expected_latents, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(decoded, expected_images, atol=1e-4, rtol=1e-4)
    return latents


def test_the_autoencoder_matches_diffusers_autoencoderkl(ours):
    latents = assert_autoencoder_matches_diffusers(ours.vae, _checkpoint(ours))
    assert latents.shape == (2, 4, 16, 16)


def test_the_text_encoder_matches_transformers_cliptextmodel(ours):
    c = ours.config.text
    reference = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=c.vocab_size, hidden_size=c.width, intermediate_size=c.intermediate, num_hidden_layers=c.layers,
        num_attention_heads=c.heads, max_position_embeddings=c.context, hidden_act="quick_gelu",
    )).eval()
    converted = single_file.convert_ldm_clip_checkpoint(_checkpoint(ours))
    missing, unexpected = reference.load_state_dict(converted, strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing)
    ids = ours.tokenizer.encode(["a red apple on a wooden table", ""])
    with torch.inference_mode():
        expected = reference(ids).last_hidden_state
        got = ours.encode_prompts(["a red apple on a wooden table", ""])
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_every_tensor_lives_under_one_of_the_three_checkpoint_prefixes(ours):
    assert all(k.startswith((UNET, VAE, TEXT + "text_model.")) for k in ours.state_dict())
