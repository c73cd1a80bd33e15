"""Sample grids during training: a quick look at what the EMA weights make of fixed prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.core.enums import Role, Thresholding
from studio.diffusion.cascade import upsample
from studio.diffusion.denoiser import model_denoiser
from studio.diffusion.guidance import classifier_free_guidance
from studio.diffusion.samplers import sample_ddim
from studio.diffusion.schedule import make_schedule, respace
from studio.diffusion.thresholding import thresholded
from studio.images.files import save_png
from studio.images.sequences import tile
from studio.models.config import ModelConfig
from studio.models.families import family_of
from studio.train.batches import TrainingData

GRID = 16


@torch.inference_mode()
def sample_grid(module: torch.nn.Module, config: ModelConfig, data: TrainingData, steps: int = 25,
                guidance: float = 3.0, seed: int = 0) -> np.ndarray | None:
    """16 images, 4×4: for 16 distinct captions spread over the data (base), or from the low-res versions
    of those captions' real images (SR)."""
    if config.role is Role.CLASSIFIER:
        return None
    device = next(module.parameters()).device
    schedule = make_schedule(config.diffusion.schedule, config.diffusion.timesteps)
    chain = respace(schedule, steps)
    g = torch.Generator().manual_seed(seed)
    first = {}  # caption → index of its first image
    for i, caption in enumerate(data.captions):
        first.setdefault(caption, i)
    captions = spread(list(first), min(GRID, len(first))) or [""]
    n = len(captions)
    extra = aug = None
    if config.role is Role.SR:
        rows = torch.tensor([first[c] for c in captions], device=data.pixels.device)
        low = torch.nn.functional.interpolate(data.pixels[rows], size=(config.low_res,) * 2, mode="area")
        extra, aug = upsample(low, config.resolution), torch.zeros(n, dtype=torch.long, device=device)
    # the base is guided with the empty prompt; the SR stage, as in the engine, is not
    negative = [""] * n if config.role is Role.BASE else None
    conditioning = family_of(config).conditioning(module, config, captions, negative, extra=extra, aug_level=aug)

    def network(x, t):
        return module(x, t, **conditioning.kwargs)

    denoise = model_denoiser(network, schedule.alphas_cumprod, config.diffusion.prediction, config.diffusion.variance)
    if conditioning.paired:
        denoise = classifier_free_guidance(denoise, guidance)
    # x̂₀ clipped to the data range, as the studio samples by default: at the chain's top ᾱ is ~1e-9 and an
    # unclipped x̂₀ = (x_t − √(1−ᾱ) ε̂)/√ᾱ turns the slightest error in ε̂ into noise that DDIM never removes
    denoise = thresholded(denoise, Thresholding.STATIC)
    x = torch.randn((n, 3, config.resolution, config.resolution), generator=g).to(device)
    out = sample_ddim(denoise, x, chain).clamp(-1, 1)
    images = ((out + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return tile(images, 4)


def spread(items: list, count: int) -> list:
    """`count` items evenly spaced over `items`, first and last included (repeating when there are fewer)."""
    if not items:
        return []
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def save_sample_grid(module, config: ModelConfig, data: TrainingData, path: Path) -> Path | None:
    grid = sample_grid(module, config, data)
    return None if grid is None else save_png(path, grid)
