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
class StepRandom:
    """Step n's random draws, seeded by (recipe seed, n), so a resumed run repeats them exactly.

    What the host must know (which images, which captions are dropped) comes from a CPU generator; the
    large tensors (timesteps, noise, crops) from one on the training device, so a GPU step never waits for
    noise made on the host. On the CPU both are the same generator.
    """

    key: int  # the step's seed: (recipe seed, n) folded into one number
    host: torch.Generator
    device: torch.Generator

    @classmethod
    def for_step(cls, seed: int, step: int, device: torch.device) -> StepRandom:
        key = seed * 1_000_003 + step
        host = torch.Generator().manual_seed(key)
        if device.type == "cpu":
            return cls(key, host, host)
        return cls(key, host, torch.Generator(device=device).manual_seed(key))

    def randn(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self.device, device=self.device.device)

    def rand(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(shape, generator=self.device, device=self.device.device)

    def randint(self, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(0, high, shape, generator=self.device, device=self.device.device)


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
    r: StepRandom,
    alphas_cumprod: torch.Tensor,
) -> Batch:
    n = data.pixels.shape[0]
    index = torch.randint(0, n, (recipe.batch_size,), generator=r.host)
    x0 = data.pixels[index.to(data.pixels.device)]
    if config.role is Role.CLASSIFIER:
        return Batch(x0=x0, labels=data.labels[index.to(data.labels.device)])
    captions = [data.captions[i] for i in index.tolist()]
    drop = torch.rand(recipe.batch_size, generator=r.host) < recipe.caption_dropout
    captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
    if config.role is Role.BASE:
        return Batch(x0=x0, captions=captions)
    return _sr_batch(recipe, config, x0, captions, r, alphas_cumprod)


def _sr_batch(recipe, config, x0, captions, r: StepRandom, alphas_cumprod) -> Batch:
    """Random crops of the high-res image, its low-res version noised to a random s_aug."""
    hi = random_resized_crop(x0, r, min_scale=0.8)
    low = F.interpolate(hi, size=(config.low_res,) * 2, mode="bicubic", antialias=True).clamp(-1, 1)
    top = max(1, int(recipe.sr_aug_max * len(alphas_cumprod)))
    aug_t = r.randint(top, (hi.shape[0],)).to(low.device)
    noise = r.randn(tuple(low.shape)).to(low.device)
    low_aug = augment_low_res(low, aug_t, alphas_cumprod.to(low.device), noise)
    extra = upsample(low_aug, config.resolution)
    if 0 < recipe.sr_crop < config.resolution:
        hi, extra = paired_crop(hi, extra, recipe.sr_crop, r)
    return Batch(x0=hi, captions=captions, extra=extra, aug_level=aug_t)


def paired_crop(a: torch.Tensor, b: torch.Tensor, side: int, r: StepRandom) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random side×side window of each image of `a` and of `b` (one window per image), gathered
    in one indexing op rather than a slice per image."""
    n, _, h, w = a.shape
    top = (r.rand((n,)) * (h - side + 1)).long().clamp(max=h - side).to(a.device)
    left = (r.rand((n,)) * (w - side + 1)).long().clamp(max=w - side).to(a.device)
    offsets = torch.arange(side, device=a.device)
    rows = (top[:, None] + offsets)[:, :, None]  # [n, side, 1]
    cols = (left[:, None] + offsets)[:, None, :]  # [n, 1, side]
    batch = torch.arange(n, device=a.device)[:, None, None]
    # indices split by the channel slice put their broadcast shape first: [n, side, side, C]
    return a[batch, :, rows, cols].permute(0, 3, 1, 2), b[batch, :, rows, cols].permute(0, 3, 1, 2)


def random_resized_crop(images: torch.Tensor, r: StepRandom, min_scale: float) -> torch.Tensor:
    """A random square crop covering min_scale..1 of each side, resized back to full size (bilinear).

    One batched resampling rather than a resize per image: on a GPU a per-image loop costs a launch
    each, which for 128 px batches was most of the SR step.
    """
    n = images.shape[0]
    scale = (min_scale + (1 - min_scale) * r.rand((n,))).to(images.device)
    corner = r.rand((n, 2)).to(images.device) * (1 - scale)[:, None]  # the crop's top-left, in image sides
    theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    # normalised coordinates run from −1 to 1: the crop's centre is at −1 + 2·(corner + scale/2)
    theta[:, 0, 2] = 2 * corner[:, 1] + scale - 1
    theta[:, 1, 2] = 2 * corner[:, 0] + scale - 1
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
