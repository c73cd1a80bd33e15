"""How much a text-conditioned base listens to its prompt: the error of its x̂₀ with the image's own
caption, with the empty prompt and with another image's caption, at a few noise levels.

A base that has learnt its captions predicts the clean image of a noisy one better with the right caption,
most where the noise has erased the picture (large t). Where the three errors agree, the prompt does not
yet reach the picture — which shows during training, long before samples can be judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.enums import PredictionType, Role
from studio.diffusion.forward_process import q_sample
from studio.diffusion.parameterization import x0_from_eps, x0_from_v
from studio.diffusion.schedule import make_schedule
from studio.models.cascade import resolve_model_path
from studio.models.families import family_of
from studio.models.files import load_model, read_model_info
from studio.train.datasets import ImageDataset


@dataclass(frozen=True)
class CaptionGap:
    t: int
    own: float  # mean squared error of x̂₀ (clipped to [−1, 1]) with the image's own caption
    empty: float  # with the empty prompt
    other: float  # with the caption of another image of the sample

    def line(self) -> str:
        return (f"caption gap at t = {self.t}: x̂₀ error {self.own:.4f} with its caption, {self.empty:.4f} "
                f"with none, {self.other:.4f} with another's")


@torch.no_grad()
def caption_gaps(base: str | Path, data: ImageDataset, *, timesteps: tuple[int, ...] = (300, 600, 900),
                 count: int = 256, seed: int = 0) -> tuple[CaptionGap, ...]:
    """The three errors at each t, over `count` images drawn with `seed` (the same images, noise and
    pairing of captions for every model, so two models' figures compare)."""
    model = load_model(base)
    config, module = model.config, model.module
    if config.role is not Role.BASE or config.text is None:
        raise ValueError(f"{base}: the caption gap needs a text-conditioned base model")
    g = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(data.captions), generator=g)[:count]
    pixels = torch.from_numpy(np.ascontiguousarray(data.images[index.numpy()])).permute(0, 3, 1, 2).float()
    x0 = F.interpolate(pixels / 127.5 - 1, size=(config.resolution,) * 2, mode="bicubic",
                       antialias=True).clamp(-1, 1)
    own = [data.captions[i] for i in index.tolist()]
    prompts = {"own": own, "empty": [""] * len(own), "other": own[1:] + own[:1]}
    alphas_cumprod = make_schedule(config.diffusion.schedule, config.diffusion.timesteps).alphas_cumprod.float()
    family = family_of(config)
    gaps = []
    for t in timesteps:
        abar = alphas_cumprod[t].expand(len(own)).view(-1, 1, 1, 1)
        x_t = q_sample(x0, abar, torch.randn(x0.shape, generator=g))
        steps = torch.full((len(own),), t)
        errors = {}
        for name, captions in prompts.items():
            out = module(x_t, steps, **family.conditioning(module, config, captions).kwargs).float()
            errors[name] = float(((_x0(config.diffusion.prediction, x_t, out, abar).clamp(-1, 1) - x0) ** 2).mean())
        gaps.append(CaptionGap(t, **errors))
    return tuple(gaps)


def base_caption_gaps(path: str | Path, data: ImageDataset, *, seed: int = 0) -> tuple[CaptionGap, ...]:
    """The gaps of a model file's or a cascade's base; none when it has no text-conditioned base."""
    base = resolve_model_path(path).base
    if base is None or read_model_info(base).config.text is None:
        return ()
    return caption_gaps(base, data, seed=seed)


def _x0(prediction: PredictionType, x_t: torch.Tensor, out: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    if prediction is PredictionType.EPSILON:
        return x0_from_eps(x_t, out, abar)
    if prediction is PredictionType.V:
        return x0_from_v(x_t, out, abar)
    return out
