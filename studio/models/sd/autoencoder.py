"""The KL autoencoder of latent diffusion (Rombach et al. 2022): images ↔ latents at 1/8 the size.

Module names follow the original (CompVis `AutoencoderKL`) layout: `encoder.down.{level}.block.{i}`,
`decoder.up.{level}` (indexed by level, so the decoder walks them backwards), `mid.attn_1` with 1×1-conv
q, k, v, `quant_conv` and `post_quant_conv`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.models.layers import Upsample
from studio.models.sd.config import AutoencoderConfig
from studio.models.sd.unet import GroupNorm32

Conv2d = nn.Conv2d  # runs once or twice per image: no packed copies of its weights (models/sd/unet.py)


def _norm(channels: int) -> GroupNorm32:
    return GroupNorm32(32, channels, eps=1e-6)


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, out: int) -> None:
        super().__init__()
        self.norm1 = _norm(channels)
        self.conv1 = Conv2d(channels, out, 3, padding=1)
        self.norm2 = _norm(out)
        self.conv2 = Conv2d(out, out, 3, padding=1)
        self.nin_shortcut = Conv2d(channels, out, 1) if channels != out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the pixels, q/k/v/out as 1×1 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.q = Conv2d(channels, channels, 1)
        self.k = Conv2d(channels, channels, 1)
        self.v = Conv2d(channels, channels, 1)
        self.proj_out = Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n = self.norm(x)

        def tokens(t: torch.Tensor) -> torch.Tensor:
            return t.permute(0, 2, 3, 1).reshape(b, 1, h * w, c)

        out = F.scaled_dot_product_attention(tokens(self.q(n)), tokens(self.k(n)), tokens(self.v(n)))
        return x + self.proj_out(out.view(b, h, w, c).permute(0, 3, 1, 2))


class Downsample(nn.Module):
    """Pad right and bottom by one, then a stride-2 3×3 convolution (the original's asymmetric padding)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class _Level(nn.Module):
    def __init__(self, blocks: list[ResnetBlock], resample: nn.Module | None, name: str) -> None:
        super().__init__()
        self.block = nn.ModuleList(blocks)
        self._resample_name = name
        if resample is not None:
            self.add_module(name, resample)  # `downsample` / `upsample`: the checkpoint's names

    @property
    def resample(self) -> nn.Module | None:
        return self._modules.get(self._resample_name)


class _Mid(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    def __init__(self, c: AutoencoderConfig) -> None:
        super().__init__()
        widths = [c.channels * m for m in c.channel_mult]
        self.conv_in = Conv2d(c.image_channels, c.channels, 3, padding=1)
        self.down = nn.ModuleList()
        ch = c.channels
        for level, width in enumerate(widths):
            blocks = []
            for _ in range(c.num_res_blocks):
                blocks.append(ResnetBlock(ch, width))
                ch = width
            last = level == len(widths) - 1
            self.down.append(_Level(blocks, None if last else Downsample(ch), "downsample"))
        self.mid = _Mid(ch)
        self.norm_out = _norm(ch)
        self.conv_out = Conv2d(ch, 2 * c.z_channels, 3, padding=1)  # mean and log-variance

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x.contiguous(memory_format=torch.channels_last))
        for level in self.down:
            for block in level.block:
                h = block(h)
            if level.resample is not None:
                h = level.resample(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


class Decoder(nn.Module):
    def __init__(self, c: AutoencoderConfig) -> None:
        super().__init__()
        widths = [c.channels * m for m in c.channel_mult]
        ch = widths[-1]
        self.conv_in = Conv2d(c.z_channels, ch, 3, padding=1)
        self.mid = _Mid(ch)
        levels: list[_Level] = []
        for level in reversed(range(len(widths))):
            blocks = []
            for _ in range(c.num_res_blocks + 1):
                blocks.append(ResnetBlock(ch, widths[level]))
                ch = widths[level]
            levels.insert(0, _Level(blocks, Upsample(ch) if level else None, "upsample"))
        self.up = nn.ModuleList(levels)
        self.norm_out = _norm(ch)
        self.conv_out = Conv2d(ch, c.image_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z.contiguous(memory_format=torch.channels_last)))
        for level in reversed(self.up):
            for block in level.block:
                h = block(h)
            if level.resample is not None:
                h = level.resample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.quant_conv = Conv2d(2 * config.z_channels, 2 * config.z_channels, 1)
        self.post_quant_conv = Conv2d(config.z_channels, config.z_channels, 1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The posterior's mean for images in [−1, 1] (its mode: deterministic, so a recipe repeats)."""
        mean, _log_var = self.quant_conv(self.encoder(images)).chunk(2, dim=1)
        return mean

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in (about) [−1, 1] from unscaled latents."""
        return self.decoder(self.post_quant_conv(z))
