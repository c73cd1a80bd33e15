"""The building blocks of OpenAI's U-Nets (ADM, improved-diffusion, GLIDE), written for our files.

Parameter names follow the released checkpoints (`in_layers.0`, `emb_layers.1`, `qkv`, `proj_out`, …)
so an import is a check and a re-ordering, not a renaming. Attention weights are stored here in
[Q | K | V] order (all heads' queries, then keys, then values); checkpoints that keep each head's
[q k v] together are re-ordered once on import (`studio.models.openai.convert`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GroupNorm32(nn.GroupNorm):
    """GroupNorm over 32 groups, computed in float32 whatever the module's dtype (as every reference
    does: half-precision statistics over a 64×64×512 map lose the small differences that matter)."""

    def __init__(self, channels: int) -> None:
        super().__init__(32, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x.float(), 32, self.weight.float(), self.bias.float(), self.eps).to(x.dtype)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features [cos(t·f_i), sin(t·f_i)] — cosines first — with f_i = max_period^(−i/half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(embedding, (0, dim % 2))


def heads_of(channels: int, num_heads: int, num_head_channels: int) -> int:
    return channels // num_head_channels if num_head_channels > 0 else num_heads


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Softmax attention over [B, C, T] queries and [B, C, S] keys/values split into heads (channel-first,
    [Q | K | V] order); returns [B, C, T]. The softmax scale is 1/√(C/heads)."""
    b, c, t = q.shape

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(b, heads, c // heads, x.shape[-1]).transpose(-1, -2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(-1, -2).reshape(b, c, t)


class Upsample(nn.Module):
    """Nearest ×2, then (optionally) a 3×3 convolution."""

    def __init__(self, channels: int, use_conv: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1) if use_conv else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x if self.conv is None else self.conv(x)


class Downsample(nn.Module):
    """A stride-2 3×3 convolution, or 2×2 average pooling."""

    def __init__(self, channels: int, use_conv: bool) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1) if use_conv else nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class ResBlock(nn.Module):
    """Norm → SiLU → conv, the embedding added (or as scale-shift of the second norm), norm → SiLU →
    dropout → conv, plus a skip; `up`/`down` resample inside the block (ADM's resblock_updown)."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int, *, scale_shift: bool,
                 dropout: float = 0.0, up: bool = False, down: bool = False) -> None:
        super().__init__()
        self.scale_shift = scale_shift
        self.in_layers = nn.Sequential(GroupNorm32(channels), nn.SiLU(),
                                       nn.Conv2d(channels, out_channels, 3, padding=1))
        self.resample = Upsample(channels, False) if up else Downsample(channels, False) if down else None
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels * (2 if scale_shift else 1)))
        self.out_layers = nn.Sequential(GroupNorm32(out_channels), nn.SiLU(), nn.Dropout(dropout),
                                        nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip_connection = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self.resample is None:
            h = self.in_layers(x)
        else:  # resample between the activation and the convolution, and the skip path alike
            h = self.in_layers[2](self.resample(self.in_layers[1](self.in_layers[0](x))))
            x = self.resample(x)
        e = self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        norm, rest = self.out_layers[0], self.out_layers[1:]
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = rest(norm(h) * (1 + scale) + shift)
        else:
            h = rest(norm(h + e))
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Self-attention over the pixels; with `encoder_channels`, GLIDE's text token states are projected
    to extra keys and values placed before the pixels' own (every block gets them, padding included)."""

    def __init__(self, channels: int, heads: int, encoder_channels: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm32(channels)
        self.qkv = nn.Conv1d(channels, channels * 3, 1)
        self.encoder_kv = nn.Conv1d(encoder_channels, channels * 2, 1) if encoder_channels else None
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, encoder_out: torch.Tensor | None = None) -> torch.Tensor:
        b, c, *spatial = x.shape
        q, k, v = self.qkv(self.norm(x).reshape(b, c, -1)).chunk(3, dim=1)
        if self.encoder_kv is not None and encoder_out is not None:
            ek, ev = self.encoder_kv(encoder_out).chunk(2, dim=1)
            k, v = torch.cat([ek, k], dim=-1), torch.cat([ev, v], dim=-1)
        h = self.proj_out(attend(q, k, v, self.heads))
        return x + h.reshape(b, c, *spatial)


class AttentionPool2d(nn.Module):
    """The classifier's head (after CLIP): the mean of the map is prepended as a query token, a learned
    position embedding added, multi-head attention run, and the mean token's output projected to logits."""

    def __init__(self, spatial: int, channels: int, head_channels: int, out_channels: int) -> None:
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(channels, spatial**2 + 1) / channels**0.5)
        self.qkv_proj = nn.Conv1d(channels, 3 * channels, 1)
        self.c_proj = nn.Conv1d(channels, out_channels, 1)
        self.heads = channels // head_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        x = x.reshape(b, c, -1)
        x = torch.cat([x.mean(dim=-1, keepdim=True), x], dim=-1) + self.positional_embedding[None].to(x.dtype)
        q, k, v = self.qkv_proj(x).chunk(3, dim=1)
        return self.c_proj(attend(q, k, v, self.heads))[:, :, 0]
