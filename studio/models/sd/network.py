"""`StableDiffusion`: the U-Net, the autoencoder and the text encoder of one SD 1.x checkpoint.

The attribute tree is the checkpoint's (`model.diffusion_model`, `first_stage_model`,
`cond_stage_model.transformer`), so `state_dict()` names are the file's names; models/sd/keys.py
says which file tensors are read and checks their shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from studio.models.sd.autoencoder import AutoencoderKL
from studio.models.sd.bpe import CLIPTokenizer
from studio.models.sd.clip import CLIPTextModel
from studio.models.sd.config import SD1Config
from studio.models.sd.unet import SDUNet


class _Holder(nn.Module):
    """A named level of the checkpoint's tree with no computation of its own."""


class StableDiffusion(nn.Module):
    def __init__(self, config: SD1Config, tokenizer: CLIPTokenizer | None = None) -> None:
        super().__init__()
        self.config = config
        self.model = _Holder()
        self.model.diffusion_model = SDUNet(config.unet)
        self.first_stage_model = AutoencoderKL(config.vae)
        self.cond_stage_model = _Holder()
        self.cond_stage_model.transformer = CLIPTextModel(config.text)
        self.tokenizer = tokenizer

    @property
    def unet(self) -> SDUNet:
        return self.model.diffusion_model

    @property
    def vae(self) -> AutoencoderKL:
        return self.first_stage_model

    @property
    def text_encoder(self) -> CLIPTextModel:
        return self.cond_stage_model.transformer

    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """Token states [B, 77, width] of the prompts ("" is the unconditional prompt)."""
        if self.tokenizer is None:
            raise ValueError("this Stable Diffusion module was built without its tokenizer")
        device = self.text_encoder.text_model.embeddings.token_embedding.weight.device
        return self.text_encoder(self.tokenizer.encode(list(prompts)).to(device))

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [−1, 1] → scaled latents (unit-variance space the U-Net works in)."""
        return self.vae.encode(images.to(self._dtype())).float() * self.config.latent_scale

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents → images in (about) [−1, 1]."""
        return self.vae.decode((latents / self.config.latent_scale).to(self._dtype())).float()

    def forward(self, x: torch.Tensor, t: torch.Tensor, *, context: torch.Tensor,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        """ε̂ for latents x_t; `extra` ([mask, masked-image latents]) joins x_t's channels for inpainting."""
        if extra is not None:
            x = torch.cat([x, extra.to(x.dtype)], dim=1)
        return self.unet(x, t, context.to(x.dtype))

    def _dtype(self) -> torch.dtype:
        return self.vae.post_quant_conv.weight.dtype
