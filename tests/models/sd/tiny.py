"""Tiny Stable Diffusion 1.x checkpoints built in code: random weights, written in the original
(CompVis) key layout the family reads."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from studio.core.paths import clip_merges_path
from studio.models.sd.bpe import CLIPTokenizer
from studio.models.sd.config import AutoencoderConfig, CLIPTextConfig, SD1Config, SDUNetConfig
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


def write_sd1(path: Path, module: StableDiffusion, *, dtype: torch.dtype = torch.float16,
              extra: dict[str, torch.Tensor] | None = None) -> Path:
    """The module's tensors under the checkpoint's names (they are its state-dict names), plus `extra`."""
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    tensors.update(extra or {})
    save_file(tensors, str(path))
    return path
