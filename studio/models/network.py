"""`DiffusionNet`: the U-Net with its text encoder and tokenizer, the module the engine calls."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from studio.models.config import ModelConfig
from studio.models.text_encoder import TextConditioning, TextEncoder
from studio.models.tokenizer import Tokenizer
from studio.models.unet import UNet


class DiffusionNet(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.unet = UNet(config.unet)
        self.text_encoder = TextEncoder(config.text) if config.text is not None else None
        self.tokenizer = Tokenizer(config.text.vocab) if config.text is not None else None

    def encode_prompts(self, prompts: Sequence[str]) -> TextConditioning | None:
        """Token features for a batch of prompts ("" is the unconditional prompt); None without text."""
        if self.text_encoder is None:
            return None
        ids, mask = self.tokenizer.encode(list(prompts), self.config.text.max_length)
        device = self.text_encoder.token_embedding.weight.device
        return self.text_encoder(ids.to(device), mask.to(device))

    def forward(self, x: torch.Tensor, t: torch.Tensor, *, text: TextConditioning | None = None,
                class_labels: torch.Tensor | None = None, extra: torch.Tensor | None = None,
                aug_level: torch.Tensor | None = None) -> torch.Tensor:
        if self.text_encoder is not None and text is None:
            raise ValueError("this model is text-conditioned: pass encode_prompts(...) (\"\" for none)")
        return self.unet(
            x, t,
            text_tokens=None if text is None else text.tokens,
            text_mask=None if text is None else text.mask,
            text_pooled=None if text is None else text.pooled,
            class_labels=class_labels, extra=extra, aug_level=aug_level,
        )
