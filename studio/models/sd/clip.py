"""CLIP's text transformer (Radford et al. 2021), the prompt encoder of Stable Diffusion 1.x.

Module names follow the checkpoints (`text_model.embeddings.token_embedding`,
`text_model.encoder.layers.{i}.self_attn.q_proj`, `text_model.final_layer_norm`), so the weights load
under `cond_stage_model.transformer.` as they are. SD 1.x reads the last layer's states after the final
LayerNorm, every one of the 77 positions (padding included), with the causal mask CLIP was trained with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.models.sd.config import CLIPTextConfig

Linear = nn.Linear  # runs once per prompt: no packed copies of its weights (models/sd/unet.py says why)


class CLIPAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj = Linear(width, width), Linear(width, width), Linear(width, width)
        self.out_proj = Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, c // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x)),
                                             is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, c))


class CLIPMLP(nn.Module):
    def __init__(self, width: int, inner: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = Linear(width, inner), Linear(inner, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))  # "quick GELU", what CLIP was trained with


class CLIPLayer(nn.Module):
    def __init__(self, c: CLIPTextConfig) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(c.width)
        self.self_attn = CLIPAttention(c.width, c.heads)
        self.layer_norm2 = nn.LayerNorm(c.width)
        self.mlp = CLIPMLP(c.width, c.intermediate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPEmbeddings(nn.Module):
    def __init__(self, c: CLIPTextConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(c.vocab_size, c.width)
        self.position_embedding = nn.Embedding(c.context, c.width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(ids) + self.position_embedding.weight[: ids.shape[1]]


class CLIPEncoder(nn.Module):
    def __init__(self, c: CLIPTextConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CLIPLayer(c) for _ in range(c.layers))


class CLIPTextTransformer(nn.Module):
    def __init__(self, c: CLIPTextConfig) -> None:
        super().__init__()
        self.embeddings = CLIPEmbeddings(c)
        self.encoder = CLIPEncoder(c)
        self.final_layer_norm = nn.LayerNorm(c.width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embeddings(ids)
        for layer in self.encoder.layers:
            h = layer(h)
        return self.final_layer_norm(h)


class CLIPTextModel(nn.Module):
    """token ids [B, 77] → token states [B, 77, width] (SD's cross-attention context)."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        self.config = config
        self.text_model = CLIPTextTransformer(config)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text_model(ids)
