"""Training batches for each role, drawn with the step's own generator."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.core.enums import Role
from studio.diffusion.cascade import augment_low_res, upsample
from studio.models.config import ModelConfig
from studio.models.families import family_of
from studio.train.recipes import TrainRecipe


@dataclass(frozen=True, eq=False)
class TrainingData:
    """The dataset on the training device: pixels in [−1, 1] at the model's resolution."""

    pixels: torch.Tensor  # float [N, 3, R, R]
    captions: tuple[str, ...]
    labels: torch.Tensor | None  # long [N], the classifier's targets


@dataclass(frozen=True, eq=False)
class Batch:
    x0: torch.Tensor
    captions: list[str] | None = None
    labels: torch.Tensor | None = None
    extra: torch.Tensor | None = None
    aug_level: torch.Tensor | None = None

    def conditioning(self, module: torch.nn.Module, config: ModelConfig) -> dict:
        """The network's keyword arguments (dropped captions are already ""), built by the family."""
        prompts = self.captions if self.captions is not None else [""] * self.x0.shape[0]
        return family_of(config).conditioning(module, config, prompts, extra=self.extra,
                                              aug_level=self.aug_level).kwargs


def make_batch(
    recipe: TrainRecipe,
    config: ModelConfig,
    data: TrainingData,
    g: torch.Generator,
    alphas_cumprod: torch.Tensor,
) -> Batch:
    n = data.pixels.shape[0]
    index = torch.randint(0, n, (recipe.batch_size,), generator=g)
    x0 = data.pixels[index.to(data.pixels.device)]
    if config.role is Role.CLASSIFIER:
        return Batch(x0=x0, labels=data.labels[index.to(data.labels.device)])
    captions = [data.captions[i] for i in index.tolist()]
    drop = torch.rand(recipe.batch_size, generator=g) < recipe.caption_dropout
    captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
    if config.role is Role.BASE:
        return Batch(x0=x0, captions=captions)
    return _sr_batch(recipe, config, x0, captions, g, alphas_cumprod)


def _sr_batch(recipe, config, x0, captions, g, alphas_cumprod) -> Batch:
    """Random crops of the high-res image, its low-res version noised to a random s_aug."""
    hi = random_resized_crop(x0, g, min_scale=0.8)
    low = F.interpolate(hi, size=(config.low_res,) * 2, mode="bicubic", antialias=True).clamp(-1, 1)
    top = max(1, int(recipe.sr_aug_max * len(alphas_cumprod)))
    aug_t = torch.randint(0, top, (hi.shape[0],), generator=g)
    noise = torch.randn(low.shape, generator=g).to(low.device)
    low_aug = augment_low_res(low, aug_t.to(low.device), alphas_cumprod.to(low.device), noise)
    extra = upsample(low_aug, config.resolution)
    return Batch(x0=hi, captions=captions, extra=extra, aug_level=aug_t.to(hi.device))


def random_resized_crop(images: torch.Tensor, g: torch.Generator, min_scale: float) -> torch.Tensor:
    """A random square crop covering min_scale..1 of each side, resized back to full size."""
    n, _, size, _ = images.shape
    out = torch.empty_like(images)
    scales = min_scale + (1 - min_scale) * torch.rand(n, generator=g)
    offsets = torch.rand(n, 2, generator=g)
    for i in range(n):
        side = max(2, int(round(float(scales[i]) * size)))
        top, left = (offsets[i] * (size - side)).round().long().tolist()
        crop = images[i : i + 1, :, top : top + side, left : left + side]
        out[i] = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return out
