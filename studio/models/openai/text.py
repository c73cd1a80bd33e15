"""GLIDE's text transformer (Nichol et al. 2021): token states for every attention block of the U-Net
and one pooled vector for the timestep embedding.

What the reference does, and this module with it: padded positions take a learned padding embedding
(instead of the token and position sum); the transformer is not causal and masks nothing; the state
at the *last* position — a padding position for any prompt shorter than the context — is projected and
added to the time embedding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.models.config import GlideTextConfig
from studio.models.openai.bpe import BPETokenizer


class LayerNorm32(nn.LayerNorm):
    """LayerNorm in float32 whatever the module's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(),
                            self.eps).to(x.dtype)


class _SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_qkv = nn.Linear(width, width * 3)  # [Q | K | V] (re-ordered from per-head on import)
        self.c_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape
        q, k, v = (p.reshape(b, n, self.heads, -1).transpose(1, 2) for p in self.c_qkv(x).chunk(3, dim=-1))
        return self.c_proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, w))


class _MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, width * 4)
        self.c_proj = nn.Linear(width * 4, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = _SelfAttention(width, heads)
        self.ln_1 = LayerNorm32(width)
        self.mlp = _MLP(width)
        self.ln_2 = LayerNorm32(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(_Block(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x)
        return x


class GlideText(nn.Module):
    def __init__(self, config: GlideTextConfig, emb_channels: int) -> None:
        super().__init__()
        w = config.width
        self.config = config
        self.transformer = _Transformer(w, config.layers, config.heads)
        self.final_ln = LayerNorm32(w) if config.final_ln else None
        self.token_embedding = nn.Embedding(config.vocab_size, w)
        self.positional_embedding = nn.Parameter(torch.zeros(config.text_ctx, w))
        self.padding_embedding = nn.Parameter(torch.zeros(config.text_ctx, w)) if config.padding else None
        self.transformer_proj = nn.Linear(w, emb_channels)
        self.tokenizer = BPETokenizer(config.merges) if config.merges else None

    def encode_prompts(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and mask [B, text_ctx] of prompts ("" is GLIDE's unconditional input: all padding)."""
        if self.tokenizer is None:
            raise ValueError("this model file holds no tokenizer merges; re-import it")
        rows = [self.tokenizer.padded(self.tokenizer.encode(p), self.config.text_ctx) for p in prompts]
        device = self.token_embedding.weight.device
        tokens = torch.tensor([r[0] for r in rows], dtype=torch.long, device=device)
        return tokens, torch.tensor([r[1] for r in rows], dtype=torch.bool, device=device)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled [B, emb], token states [B, width, text_ctx]) for token ids and mask (True = a token)."""
        x = self.token_embedding(tokens.long()) + self.positional_embedding[None]
        if self.padding_embedding is not None:
            if mask is None:
                raise ValueError("GLIDE's text transformer needs the token mask")
            x = torch.where(mask.bool()[..., None], x, self.padding_embedding[None])
        x = self.transformer(x.to(self.transformer_proj.weight.dtype))
        if self.final_ln is not None:
            x = self.final_ln(x)
        return self.transformer_proj(x[:, -1]), x.transpose(1, 2)
