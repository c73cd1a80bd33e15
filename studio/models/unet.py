"""The guided U-Net: ADM's architecture with GLIDE-style text attention and extra input channels."""

from __future__ import annotations

import torch
from torch import nn

from studio.models.config import UNetConfig
from studio.models.layers import (
    Attention,
    Conv2d,
    Downsample,
    EmbeddingProjection,
    Level,
    ResBlock,
    Upsample,
    norm,
    timestep_embedding,
    zero,
)


def build_encoder(c: UNetConfig) -> tuple[nn.ModuleList, list[int], int]:
    """The downward path: levels, the channels of every skip connection, and the final width."""
    levels, skips, ch, res = nn.ModuleList(), [c.model_channels], c.model_channels, c.resolution
    for i, mult in enumerate(c.channel_mult):
        width = c.model_channels * mult
        for _ in range(c.num_res_blocks):
            attn = Attention(width, c.num_head_channels, c.text_dim) if res in c.attention_resolutions else None
            levels.append(Level(ResBlock(ch, width, c.dropout), attn))
            ch = width
            skips.append(ch)
        if i < len(c.channel_mult) - 1:
            levels.append(Level(None, None, Downsample(ch)))
            skips.append(ch)
            res //= 2
    return levels, skips, ch


def build_middle(c: UNetConfig, ch: int) -> nn.ModuleList:
    return nn.ModuleList([
        Level(ResBlock(ch, ch, c.dropout), Attention(ch, c.num_head_channels, c.text_dim)),
        Level(ResBlock(ch, ch, c.dropout)),
    ])


def build_decoder(c: UNetConfig, skips: list[int], ch: int) -> nn.ModuleList:
    levels, skips = nn.ModuleList(), list(skips)
    res = c.resolution // 2 ** (len(c.channel_mult) - 1)
    for i, mult in reversed(list(enumerate(c.channel_mult))):
        width = c.model_channels * mult
        for j in range(c.num_res_blocks + 1):
            attn = Attention(width, c.num_head_channels, c.text_dim) if res in c.attention_resolutions else None
            up = Upsample(width) if i > 0 and j == c.num_res_blocks else None
            levels.append(Level(ResBlock(ch + skips.pop(), width, c.dropout), attn, up))
            ch = width
        if i > 0:
            res *= 2
    return levels


class UNet(nn.Module):
    """ε (or x₀, v) prediction network.

    forward(x, t, *, text_tokens, text_mask, text_pooled, class_labels, extra, aug_level):
    `extra` is concatenated after x along channels ([x_t, extra]); `aug_level` holds the
    timesteps of the cascade's noise augmentation, embedded like t.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        c = self.config = config
        mc, emb_dim = c.model_channels, 4 * c.model_channels
        self.time_mlp = nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.text_pool = nn.Linear(c.text_dim, emb_dim) if c.text_dim else None
        self.class_embedding = nn.Embedding(c.num_classes, emb_dim) if c.num_classes else None
        self.aug_mlp = (
            nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
            if c.aug_level_embedding else None
        )
        self.input_conv = Conv2d(c.in_channels + c.extra_channels, mc, 3, padding=1)
        self.down, skips, ch = build_encoder(c)
        self.middle = build_middle(c, ch)
        self.up = build_decoder(c, skips, ch)
        self.emb_proj = EmbeddingProjection(emb_dim, res_blocks(self.down, self.middle, self.up))
        self.out = nn.Sequential(norm(mc), nn.SiLU(), zero(Conv2d(mc, c.output_channels, 3, padding=1)))

    def embed(self, t, text_pooled=None, class_labels=None, aug_level=None) -> torch.Tensor:
        c = self.config
        emb = self.time_mlp(timestep_embedding(t, c.model_channels).to(self.input_conv.weight.dtype))
        if self.text_pool is not None:
            _require(text_pooled, "text")
            emb = emb + self.text_pool(text_pooled)
        if self.class_embedding is not None:
            _require(class_labels, "class labels")
            emb = emb + self.class_embedding(class_labels)
        if self.aug_mlp is not None:
            _require(aug_level, "the augmentation level")
            emb = emb + self.aug_mlp(timestep_embedding(aug_level, c.model_channels).to(emb.dtype))
        return emb

    def forward(self, x, t, *, text_tokens=None, text_mask=None, text_pooled=None,
                class_labels=None, extra=None, aug_level=None) -> torch.Tensor:
        c = self.config
        _refuse(text_pooled if self.text_pool is None else None, "text")
        _refuse(class_labels if self.class_embedding is None else None, "class labels")
        _refuse(aug_level if self.aug_mlp is None else None, "an augmentation level")
        if c.extra_channels:
            _require(extra, f"{c.extra_channels} extra input channels")
            fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
            # cat follows the plain layout when its inputs differ, which would send the whole network
            # down the slow path on a CPU
            x = torch.cat([x, extra.to(x.dtype)], dim=1).contiguous(memory_format=fmt)
        else:
            _refuse(extra, "extra input channels")
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        emb = self.embed(t, text_pooled, class_labels, aug_level)
        modulation = iter(self.emb_proj(emb))
        h = self.input_conv(x)
        skips = [h]
        for level in self.down:
            h = level(h, _next_for(level, modulation), text_tokens, text_mask)
            skips.append(h)
        for level in self.middle:
            h = level(h, _next_for(level, modulation), text_tokens, text_mask)
        for level in self.up:
            h = level(torch.cat([h, skips.pop()], dim=1), _next_for(level, modulation), text_tokens, text_mask)
        return self.out(h)


def res_blocks(*paths: nn.ModuleList) -> list[ResBlock]:
    """The residual blocks of the given paths, in the order the forward pass meets them."""
    return [level.res for path in paths for level in path if level.res is not None]


def _next_for(level: Level, modulation):
    return next(modulation) if level.res is not None else None


def _require(value, what: str) -> None:
    if value is None:
        raise ValueError(f"this model needs {what}")


def _refuse(value, what: str) -> None:
    if value is not None:
        raise ValueError(f"this model does not take {what}")
