"""OpenCLIP's text transformer (Cherti et al. 2023, ViT-H/14 trained on LAION-2B), the prompt encoder of
Stable Diffusion 2.x and its x4 upscaler.

The same transformer as CLIP's (models/sd/clip.py) in OpenCLIP's own module tree, so that the weights load
under `cond_stage_model.model.` as the checkpoint stores them: `token_embedding`, `positional_embedding`
(a bare parameter), `transformer.resblocks.{i}` with the fused `attn.in_proj_weight` of
`nn.MultiheadAttention`, `mlp.c_fc` / `mlp.c_proj`, `ln_final`. SD 2.x reads the penultimate layer's
states (FrozenOpenCLIPEmbedder's layer="penultimate") through the final LayerNorm: the last block is in
the file but never runs. `text_projection` and `logit_scale` belong to CLIP's contrastive head and are
not read.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.models.sd.config import CLIPTextConfig

Linear = nn.Linear  # runs once per prompt: no packed copies of its weights (models/sd/unet.py says why)


class FusedAttention(nn.Module):
    """Causal multi-head self-attention with q, k, v in one [3·W, W] projection."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(b, n, 3, self.heads, c // self.heads) \
            .permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, c))


class MLP(nn.Module):
    def __init__(self, width: int, inner: int) -> None:
        super().__init__()
        self.c_fc, self.c_proj = Linear(width, inner), Linear(inner, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))  # the exact GELU (CLIP's own is the sigmoid approximation)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, c: CLIPTextConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.width)
        self.attn = FusedAttention(c.width, c.heads)
        self.ln_2 = nn.LayerNorm(c.width)
        self.mlp = MLP(c.width, c.intermediate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _Blocks(nn.Module):
    def __init__(self, c: CLIPTextConfig) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(c) for _ in range(c.layers))


class OpenCLIPTextModel(nn.Module):
    """token ids [B, 77] → the penultimate layer's token states after ln_final [B, 77, width]."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.width)
        self.positional_embedding = nn.Parameter(torch.empty(config.context, config.width))
        self.transformer = _Blocks(config)
        self.ln_final = nn.LayerNorm(config.width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.token_embedding(ids) + self.positional_embedding[: ids.shape[1]]
        for block in self.transformer.resblocks[:-1]:
            h = block(h)
        return self.ln_final(h)
