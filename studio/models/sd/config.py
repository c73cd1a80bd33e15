"""Frozen configs of Stable Diffusion 1.x's three networks, read off a checkpoint's tensor shapes.

Nothing here is stored in the file: an SD checkpoint carries only weights, so `sd1_config_from_shapes`
(models/sd/keys.py) derives these from the key layout every time the file is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

LATENT_SCALE = 0.18215  # SD 1.x: latents = 0.18215 · E(x), so that they have roughly unit variance
CLIP_VOCAB = 49408  # 256 bytes, 256 bytes + "</w>", 48 894 merges, <|startoftext|>, <|endoftext|>
CLIP_CONTEXT = 77  # tokens the text encoder reads, <|startoftext|> and <|endoftext|> included


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class SDUNetConfig:
    """The latent-diffusion U-Net (CompVis `openaimodel.UNetModel` with spatial transformers)."""

    in_channels: int = 4  # 9 for the inpainting model: x_t, mask, masked-image latents
    out_channels: int = 4
    model_channels: int = 320
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attention_levels: tuple[int, ...] = (0, 1, 2)  # levels (0 = full latent size) with a spatial transformer
    num_heads: int = 8  # SD 1.x: 8 heads at every level, so the head width grows with the level
    context_dim: int = 768  # the text encoder's width: cross-attention keys and values come from it

    def __post_init__(self) -> None:
        _check(self.model_channels % 32 == 0, "sd unet width must be a multiple of 32 (GroupNorm)")
        _check(all(self.model_channels * m % self.num_heads == 0 for m in self.channel_mult),
               "every sd unet width must divide into its heads")
        _check(all(0 <= level < len(self.channel_mult) for level in self.attention_levels),
               "sd unet attention levels must be levels of the U-Net")

    @property
    def time_embed_dim(self) -> int:
        return 4 * self.model_channels

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)


@dataclass(frozen=True)
class CLIPTextConfig:
    """CLIP's text transformer (ViT-L/14's: width 768, 12 layers, 12 heads)."""

    vocab_size: int = CLIP_VOCAB
    width: int = 768
    layers: int = 12
    intermediate: int = 3072
    context: int = CLIP_CONTEXT

    @property
    def heads(self) -> int:
        # CLIP's heads are 64 wide; not stored in the file, so the width decides (tiny test models: 1)
        return max(1, self.width // 64)


@dataclass(frozen=True)
class AutoencoderConfig:
    """The KL-regularised autoencoder (CompVis `AutoencoderKL`, f = 8 with four levels)."""

    channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    z_channels: int = 4
    image_channels: int = 3

    @property
    def factor(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)


@dataclass(frozen=True)
class SD1Config:
    unet: SDUNetConfig = SDUNetConfig()
    text: CLIPTextConfig = CLIPTextConfig()
    vae: AutoencoderConfig = AutoencoderConfig()
    latent_scale: float = LATENT_SCALE

    def __post_init__(self) -> None:
        _check(self.unet.context_dim == self.text.width, "sd unet context_dim must equal the text encoder's width")
        _check(self.unet.out_channels == self.vae.z_channels, "sd unet output must be the autoencoder's latent")
        _check(self.unet.in_channels in (self.vae.z_channels, 2 * self.vae.z_channels + 1),
               "sd unet input must be the latent (or latent, mask and masked-image latent)")

    @property
    def inpainting(self) -> bool:
        """The 9-channel inpainting model: [x_t, mask, latent of the masked image]."""
        return self.unet.in_channels == 2 * self.vae.z_channels + 1

    @property
    def latent_size(self) -> int:
        return 64  # SD 1.x was trained at 512 × 512 pixels: 64 × 64 latents

    @property
    def resolution(self) -> int:
        return self.latent_size * self.vae.factor
