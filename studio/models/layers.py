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


class Conv2d(nn.Conv2d):
    """A convolution that, in CPU float32 inference, runs oneDNN with its weight reordered once.

    Plain `nn.Conv2d` reorders the weight into oneDNN's blocked layout on every call; at the small
    batches of interactive sampling that reorder is a real share of the time. The packed copy is
    rebuilt whenever the weight changes (its version counter moves, as with optimizer steps and
    `load_state_dict`; writes through `.data` bypass the counter) or the input shape does.
    """

    _packed: tuple | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or not _can_pack(x, self.weight):
            return super().forward(x)
        key = (self.weight._version, self.weight.data_ptr(), tuple(x.shape))
        if self._packed is None or self._packed[0] != key:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight, list(self.padding), list(self.stride), list(self.dilation), self.groups, list(x.shape)
            )
            self._packed = (key, packed)
        return torch.ops.mkldnn._convolution_pointwise(
            x, self._packed[1], self.bias, list(self.padding), list(self.stride), list(self.dilation),
            self.groups, "none", [], "",
        )


def _can_pack(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
        and torch.backends.mkldnn.is_available() and x.is_contiguous(memory_format=torch.channels_last)
    )


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-5)


def zero(module: nn.Module) -> nn.Module:
    """Zero-initialise a layer, so a residual branch starts as the identity (as ADM does)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, then scale-shift from the embedding, GroupNorm → SiLU → conv."""

    def __init__(self, channels: int, out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.out_channels = out
        self.norm1 = norm(channels)
        self.conv1 = Conv2d(channels, out, 3, padding=1)
        self.norm2 = norm(out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero(Conv2d(out, out, 3, padding=1))
        self.skip = nn.Identity() if channels == out else Conv2d(channels, out, 1)

    def forward(self, x: torch.Tensor, scale_shift: torch.Tensor) -> torch.Tensor:
        """`scale_shift` [B, 2·out] is this block's slice of `EmbeddingProjection`'s output."""
        # in-place activations when no gradient is kept: fewer large allocations (page faults on CPU)
        inplace = not torch.is_grad_enabled()
        h = self.conv1(F.silu(self.norm1(x), inplace=inplace))
        scale, shift = scale_shift[:, :, None, None].chunk(2, dim=1)
        h = torch.addcmul(shift, self.norm2(h), scale + 1)
        h = self.conv2(self.dropout(F.silu(h, inplace=inplace)))
        return h.add_(self.skip(x)) if inplace else h + self.skip(x)


class EmbeddingProjection(nn.Module):
    """SiLU → Linear from the embedding to every residual block's scale and shift, as one matrix
    product: ADM gives each block its own small Linear, which at small batches costs a GEMM call
    per block for no extra arithmetic."""

    def __init__(self, emb_dim: int, blocks: list[ResBlock]) -> None:
        super().__init__()
        self.sizes = [2 * b.out_channels for b in blocks]
        self.linear = nn.Linear(emb_dim, sum(self.sizes))

    def forward(self, emb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.linear(F.silu(emb)).split(self.sizes, dim=1)


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
        self.conv = Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One step of either U-Net path: a residual block, optionally attention, optionally a resample."""

    def __init__(self, res: ResBlock | None, attn: Attention | None = None, resample: nn.Module | None = None):
        super().__init__()
        self.res, self.attn, self.resample = res, attn, resample

    def forward(self, x, scale_shift, text=None, mask=None):
        if self.res is not None:
            x = self.res(x, scale_shift)
        if self.attn is not None:
            x = self.attn(x, text, mask)
        if self.resample is not None:
            x = self.resample(x)
        return x
