"""Tiny Stable Diffusion checkpoints built in code (SD 1.x and SD 2's x4 upscaler): random weights,
written in the original (CompVis) key layout the families read."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from studio.core.paths import clip_merges_path
from studio.models.sd.bpe import CLIPTokenizer
from studio.models.sd.config import X4_LATENT_SCALE, AutoencoderConfig, CLIPTextConfig, SD1Config, SDUNetConfig
from studio.models.sd.network import StableDiffusion


def tiny_sd1_config(in_channels: int = 4, attention_levels: tuple[int, ...] = (1,)) -> SD1Config:
    """Two U-Net levels (32, 64 wide; attention at the coarser one unless asked), a two-level autoencoder
    (f = 2, so 128-pixel images of 64 × 64 latents), a two-layer CLIP of width 64 with CLIP's full
    vocabulary (so the real tokenizer's ids fit)."""
    return SD1Config(
        unet=SDUNetConfig(in_channels=in_channels, model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
                          attention_levels=attention_levels, context_dim=64),
        text=CLIPTextConfig(width=64, layers=2, intermediate=128),
        vae=AutoencoderConfig(channels=32, channel_mult=(1, 2), num_res_blocks=1),
    )


def tiny_x4_config() -> SD1Config:
    """The x4 upscaler's switches at a tiny size: 7 input channels, 1000 noise-level classes, linear
    projections, level 1 without self-attention (64 wide, unlike the 128-wide context) and level 2 with it
    (as wide as the context, like the real model's level 3); a three-level autoencoder (f = 4); a
    three-layer OpenCLIP of width 128 (two heads) of which two layers run."""
    return SD1Config(
        unet=SDUNetConfig(in_channels=7, model_channels=32, channel_mult=(1, 2, 4), num_res_blocks=1,
                          attention_levels=(1, 2), context_dim=128, num_classes=1000, linear_projection=True,
                          cross_only_levels=(1,)),
        text=CLIPTextConfig(width=128, layers=3, intermediate=256, open_clip=True),
        vae=AutoencoderConfig(channels=32, channel_mult=(1, 1, 2), num_res_blocks=1),
        latent_scale=X4_LATENT_SCALE, latent_size=128,
    )


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every weight random (norm gains near 1), so any misplaced tensor changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * noise)
            else:
                p.copy_(noise * (1.0 / max(1, p[0].numel()) ** 0.5 if p.ndim > 1 else 0.05))
    return module


def tokenizer() -> CLIPTokenizer:
    return CLIPTokenizer(clip_merges_path())


def tiny_sd1(seed: int = 0, in_channels: int = 4, attention_levels: tuple[int, ...] = (1,)) -> StableDiffusion:
    return randomize(StableDiffusion(tiny_sd1_config(in_channels, attention_levels), tokenizer()), seed).eval()


def tiny_x4(seed: int = 0) -> StableDiffusion:
    return randomize(StableDiffusion(tiny_x4_config(), tokenizer()), seed).eval()


def x4_buffers() -> dict[str, torch.Tensor]:
    """Tensors the real x4 file holds beside the networks, which are recognised and not read."""
    return {"cond_stage_model.model.text_projection": torch.zeros(128, 128),
            "cond_stage_model.model.logit_scale": torch.zeros(()),
            "alphas_cumprod": torch.zeros(1000), "low_scale_model.alphas_cumprod": torch.zeros(1000)}


def write_sd1(path: Path, module: StableDiffusion, *, dtype: torch.dtype = torch.float16,
              extra: dict[str, torch.Tensor] | None = None) -> Path:
    """The module's tensors under the checkpoint's names (they are its state-dict names), plus `extra`."""
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    tensors.update(extra or {})
    save_file(tensors, str(path))
    return path
