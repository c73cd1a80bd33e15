"""The noise-aware classifier: the U-Net's encoder half with a pooled head (Dhariwal & Nichol 2021).

Trained on x_t at every t, so its gradient ∇ log p(y | x_t) can guide sampling; at t = 0 it is an
ordinary classifier whose penultimate features serve the Fréchet distance of `studio eval`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.models.config import ClassifierConfig
from studio.models.layers import Conv2d, EmbeddingProjection, norm, timestep_embedding
from studio.models.unet import build_encoder, build_middle, res_blocks


class NoisyClassifier(nn.Module):
    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c = config.encoder()
        mc, emb_dim = c.model_channels, 4 * c.model_channels
        self.time_mlp = nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.input_conv = Conv2d(c.in_channels, mc, 3, padding=1)
        self.down, _, ch = build_encoder(c)
        self.middle = build_middle(c, ch)
        self.emb_proj = EmbeddingProjection(emb_dim, res_blocks(self.down, self.middle))
        self.out_norm = norm(ch)
        self.head = nn.Linear(ch, config.num_classes)

    def features(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Penultimate features [B, C]: the mean over pixels of the last feature map."""
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        emb = self.time_mlp(timestep_embedding(t, self.config.model_channels).to(self.input_conv.weight.dtype))
        modulation = iter(self.emb_proj(emb))
        h = self.input_conv(x)
        for level in (*self.down, *self.middle):
            h = level(h, next(modulation) if level.res is not None else None)
        return F.silu(self.out_norm(h)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, t))
