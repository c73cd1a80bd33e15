"""Stable Diffusion's U-Net (Rombach et al. 2022, "High-Resolution Image Synthesis with Latent
Diffusion Models"): residual blocks, and spatial transformers with self-attention, cross-attention to
the prompt's token states and a GEGLU feed-forward. SD 2's x4 upscaler is the same network with linear
projections in its transformers, a class embedding of its noise level, and no self-attention at its
larger levels (SDUNetConfig's switches).

Module names follow the original (CompVis) layout, so `state_dict()` keys are the checkpoint's keys
after `model.diffusion_model.` — `input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight` and so on.
Feature maps are channels-last; convolutions use the oneDNN-packed layer of models/layers.py, and
nearest-×2-then-conv runs as its folded phase convolution (same weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.models.layers import Conv2d, Upsample, timestep_embedding
from studio.models.sd.config import SDUNetConfig

# Plain linear layers: the oneDNN-packed `Linear` of models/layers.py keeps a second, reordered copy of
# each weight, which at SD 1.5's size is 1.2 GB more resident memory for about 5 % of a step. The packed
# convolutions stay (2 GB more, 15 % faster): together the 512 × 512 run stays under 8 GB (README).
Linear = nn.Linear


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the input dtype (as the original does for fp16)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(x.dtype) if x.dtype != torch.float32 else super().forward(x)


def _norm(channels: int, eps: float = 1e-5) -> GroupNorm32:
    return GroupNorm32(32, channels, eps=eps)


class ResBlock(nn.Module):
    """in_layers (GN, SiLU, conv) + emb_layers (SiLU, Linear) added per channel + out_layers (GN, SiLU,
    dropout, conv), plus the skip (1×1 conv where the width changes)."""

    def __init__(self, channels: int, out: int, emb_dim: int) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(_norm(channels), nn.SiLU(), Conv2d(channels, out, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), Linear(emb_dim, out))
        self.out_layers = nn.Sequential(_norm(out), nn.SiLU(), nn.Dropout(0.0), Conv2d(out, out, 3, padding=1))
        self.skip_connection = nn.Identity() if channels == out else Conv2d(channels, out, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            h = self.in_layers(x) + self.emb_layers(emb)[:, :, None, None]
            return self.skip_connection(x) + self.out_layers(h)
        # inference: the same layers with in-place activations and sums — fewer full-size allocations
        norm1, _, conv1 = self.in_layers
        norm2, _, _, conv2 = self.out_layers
        h = conv1(F.silu(norm1(x), inplace=True)).add_(self.emb_layers(emb)[:, :, None, None])
        return conv2(F.silu(norm2(h), inplace=True)).add_(self.skip_connection(x))


class CrossAttention(nn.Module):
    """Multi-head attention; keys and values from `context` (the prompt) or, without it, from x."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        context_dim = context_dim or dim
        self.to_q = Linear(dim, dim, bias=False)
        self.to_k = Linear(context_dim, dim, bias=False)
        self.to_v = Linear(context_dim, dim, bias=False)
        self.to_out = nn.Sequential(Linear(dim, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        b, n, c = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, -1, self.heads, c // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(self.to_q(x)), heads(self.to_k(context)), heads(self.to_v(context)))
        return self.to_out(out.transpose(1, 2).reshape(b, n, c))


class GEGLU(nn.Module):
    """GELU-gated linear unit (Shazeer 2020): one projection to twice the width, x · GELU(gate)."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = Linear(dim, 2 * inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = self.proj(x).chunk(2, dim=-1)
        return F.gelu(gate).mul_(x) if not torch.is_grad_enabled() else x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, 4 * dim), nn.Dropout(0.0), Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    """Pre-LayerNorm self-attention, cross-attention to the prompt, GEGLU feed-forward; each residual.

    `cross_only`: the first attention reads the prompt too instead of the pixels (the x4 upscaler's
    `disable_self_attn` levels, where self-attention over a large latent would cost too much)."""

    def __init__(self, dim: int, heads: int, context_dim: int, cross_only: bool = False) -> None:
        super().__init__()
        self.cross_only = cross_only
        self.attn1 = CrossAttention(dim, heads, context_dim if cross_only else None)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, heads, context_dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        first = context if self.cross_only else None
        if torch.is_grad_enabled():
            x = x + self.attn1(self.norm1(x), first)
            x = x + self.attn2(self.norm2(x), context)
            return x + self.ff(self.norm3(x))
        x = x.add_(self.attn1(self.norm1(x), first))  # x is this block's own tensor (proj_in's output)
        x = x.add_(self.attn2(self.norm2(x), context))
        return x.add_(self.ff(self.norm3(x)))


class SpatialTransformer(nn.Module):
    """GroupNorm, projection in (1×1 conv, or linear on the tokens), transformer over the H·W positions,
    projection out, residual."""

    def __init__(self, channels: int, heads: int, context_dim: int, *, linear: bool = False,
                 cross_only: bool = False) -> None:
        super().__init__()
        self.linear = linear
        self.norm = _norm(channels, eps=1e-6)
        self.proj_in = Linear(channels, channels) if linear else Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, heads, context_dim, cross_only)])
        self.proj_out = Linear(channels, channels) if linear else Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        # channels-last memory: [B, C, H, W] → [B, H·W, C] is a view, not a copy
        if self.linear:
            tokens = self.proj_in(self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c))
        else:
            tokens = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        for block in self.transformer_blocks:
            tokens = block(tokens, context)
        if self.linear:
            out = self.proj_out(tokens).view(b, h, w, c).permute(0, 3, 1, 2)
        else:
            out = self.proj_out(tokens.view(b, h, w, c).permute(0, 3, 1, 2))
        return out.add_(x) if not torch.is_grad_enabled() else out + x


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class TimestepSequential(nn.Sequential):
    """One entry of input_blocks / output_blocks: each layer gets what it needs (emb or the prompt)."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context)
            else:
                x = layer(x)
        return x


class SDUNet(nn.Module):
    def __init__(self, config: SDUNetConfig) -> None:
        super().__init__()
        self.config = c = config
        emb = c.time_embed_dim
        self.time_embed = nn.Sequential(Linear(c.model_channels, emb), nn.SiLU(), Linear(emb, emb))
        if c.num_classes:
            self.label_emb = nn.Embedding(c.num_classes, emb)

        def transformer(ch: int, level: int | None) -> SpatialTransformer:
            return SpatialTransformer(ch, c.num_heads, c.context_dim, linear=c.linear_projection,
                                      cross_only=level in c.cross_only_levels)

        def block(ch_in: int, ch_out: int, level: int) -> list[nn.Module]:
            layers: list[nn.Module] = [ResBlock(ch_in, ch_out, emb)]
            if level in c.attention_levels:
                layers.append(transformer(ch_out, level))
            return layers

        ch = c.model_channels
        self.input_blocks = nn.ModuleList([TimestepSequential(Conv2d(c.in_channels, ch, 3, padding=1))])
        skips = [ch]
        for level, mult in enumerate(c.channel_mult):
            for _ in range(c.num_res_blocks):
                self.input_blocks.append(TimestepSequential(*block(ch, c.model_channels * mult, level)))
                ch = c.model_channels * mult
                skips.append(ch)
            if level != len(c.channel_mult) - 1:
                self.input_blocks.append(TimestepSequential(Downsample(ch)))
                skips.append(ch)
        self.middle_block = TimestepSequential(ResBlock(ch, ch, emb), transformer(ch, None), ResBlock(ch, ch, emb))
        self.output_blocks = nn.ModuleList()
        for level in reversed(range(len(c.channel_mult))):
            for i in range(c.num_res_blocks + 1):
                layers = block(ch + skips.pop(), c.model_channels * c.channel_mult[level], level)
                ch = c.model_channels * c.channel_mult[level]
                if level and i == c.num_res_blocks:
                    layers.append(Upsample(ch))
                self.output_blocks.append(TimestepSequential(*layers))
        self.out = nn.Sequential(_norm(ch), nn.SiLU(), Conv2d(ch, c.out_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                y: torch.Tensor | None = None) -> torch.Tensor:
        """The raw output for latents x [B, C, h, w] at timesteps t [B] (0 … 999), prompt states `context`
        [B, 77, D] and, for a model with classes, their labels y [B]."""
        emb = self.time_embed(timestep_embedding(t, self.config.model_channels).to(x.dtype))
        if self.config.num_classes:
            if y is None:
                raise ValueError("this U-Net is class-conditional: it needs labels y")
            emb = emb + self.label_emb(y)
        h = x.contiguous(memory_format=torch.channels_last)
        hs = []
        for module in self.input_blocks:
            h = module(h, emb, context)
            hs.append(h)
        h = self.middle_block(h, emb, context)
        for module in self.output_blocks:
            h = module(torch.cat([h, hs.pop()], dim=1), emb, context)
        return self.out(h)
