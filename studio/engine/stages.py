"""How each job kind enters the base and SR stages: its starting x, chain position and denoiser."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from studio.core.enums import Role
from studio.core.jobs import Inpaint, Job, StrokesToImage, Upscale
from studio.core.settings import Settings, Stage
from studio.diffusion.cascade import aug_timestep, augment_low_res, upsample
from studio.diffusion.denoiser import Denoiser
from studio.diffusion.forward_process import initial_noise, randn_like
from studio.diffusion.inpaint import mask_channels, repaint_positions, replace_known
from studio.diffusion.schedule import Schedule
from studio.diffusion.sdedit import sdedit_start, sdedit_steps
from studio.engine.conditioning import (
    conditioned_denoiser,
    thresholded_outside,
    training_schedule,
    with_classifier_guidance,
)
from studio.models.files import LoadedModel


@dataclass(frozen=True, eq=False)
class Start:
    """Where a stage's sampler begins: x at chain position `position` (−1: nothing to sample)."""

    x: torch.Tensor
    position: int


def base_positions(job: Job, steps: int) -> int:
    """Number of denoising steps the base stage runs (for the progress total)."""
    if job.fork is not None and job.fork.stage is Stage.BASE:
        return job.fork.index + 1
    if isinstance(job, StrokesToImage):
        return sdedit_steps(steps, job.settings.strength)
    if isinstance(job, Inpaint):
        return len(repaint_positions(steps - 1, job.settings.repaint_jump, job.settings.repaint_resample))
    return steps


def sr_positions(job: Job) -> int:
    if job.fork is not None and job.fork.stage is Stage.SR:
        return job.fork.index + 1
    return job.settings.sr_steps


def fork_start(job: Job, stage: Stage, chain: Schedule, device: torch.device) -> Start | None:
    """The stored x_t of the step the user forked from, if this job is such a fork of `stage`."""
    fork = job.fork
    if fork is None or fork.stage is not stage:
        return None
    if fork.steps != len(chain) or not 0 <= fork.index < len(chain):
        raise ValueError(f"a fork from step {fork.index} of {fork.steps} needs the same number of steps "
                         f"as its run ({fork.steps}), not {len(chain)}")
    return Start(torch.from_numpy(fork.x_t).to(device), fork.index)


def base_start(job: Job, image: torch.Tensor | None, chain: Schedule, shape, generator,
               device: torch.device) -> Start:
    forked = fork_start(job, Stage.BASE, chain, device)
    if forked is not None:
        return forked
    if isinstance(job, StrokesToImage):
        x, position = sdedit_start(image, chain, job.settings.strength, generator)
        return Start(x, position)
    return Start(initial_noise(shape, generator, device), len(chain) - 1)


def base_denoiser(job: Job, models, chain: Schedule, inputs, generator: torch.Generator) -> Denoiser:
    """The base stage's denoiser: conditioning and CFG (and inpainting's masking) inside, classifier
    guidance around them, thresholding of the guided x̂₀ outermost."""
    s, base = job.settings, models.base
    if isinstance(job, Inpaint):
        denoise = inpaint_denoiser(base, s, inputs.image, inputs.mask, generator)
    else:
        denoise = conditioned_denoiser(base, s, s.batch_size)
    denoise = with_classifier_guidance(denoise, models.classifier, s, chain, base.config.diffusion.variance)
    return thresholded_outside(denoise, s)


def inpaint_denoiser(model: LoadedModel, settings: Settings, known: torch.Tensor, mask: torch.Tensor,
                     generator: torch.Generator) -> Denoiser:
    """A model trained with mask channels gets them; any other model inpaints by replacement."""
    batch = known.shape[0]
    if model.config.role is Role.INPAINT:
        return conditioned_denoiser(model, settings, batch, extra=mask_channels(known, mask))
    inner = conditioned_denoiser(model, settings, batch)
    return replace_known(inner, known, mask, training_schedule(model).alphas_cumprod, generator)


def sr_inputs(job: Job, sr: LoadedModel, low_res: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The SR conditioning: upsampled low-res image noised to s_aug, and s_aug as a timestep per image."""
    schedule = training_schedule(sr)
    t_aug = aug_timestep(job.settings.noise_augmentation, len(schedule))
    aug = torch.full((low_res.shape[0],), t_aug, dtype=torch.long, device=low_res.device)
    noise = randn_like(low_res, generator)
    low_aug = augment_low_res(low_res, aug, schedule.alphas_cumprod.float(), noise)
    return upsample(low_aug, sr.config.resolution), aug


def sr_denoiser(sr: LoadedModel, settings: Settings, extra: torch.Tensor, aug: torch.Tensor) -> Denoiser:
    """The SR stage follows its prompt without classifier-free guidance: the low-res image already
    fixes the content, and guidance would double the cost of the most expensive stage."""
    inner = conditioned_denoiser(sr, settings, extra.shape[0], extra=extra, aug_level=aug, guidance_scale=1.0)
    return thresholded_outside(inner, settings)


def is_upscale(job: Job) -> bool:
    return isinstance(job, Upscale) or (job.fork is not None and job.fork.stage is Stage.SR)
