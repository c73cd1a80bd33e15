"""One runner per planned task, each a thin call of the diffusion task function the statistical tests
check (`sample`, `sdedit`, `inpaint`, and the SR stage's `sr_conditioning` + `sr_denoiser`).

A runner gets its `StagePlan`, the run's context and its inputs fitted to the stage's model, builds the
stage's denoiser (engine/conditioning.py) and step (the sampler table), and returns the stage's images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.core.settings import Settings
from studio.diffusion.cascade import SRConditioning, aug_timestep, sr_conditioning, sr_denoiser, upsample
from studio.diffusion.chain import Callback, CancelToken, Step
from studio.diffusion.denoiser import bind_conditioning
from studio.diffusion.forward_process import initial_noise, q_sample_at
from studio.diffusion.ilvr import ilvr
from studio.diffusion.inpaint import composite, inpaint, mask_channel_denoiser, mask_channels
from studio.diffusion.samplers import SamplerOptions, sample, sampler_spec
from studio.diffusion.sdedit import sdedit
from studio.engine.conditioning import guided, model_denoiser_of, prompt_network, training_schedule
from studio.engine.inputs import fit_image, fit_mask
from studio.engine.plan import StagePlan, Task
from studio.models.families import LatentSpace, StageSampling, family_of
from studio.models.files import LoadedModel


@dataclass(frozen=True, eq=False)
class StageInputs:
    """A stage's images as tensors at its model's sizes (see `fit_inputs`)."""

    image: torch.Tensor | None = None  # [B, 3, R, R]: painting or known image
    mask: torch.Tensor | None = None  # [1, 1, R, R], 1 = regenerate
    low_res: torch.Tensor | None = None  # [B, 3, r, r]: the image to upscale


@dataclass(frozen=True, eq=False)
class StageContext:
    """What every stage of one run shares."""

    settings: Settings
    classifier: LoadedModel | None
    device: torch.device
    generator: torch.Generator
    cancel: CancelToken
    callback: Callback  # one call per step: the frames and the live preview
    show_result: Callable[[torch.Tensor], None]  # make the stage's last frame show these images


@dataclass(frozen=True, eq=False)
class StageOutput:
    images: torch.Tensor
    refined: torch.Tensor | None = None  # the low-res images the SR stage refined (kept for SR forks)


def fit_inputs(plan: StagePlan, settings: Settings, device: torch.device, notes: list[str]) -> StageInputs:
    """Check the stage's images and fit them to its model; a wrong size is resized with a note.

    The SR stage of an inpainting resizes the known image silently: the base stage's note said so."""
    batch, config = settings.batch_size, plan.model.config
    stage_notes = notes if plan.task is not Task.SUPER_RESOLVE else []
    image = mask = low_res = None
    if plan.image is not None:
        what = {Task.SDEDIT: "painting", Task.ILVR: "reference"}.get(plan.task, "image")
        image = _batch(fit_image(plan.image, plan.size, device, what, stage_notes), batch)
    if plan.mask is not None:
        mask = fit_mask(plan.mask, plan.size, device, stage_notes)
    if plan.low_res is not None:
        low_res = _batch(fit_image(plan.low_res, config.low_res, device, "image", notes), batch)
    return StageInputs(image, mask, low_res)


def run_sample(plan: StagePlan, ctx: StageContext, inputs: StageInputs, previous: torch.Tensor | None) -> StageOutput:
    """Text → image (or a fork of any base stage but inpainting's): from x_T or the fork's x_t."""
    denoise = _base_denoiser(plan, ctx)
    space = latent_space(plan.model)
    x = _forked(plan, ctx)
    if x is None:
        x = initial_noise(_noise_shape(plan.size, space, ctx.settings.batch_size), ctx.generator, ctx.device)
    s = ctx.settings
    out = sample(s.sampler_for(plan.stage), denoise, x, plan.chain, variance=_variance(plan), options=_options(s),
                 start=plan.start, generator=ctx.generator, callback=ctx.callback, cancel=ctx.cancel)
    return StageOutput(_pixels(out, space))


def run_sdedit(plan: StagePlan, ctx: StageContext, inputs: StageInputs, previous: torch.Tensor | None) -> StageOutput:
    """Strokes → image: SDEdit from the painting at the strength's start (the plan's, by the same rounding)."""
    space = latent_space(plan.model)
    painting = inputs.image if space is None else space.encode(inputs.image)  # a latent model edits latents
    out = sdedit(_base_denoiser(plan, ctx), _step(plan, ctx), painting, plan.chain, ctx.settings.strength,
                 generator=ctx.generator, callback=ctx.callback, cancel=ctx.cancel)
    return StageOutput(_pixels(out, space))


def run_ilvr(plan: StagePlan, ctx: StageContext, inputs: StageInputs, previous: torch.Tensor | None) -> StageOutput:
    """ILVR: text → image (or a fork of one) refined after every step toward the reference's N×N block means."""
    s = ctx.settings
    out = ilvr(_base_denoiser(plan, ctx), _step(plan, ctx), inputs.image, s.ilvr_factor, plan.chain,
               x=_forked(plan, ctx), start=plan.start, generator=ctx.generator, callback=ctx.callback,
               cancel=ctx.cancel)
    return StageOutput(out)


def run_inpaint(plan: StagePlan, ctx: StageContext, inputs: StageInputs, previous: torch.Tensor | None) -> StageOutput:
    """Inpainting by replacement over RePaint's plan, or with a mask-channel model; known pixels kept exactly,
    and the last frame shows the composited result."""
    model, s = plan.model, ctx.settings
    prompt = prompt_network(model, s, s.batch_size, guidance_scale=s.guidance_scale)
    abar, diffusion = training_schedule(model).alphas_cumprod, model.config.diffusion
    space = latent_space(model)
    known, mask = inputs.image, inputs.mask
    if space is not None:  # blend in latent space: a latent pixel is regenerated if any of its pixels is
        known, mask = space.encode(inputs.image), F.max_pool2d(inputs.mask, space.factor)
    if plan.mask_channels and space is not None:
        inner = model_denoiser_of(model, bind_conditioning(prompt.network, extra=_sd_mask_channels(space, inputs)))
    elif plan.mask_channels:
        inner = mask_channel_denoiser(prompt.network, inputs.image, inputs.mask, abar, diffusion.prediction,
                                      diffusion.variance)
    else:
        inner = model_denoiser_of(model, prompt.network)
    forced = family_of(model.config).sampling(model.config).known_into_x0 and plan.mask_channels
    denoise = guided(inner, prompt, s, classifier=ctx.classifier, chain=plan.chain, variance=_variance(plan),
                     latent=space is not None, known=(inputs.image, inputs.mask) if forced else None)
    out = inpaint(denoise, _step(plan, ctx), known, mask, plan.chain, abar,
                  mask_conditioned=plan.mask_channels,
                  jump_length=s.repaint_jump, resample_count=s.repaint_resample, x=_forked(plan, ctx),
                  start=plan.start, generator=ctx.generator, callback=ctx.callback, cancel=ctx.cancel)
    if space is not None:  # the known pixels exactly, whatever the autoencoder made of them
        out = composite(space.decode(out), inputs.image, inputs.mask)
    ctx.show_result(out)
    return StageOutput(out)


def run_super_resolve(plan: StagePlan, ctx: StageContext, inputs: StageInputs,
                      previous: torch.Tensor | None) -> StageOutput:
    """The cascade's SR stage on the previous stage's output (or the image to upscale, or a fork's base image).

    Its classifier-free guidance is the settings' `sr_guidance_scale`, 1 (none) unless the model's authors
    chose otherwise: the low-res image already fixes the content, and guidance doubles the cost of the most
    expensive stage; the SD x4's authors guide it at 9. A latent upsampler (the SD x4) samples
    latents of the output, with the low-res image at the latent's size beside them, and decodes them."""
    sr, s = plan.model, ctx.settings
    low = previous if previous is not None else _fork_low_res(plan, ctx)
    if low is None:
        low = inputs.low_res
    how = family_of(sr.config).sampling(sr.config)
    low = how.low_res_input(low)
    space = latent_space(sr)
    schedule = training_schedule(sr)
    beside = plan.size if space is None else plan.size // space.factor  # the size x_t and the low-res image share
    cond = _sr_inputs(how, low, beside, s, schedule.alphas_cumprod, ctx.generator)
    extra = cond.extra
    if how.sr_mask_channels:  # nothing known outside an inpainting: every pixel is regenerated
        known = inputs.image if inputs.image is not None else torch.zeros_like(extra)
        mask = inputs.mask if inputs.mask is not None else torch.ones_like(extra[:1, :1])
        extra = torch.cat([extra, mask_channels(known, mask)], dim=1)
    prompt = prompt_network(sr, s, low.shape[0], guidance_scale=s.sr_guidance_scale)
    diffusion = sr.config.diffusion
    inner = sr_denoiser(prompt.network, schedule.alphas_cumprod, diffusion.prediction, diffusion.variance,
                        extra, cond.aug_level)
    x = _forked(plan, ctx)
    if x is None and plan.start < len(plan.chain) - 1:  # the model's sample_strength: from the noised upsample
        start = upsample(low, plan.size).clamp(-1, 1)
        start = start if space is None else space.encode(start)
        x = q_sample_at(start, plan.chain, plan.start, generator=ctx.generator)
    elif x is None:
        x = how.temperature * initial_noise(_noise_shape(plan.size, space, low.shape[0]), ctx.generator, ctx.device)
    out = sample(s.sampler_for(plan.stage), guided(inner, prompt, s, latent=space is not None), x, plan.chain,
                 variance=_variance(plan), options=_options(s), start=plan.start, generator=ctx.generator,
                 callback=ctx.callback, cancel=ctx.cancel)
    out = _pixels(out, space)
    if inputs.mask is not None:  # the SR stage of an inpainting: the known pixels of the original, exactly
        out = composite(out, inputs.image, inputs.mask)
        ctx.show_result(out)
    return StageOutput(out, refined=low)


def _sr_inputs(how: StageSampling, low: torch.Tensor, size: int, s: Settings, alphas_cumprod: torch.Tensor,
               generator: torch.Generator) -> SRConditioning:
    """The low-res image resized to `size` and its augmentation level: ours noised to the settings' level and
    resized bicubically (the SD x4: noised by its own training process, at its own size); the references'
    pixel upsamplers get their own bilinear resize of the clean image."""
    if how.low_res_bilinear:
        up = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
        return SRConditioning(extra=up, aug_level=torch.zeros(low.shape[0], dtype=torch.long, device=low.device))
    return sr_conditioning(low, size, aug_timestep(s.noise_augmentation, len(alphas_cumprod)), alphas_cumprod,
                           generator=generator)


RUNNERS = {
    Task.SAMPLE: run_sample,
    Task.SDEDIT: run_sdedit,
    Task.INPAINT: run_inpaint,
    Task.ILVR: run_ilvr,
    Task.SUPER_RESOLVE: run_super_resolve,
}


def latent_space(model: LoadedModel) -> LatentSpace | None:
    """The model's latent space (its family says), or None for a pixel-space model."""
    return family_of(model.config).latent_space(model.module, model.config)


def frame_preview(model: LoadedModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """What a step's frame shows of x_t and x̂₀: the images themselves, or for a latent model the cheap
    latent → RGB approximation brought to the image size (the exact decode costs as much as steps)."""
    space = latent_space(model)
    if space is None:
        return lambda x: x
    return lambda z: F.interpolate(space.preview(z), scale_factor=space.factor, mode="nearest")


def _noise_shape(size: int, space: LatentSpace | None, batch: int) -> tuple[int, ...]:
    """x_T's shape for images of size × size: the images themselves, or their latents."""
    if space is None:
        return (batch, 3, size, size)
    return (batch, space.channels, size // space.factor, size // space.factor)


def _pixels(x: torch.Tensor, space: LatentSpace | None) -> torch.Tensor:
    return x if space is None else space.decode(x)


def _sd_mask_channels(space: LatentSpace, inputs: StageInputs) -> torch.Tensor:
    """SD's inpainting model's extra input: [mask at latent size, latents of the image with the region to
    regenerate set to 0 (grey)] — the image is masked before encoding, as that model was trained."""
    mask = inputs.mask
    latents = space.encode(inputs.image * (1 - mask))
    small = F.interpolate(mask, size=latents.shape[2:], mode="nearest").expand(latents.shape[0], -1, -1, -1)
    return torch.cat([small, latents], dim=1)


def _base_denoiser(plan: StagePlan, ctx: StageContext):
    s = ctx.settings
    prompt = prompt_network(plan.model, s, s.batch_size, guidance_scale=s.guidance_scale)
    inner = model_denoiser_of(plan.model, prompt.network)
    return guided(inner, prompt, s, classifier=ctx.classifier, chain=plan.chain, variance=_variance(plan),
                  latent=latent_space(plan.model) is not None)


def _step(plan: StagePlan, ctx: StageContext) -> Step:
    s = ctx.settings
    return sampler_spec(s.sampler_for(plan.stage)).step(plan.chain, _variance(plan), ctx.generator, _options(s))


def _variance(plan: StagePlan):
    return plan.model.config.diffusion.variance


def _options(s: Settings) -> SamplerOptions:
    return SamplerOptions(eta=s.eta, churn=s.churn, snr=s.snr)


def _forked(plan: StagePlan, ctx: StageContext) -> torch.Tensor | None:
    """The stored x_t of the step the user forked from, exactly as the sampler held it."""
    return None if plan.fork is None else torch.from_numpy(plan.fork.x_t).to(ctx.device)


def _fork_low_res(plan: StagePlan, ctx: StageContext) -> torch.Tensor | None:
    if plan.fork is None or plan.fork.low_res is None:
        return None
    return torch.from_numpy(plan.fork.low_res).to(ctx.device)


def _batch(image: torch.Tensor, batch: int) -> torch.Tensor:
    return image.expand(batch, -1, -1, -1).contiguous()
