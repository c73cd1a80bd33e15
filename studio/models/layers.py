"""Building blocks of the ADM-style U-Net (Dhariwal & Nichol 2021), written for channels-last.

Feature maps stay in channels-last memory order throughout, so 1×1 projections of attention
are plain matrix products over a [B, H·W, C] view that costs no copy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of (possibly fractional) timesteps, [B] → [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-5)


def zero(module: nn.Module) -> nn.Module:
    """Zero-initialise a layer, so a residual branch starts as the identity (as ADM does)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, then scale-shift from the embedding, GroupNorm → SiLU → conv."""

    def __init__(self, channels: int, out: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = norm(channels)
        self.conv1 = nn.Conv2d(channels, out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out)
        self.norm2 = norm(out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero(nn.Conv2d(out, out, 3, padding=1))
        self.skip = nn.Identity() if channels == out else nn.Conv2d(channels, out, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = torch.addcmul(shift, self.norm2(h), scale + 1)
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over the pixels; text tokens, if given, join the keys and values
    (GLIDE's conditioning), masked where the prompt is padding."""

    def __init__(self, channels: int, head_channels: int, text_dim: int = 0) -> None:
        super().__init__()
        self.heads = channels // head_channels
        self.norm = norm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.text_kv = nn.Linear(text_dim, 2 * channels) if text_dim else None
        self.proj = zero(nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor, text: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        b, c, h, w = x.shape
        tokens = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        q, k, v = self.qkv(tokens).view(b, h * w, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn_mask = None
        if self.text_kv is not None and text is not None:
            tk, tv = self.text_kv(text).view(b, -1, 2, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            k, v = torch.cat([k, tk], dim=2), torch.cat([v, tv], dim=2)
            if mask is not None:
                keep = torch.ones(b, h * w, dtype=torch.bool, device=x.device)
                attn_mask = torch.cat([keep, mask], dim=1)[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = self.proj(out.transpose(1, 2).reshape(b, h * w, c))
        return x + out.view(b, h, w, c).permute(0, 3, 1, 2)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One step of either U-Net path: a residual block, optionally attention, optionally a resample."""

    def __init__(self, res: ResBlock | None, attn: Attention | None = None, resample: nn.Module | None = None):
        super().__init__()
        self.res, self.attn, self.resample = res, attn, resample

    def forward(self, x, emb, text=None, mask=None):
        if self.res is not None:
            x = self.res(x, emb)
        if self.attn is not None:
            x = self.attn(x, text, mask)
        if self.resample is not None:
            x = self.resample(x)
        return x
