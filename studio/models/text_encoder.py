"""A small transformer text encoder: token features for attention, and a pooled vector."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from studio.core.enums import TextPooling
from studio.models.config import TextEncoderConfig
from studio.models.tokenizer import EOS


@dataclass(frozen=True, eq=False)
class TextConditioning:
    tokens: torch.Tensor  # [B, L, width]
    mask: torch.Tensor  # [B, L] bool, True for real tokens
    pooled: torch.Tensor  # [B, width], the features at <eos>

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def cat(self, other: TextConditioning) -> TextConditioning:
        """Stack two batches (padding the shorter), e.g. [prompt; negative prompt] for CFG."""
        length = max(self.tokens.shape[1], other.tokens.shape[1])
        a, b = self._padded(length), other._padded(length)
        return TextConditioning(
            torch.cat([a.tokens, b.tokens]), torch.cat([a.mask, b.mask]), torch.cat([a.pooled, b.pooled])
        )

    def repeat(self, n: int) -> TextConditioning:
        return TextConditioning(self.tokens.repeat(n, 1, 1), self.mask.repeat(n, 1), self.pooled.repeat(n, 1))

    def to(self, dtype: torch.dtype) -> TextConditioning:
        return TextConditioning(self.tokens.to(dtype), self.mask, self.pooled.to(dtype))

    def _padded(self, length: int) -> TextConditioning:
        extra = length - self.tokens.shape[1]
        if extra == 0:
            return self
        return TextConditioning(
            F.pad(self.tokens, (0, 0, 0, extra)), F.pad(self.mask, (0, extra), value=False), self.pooled
        )


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        x = x + self.proj(attn.transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    def __init__(self, config: TextEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(len(config.vocab), config.width)
        self.position_embedding = nn.Parameter(torch.randn(config.max_length, config.width) * 0.02)
        self.blocks = nn.ModuleList(_Block(config.width, config.heads) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> TextConditioning:
        n = ids.shape[1]
        if n > self.config.max_length:
            raise ValueError(f"{n} tokens exceed the encoder's maximum of {self.config.max_length}")
        x = self.token_embedding(ids) + self.position_embedding[:n]
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        return TextConditioning(x, mask, self._pool(x, ids, mask))

    def _pool(self, x: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.config.pooling is TextPooling.MEAN:
            weights = mask.to(x.dtype)[..., None]
            return (x * weights).sum(1) / weights.sum(1).clamp(min=1)
        eos = (ids == EOS).float().argmax(dim=1)
        return x[torch.arange(ids.shape[0], device=ids.device), eos]
