"""Frozen configs of Stable Diffusion's three networks, read off a checkpoint's tensor shapes: SD 1.x,
and SD 2's x4 upscaler (the same networks with a few switches: see the fields' comments).

Nothing here is stored in the file: an SD checkpoint carries only weights, so `sd1_config_from_shapes`
(models/sd/keys.py) derives these from the key layout every time the file is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

LATENT_SCALE = 0.18215  # SD 1.x: latents = 0.18215 · E(x), so that they have roughly unit variance
X4_LATENT_SCALE = 0.08333  # the x4 upscaler's f = 4 autoencoder (x4-upscaling.yaml's scale_factor)
X4_MAX_NOISE_LEVEL = 350  # the highest noise level the x4 upscaler's low-res input was trained with
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
    num_classes: int = 0  # > 0: a class embedding added to the timestep's (the x4: its noise level, 0 … 999)
    linear_projection: bool = False  # the transformers' proj_in / proj_out are linear layers, not 1×1 convs
    cross_only_levels: tuple[int, ...] = ()  # levels whose first attention also reads the prompt (no self-attention)

    def __post_init__(self) -> None:
        _check(self.model_channels % 32 == 0, "sd unet width must be a multiple of 32 (GroupNorm)")
        _check(all(self.model_channels * m % self.num_heads == 0 for m in self.channel_mult),
               "every sd unet width must divide into its heads")
        _check(all(0 <= level < len(self.channel_mult) for level in self.attention_levels),
               "sd unet attention levels must be levels of the U-Net")
        _check(set(self.cross_only_levels) <= set(self.attention_levels),
               "sd unet cross-only levels must be attention levels")

    @property
    def time_embed_dim(self) -> int:
        return 4 * self.model_channels

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)


@dataclass(frozen=True)
class CLIPTextConfig:
    """CLIP's text transformer (ViT-L/14's: width 768, 12 layers, 12 heads), or with `open_clip` OpenCLIP's
    (ViT-H/14's, SD 2.x: width 1024, 24 layers, 16 heads; exact GELU, the penultimate layer's states,
    prompts padded with token 0 — its own key layout, models/sd/open_clip.py)."""

    vocab_size: int = CLIP_VOCAB
    width: int = 768
    layers: int = 12
    intermediate: int = 3072
    context: int = CLIP_CONTEXT
    open_clip: bool = False

    @property
    def pad_token(self) -> int | None:
        """The id prompts are padded with: OpenCLIP's 0, or None for CLIP's <|endoftext|>."""
        return 0 if self.open_clip else None

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
    latent_size: int = 64  # latents of the training images: SD 1.x 64 × 64 (512 px), the x4 128 × 128

    def __post_init__(self) -> None:
        z = self.vae.z_channels
        _check(self.unet.context_dim == self.text.width, "sd unet context_dim must equal the text encoder's width")
        _check(self.unet.out_channels == z, "sd unet output must be the autoencoder's latent")
        _check(self.unet.in_channels in (z, 2 * z + 1, z + self.vae.image_channels),
               "sd unet input must be the latent (or latent, mask and masked-image latent; or latent and "
               "low-res image)")

    @property
    def inpainting(self) -> bool:
        """The 9-channel inpainting model: [x_t, mask, latent of the masked image]."""
        return self.unet.in_channels == 2 * self.vae.z_channels + 1

    @property
    def upscaler(self) -> bool:
        """The x4 upscaler: [x_t, the low-res RGB image at the latent's size], its noise level as a class."""
        return self.unet.in_channels == self.vae.z_channels + self.vae.image_channels

    @property
    def resolution(self) -> int:
        return self.latent_size * self.vae.factor


def x4_upscaler_config() -> SD1Config:
    """The released `x4-upscaler-ema.safetensors` (configs/stable-diffusion/x4-upscaling.yaml): a U-Net of
    width 256 over 7 channels, attention at the three coarser levels (no self-attention at the first two),
    OpenCLIP ViT-H/14's text transformer, the f = 4 autoencoder."""
    return SD1Config(
        unet=SDUNetConfig(in_channels=7, model_channels=256, channel_mult=(1, 2, 2, 4), attention_levels=(1, 2, 3),
                          context_dim=1024, num_classes=1000, linear_projection=True, cross_only_levels=(1, 2)),
        text=CLIPTextConfig(width=1024, layers=24, intermediate=4096, open_clip=True),
        vae=AutoencoderConfig(channel_mult=(1, 2, 4)),
        latent_scale=X4_LATENT_SCALE, latent_size=128,
    )
