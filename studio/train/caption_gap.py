"""How much a text-conditioned base listens to its prompt: the error of its x̂₀ with the image's own
caption, with the empty prompt and with another image's caption, at a few noise levels.

A base that has learnt its captions predicts the clean image of a noisy one better with the right caption,
most where the noise has erased the picture (large t). Where the three errors agree, the prompt does not
yet reach the picture — which shows during training, long before samples can be judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from studio.core.enums import Role
from studio.diffusion.denoiser import abar_at, model_denoiser
from studio.diffusion.forward_process import q_sample
from studio.diffusion.schedule import make_schedule
from studio.models.cascade import resolve_model_path
from studio.models.families import family_of
from studio.models.files import LoadedModel, load_model
from studio.train.datasets import ImageDataset
from studio.train.model_setup import model_pixels

LEVELS = (300, 600, 900)  # the timesteps `studio eval` reports
COUNT = 256  # real images per level


@dataclass(frozen=True)
class CaptionGap:
    t: int
    own: float  # mean squared error of x̂₀ (clipped to [−1, 1]) with the image's own caption
    empty: float  # with the empty prompt
    other: float  # with the caption of another image of the sample

    def line(self) -> str:
        return (f"caption gap at t = {self.t}: x̂₀ error {self.own:.4f} with its caption, {self.empty:.4f} "
                f"with none, {self.other:.4f} with another's")


def caption_gaps(base: str | Path, data: ImageDataset, *, timesteps: tuple[int, ...] = LEVELS,
                 count: int = COUNT, seed: int = 0) -> tuple[CaptionGap, ...]:
    """The three errors at each t, over `count` images drawn with `seed` (the same images, noise and
    pairing of captions for every model, so two models' figures compare)."""
    model = load_model(base)
    if model.config.role is not Role.BASE or model.config.text is None:
        raise ValueError(f"{base}: the caption gap needs a text-conditioned base model")
    return _gaps(model, data, timesteps, count, seed)


def base_caption_gaps(path: str | Path, data: ImageDataset, *, seed: int = 0) -> tuple[CaptionGap, ...]:
    """The gaps of a model file's or a cascade's base; none when it has no text-conditioned base."""
    base = resolve_model_path(path).base
    model = load_model(base) if base is not None else None
    if model is None or model.config.text is None:
        return ()
    return _gaps(model, data, LEVELS, COUNT, seed)


@torch.no_grad()
def _gaps(model: LoadedModel, data: ImageDataset, timesteps: tuple[int, ...], count: int,
          seed: int) -> tuple[CaptionGap, ...]:
    config, module = model.config, model.module
    g = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(data.captions), generator=g)[:count]
    x0 = model_pixels(data.images[index.numpy()], config.resolution)
    own = [data.captions[i] for i in index.tolist()]
    prompts = {"own": own, "empty": [""] * len(own), "other": own[1:] + own[:1]}
    diffusion = config.diffusion
    alphas_cumprod = make_schedule(diffusion.schedule, diffusion.timesteps).alphas_cumprod
    family = family_of(config)
    gaps = []
    for t in timesteps:
        steps = torch.full((len(own),), t)
        x_t = q_sample(x0, abar_at(alphas_cumprod, steps, x0), torch.randn(x0.shape, generator=g))
        errors = {}
        for name, captions in prompts.items():
            kwargs = family.conditioning(module, config, captions).kwargs
            denoise = model_denoiser(lambda x, t, kw=kwargs: module(x, t, **kw), alphas_cumprod,
                                     diffusion.prediction, diffusion.variance)
            errors[name] = float(((denoise(x_t, steps).x0.clamp(-1, 1) - x0) ** 2).mean())
        gaps.append(CaptionGap(t, **errors))
    return tuple(gaps)
