"""Inpainting: replacement of the known region, RePaint's resampling (Lugmayr et al. 2022), and
models trained with mask channels.

Mask convention: `mask` is 1 where the user painted — the region to regenerate — and 0 where the
input is known and kept. It has one channel and broadcasts over the image ([B or 1, 1, H, W]). The
engine's masks are binary; a soft mask blends the two regions by its value, and wherever it is 0
the final image still equals the known image bit for bit.

Replacement is a denoiser wrapper (`replace_known`), so any sampler inpaints. RePaint is a plan of
chain positions (`repaint_positions`) walked by the samplers' own `run_chain` with any sampler's step,
climbing back up between stretches with the forward process (`forward_jump`). `inpaint` is the whole
task, and what the engine calls.
"""

from __future__ import annotations

import math

import torch

from studio.core.enums import PredictionType, VarianceType
from studio.diffusion.chain import Callback, CancelToken, Renoise, Step, run_chain
from studio.diffusion.denoiser import (
    ConditionedNetwork,
    Denoiser,
    Prediction,
    abar_at,
    bind_conditioning,
    model_denoiser,
)
from studio.diffusion.forward_process import initial_noise, q_sample, randn_like
from studio.diffusion.schedule import Schedule


def force_known_x0(denoise: Denoiser, known: torch.Tensor, mask: torch.Tensor) -> Denoiser:
    """x̂₀ ← mask·x̂₀ + (1−mask)·known: the known pixels forced into the prediction (GLIDE's `denoised_fn`).

    Placed inside thresholding, the clipped x̂₀ (and the ε̂ recomputed from it) already agree with the
    known image, as in glide-text2im's sampling of its inpainting models."""

    def denoise_forced(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        pred = denoise(x_t, t)
        m = mask.to(pred.x0.dtype)  # a float64 mask must not promote a float32 chain
        return pred.with_x0(m * pred.x0 + (1 - m) * known.to(pred.x0.dtype))

    return denoise_forced


def replace_known(denoise: Denoiser, known: torch.Tensor, mask: torch.Tensor,
                  alphas_cumprod: torch.Tensor, generator: torch.Generator | None) -> Denoiser:
    """Inpainting by replacement, as a denoiser wrapper.

    Before the inner call, the known region of x_t becomes a fresh q-sample √ᾱ_t x_known + √(1−ᾱ_t) z
    at the step's t (`alphas_cumprod`: ᾱ of the training process, indexed by original timestep);
    after it, the known region of x̂₀ becomes the known image. Samplers step from `pred.x_t`, so the
    replaced x_t is what they move, and at the last step (ᾱ_prev = 1, output = x̂₀) the known pixels
    come out as the known image, up to rounding — `composite` makes them exact.
    """

    forced = force_known_x0(denoise, known, mask)

    def denoise_masked(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        abar = abar_at(alphas_cumprod, t, x_t)
        m = mask.to(x_t.dtype)  # a float64 mask must not promote a float32 chain
        known_t = q_sample(known.to(x_t.dtype), abar, randn_like(x_t, generator))
        return forced(m * x_t + (1 - m) * known_t, t)

    return denoise_masked


def composite(x: torch.Tensor, known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The final image mask·x + (1−mask)·known, with the known pixels (mask 0) copied bit for bit."""
    known, mask = known.to(x.dtype), mask.to(x.dtype)
    return torch.where(mask > 0, mask * x + (1 - mask) * known, known)


def mask_channels(known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Extra input of a model trained with mask channels, in this order: [mask, masked image].

    That is 1 + C channels after x_t's own: the mask (1 = regenerate), then the known image with
    the region to regenerate set to 0 (mid-grey in [−1, 1]).
    """
    return torch.cat([mask.expand(known.shape[0], 1, *known.shape[2:]), known * (1 - mask)], dim=1)


def mask_channel_denoiser(
    network: ConditionedNetwork,
    known: torch.Tensor,
    mask: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    prediction: PredictionType = PredictionType.EPSILON,
    variance: VarianceType = VarianceType.POSTERIOR,
) -> Denoiser:
    """A model trained with mask channels, used directly: `network(x_t, t, extra=mask_channels(...))`.

    The network concatenates [x_t, extra] itself. A doubled classifier-free-guidance batch gets the
    extra channels doubled too (`bind_conditioning`).
    """
    bound = bind_conditioning(network, extra=mask_channels(known, mask))
    return model_denoiser(bound, alphas_cumprod, prediction, variance)


def repaint_positions(start: int, jump_length: int, resample_count: int) -> list[int]:
    """The chain positions RePaint denoises, in order, for a chain entered at position `start`.

    As in RePaint's `get_schedule_jump`: the jump points are the positions j = 0, L, 2L, … with
    j + L ≤ start (L = jump_length). Each time the descent reaches a jump point, x climbs back up to
    j + L by the forward process and that stretch is denoised again, until it has been denoised
    `resample_count` times; then the descent goes on. resample_count 1 (or L > start) gives the plain
    descending chain. The grid is counted from position 0, whatever the start, so the stretch just
    above the clean image — where the fine detail of the seam settles — is always resampled.

    The plan has start + 1 + (resample_count − 1)·L·(number of jump points) positions; the sampler's
    callback gets one StepState per entry, `step` counting denoiser calls and `total` = len(plan).
    """
    if jump_length < 1 or resample_count < 1:
        raise ValueError("jump length and resample count must be at least 1")
    if start < 0:
        return []
    jumps_left = {j: resample_count - 1 for j in range(0, start - jump_length + 1, jump_length)}
    positions, i = [], start
    while i >= 0:
        positions.append(i)
        reached = i - 1  # where this denoising step leaves x
        if jumps_left.get(reached, 0) > 0:
            jumps_left[reached] -= 1
            i = reached + jump_length
        else:
            i = reached
    return positions


def forward_jump(chain: Schedule, generator: torch.Generator | None) -> Renoise:
    """q(x_hi | x_lo): x_hi = √(ᾱ_hi/ᾱ_lo) x_lo + √(1 − ᾱ_hi/ᾱ_lo) z, a `renoise` for run_chain.

    Positions index `chain`; lo = −1 is the clean image (ᾱ = 1).
    """

    def renoise(x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        if not -1 <= lo < hi < len(chain):
            raise ValueError(f"cannot jump from chain position {lo} up to {hi}")
        abar_lo = 1.0 if lo < 0 else float(chain.alphas_cumprod[lo])
        ratio = float(chain.alphas_cumprod[hi]) / abar_lo
        return math.sqrt(ratio) * x + math.sqrt(1 - ratio) * randn_like(x, generator)

    return renoise


def repaint(
    denoise: Denoiser,
    step: Step,
    x: torch.Tensor,
    chain: Schedule,
    *,
    start: int | None = None,
    jump_length: int = 1,
    resample_count: int = 1,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Walk the RePaint plan from `start` (default: the last position) with a sampler's step.

    `denoise` should already carry the masking (`replace_known` or a mask-channel model).
    """
    start = len(chain) - 1 if start is None else start
    positions = repaint_positions(start, jump_length, resample_count)
    return run_chain(denoise, step, x, chain, positions, callback=callback, cancel=cancel,
                     renoise=forward_jump(chain, generator))


def inpaint(
    denoise: Denoiser,
    step: Step,
    known: torch.Tensor,
    mask: torch.Tensor,
    chain: Schedule,
    alphas_cumprod: torch.Tensor,
    *,
    mask_conditioned: bool = False,
    jump_length: int = 1,
    resample_count: int = 1,
    x: torch.Tensor | None = None,
    start: int | None = None,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Inpaint `known` ([B, C, H, W]) under `mask` from start to finish, with a sampler's `step`.

    The chain is entered with `x` at position `start` (a fork), or by default with x_T =
    `initial_noise` (the generator's first draw) at the last position. A plain `denoise` is wrapped in
    `replace_known`; with `mask_conditioned` it is taken to be a mask-channel model
    (`mask_channel_denoiser`) and used as it is. The chain is the plain descent, or RePaint's plan when
    resample_count > 1. The known pixels of the result equal `known` exactly.
    """
    if x is None:
        x = initial_noise(tuple(known.shape), generator, known.device, known.dtype)
    if not mask_conditioned:
        denoise = replace_known(denoise, known, mask, alphas_cumprod, generator)
    x = repaint(denoise, step, x, chain, start=start, jump_length=jump_length, resample_count=resample_count,
                generator=generator, callback=callback, cancel=cancel)
    return composite(x, known, mask)
