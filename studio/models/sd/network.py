"""`StableDiffusion`: the U-Net, the autoencoder and the text encoder of one SD checkpoint (SD 1.x, or
SD 2's x4 upscaler).

The attribute tree is the checkpoint's (`model.diffusion_model`, `first_stage_model`, and
`cond_stage_model.transformer` for CLIP or `cond_stage_model.model` for OpenCLIP), so `state_dict()`
names are the file's names; models/sd/keys.py says which file tensors are read and checks their shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from studio.models.sd.autoencoder import AutoencoderKL
from studio.models.sd.bpe import CLIPTokenizer
from studio.models.sd.clip import CLIPTextModel
from studio.models.sd.config import SD1Config
from studio.models.sd.open_clip import OpenCLIPTextModel
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
        if config.text.open_clip:
            self.cond_stage_model.model = OpenCLIPTextModel(config.text)
        else:
            self.cond_stage_model.transformer = CLIPTextModel(config.text)
        self.tokenizer = tokenizer
        self._preview_map: tuple[torch.Tensor, torch.Tensor] | None = None  # fitted on first use

    @property
    def unet(self) -> SDUNet:
        return self.model.diffusion_model

    @property
    def vae(self) -> AutoencoderKL:
        return self.first_stage_model

    @property
    def text_encoder(self) -> CLIPTextModel | OpenCLIPTextModel:
        return self.cond_stage_model.model if self.config.text.open_clip else self.cond_stage_model.transformer

    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """Token states [B, 77, width] of the prompts ("" is the unconditional prompt)."""
        if self.tokenizer is None:
            raise ValueError("this Stable Diffusion module was built without its tokenizer")
        device = self.vae.post_quant_conv.weight.device
        ids = self.tokenizer.encode(list(prompts), pad=self.config.text.pad_token)
        return self.text_encoder(ids.to(device))

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [−1, 1] → scaled latents (unit-variance space the U-Net works in)."""
        return self.vae.encode(images.to(self._dtype())).float() * self.config.latent_scale

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents → images in (about) [−1, 1]."""
        return self.vae.decode((latents / self.config.latent_scale).to(self._dtype())).float()

    def preview_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """A cheap approximation of the decoded image at latent size: an affine map of each latent pixel
        to RGB, a per-pixel matrix product instead of the decoder."""
        weight, bias = self.preview_map()
        return torch.einsum("bchw,cr->brhw", latents.float(), weight.to(latents.device)) \
            + bias.to(latents.device)[None, :, None, None]

    def preview_map(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The affine latent → RGB map that fits this model's own encoder best (least squares) on flat
        colours and two-colour gradients: what a region of that colour encodes to, read backwards."""
        if self._preview_map is None:
            self._preview_map = self._fit_preview_map()
        return self._preview_map

    @torch.inference_mode()
    def _fit_preview_map(self) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        size = 8 * self.config.vae.factor
        a, b = torch.rand(24, 3, 1, 1, generator=g) * 2 - 1, torch.rand(24, 3, 1, 1, generator=g) * 2 - 1
        ramp = torch.linspace(0, 1, size).view(1, 1, 1, size)
        images = a + (b - a) * ramp * (torch.arange(24) % 2).view(-1, 1, 1, 1)  # flat colours and gradients
        device = self.vae.post_quant_conv.weight.device
        latents = self.encode_images(images.expand(-1, -1, size, -1).to(device)).cpu()
        colours = F.avg_pool2d(images.expand(-1, -1, size, -1), self.config.vae.factor)
        z = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
        rgb = colours.permute(0, 2, 3, 1).reshape(-1, 3)
        solution = torch.linalg.lstsq(torch.cat([z, torch.ones(len(z), 1)], dim=1).double(), rgb.double()).solution
        return solution[:-1].float(), solution[-1].float()

    def forward(self, x: torch.Tensor, t: torch.Tensor, *, context: torch.Tensor,
                extra: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The U-Net's output for latents x_t; `extra` joins x_t's channels ([mask, masked-image latents]
        for inpainting, the low-res image for the x4 upscaler); `labels` are the x4's noise levels."""
        if extra is not None:
            x = torch.cat([x, extra.to(x.dtype)], dim=1)
        return self.unet(x, t, context.to(x.dtype), labels)

    def _dtype(self) -> torch.dtype:
        return self.vae.post_quant_conv.weight.dtype
