"""ILVR: iterative latent variable refinement (Choi et al. 2021, "ILVR: Conditioning Method for
Denoising Diffusion Probabilistic Models").

After each step the low frequencies of x are swapped for those of the reference noised to the same
level: x_{t−1} ← x_{t−1} − φ_N(x_{t−1}) + φ_N(y_{t−1}), y_{t−1} ~ q(y_{t−1} | y₀ = reference). φ_N is
the low-pass filter "down-sample by N, up-sample back". We take the N×N block mean spread back over
its block: a projection (φ_N∘φ_N = φ_N), so after the last step, whose y is the reference itself
(ᾱ_{−1} = 1), φ_N of the result is φ_N of the reference exactly, and N = 1 returns the reference.

ILVR wraps the *step* (it acts on the step's output, not on the denoiser's input), so it works with
every sampler of the table.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from studio.diffusion.chain import Callback, CancelToken, Step, StepOutput, descending, run_chain
from studio.diffusion.denoiser import Denoiser
from studio.diffusion.forward_process import initial_noise, randn_like
from studio.diffusion.schedule import Schedule


def low_pass(x: torch.Tensor, factor: int) -> torch.Tensor:
    """φ_N: the mean of each N×N block, repeated over the block (N must divide the image size)."""
    if factor < 1:
        raise ValueError(f"the ILVR factor must be at least 1, got {factor}")
    if x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"the ILVR factor {factor} must divide the image size {x.shape[-2]}×{x.shape[-1]}")
    if factor == 1:
        return x
    return F.interpolate(F.avg_pool2d(x, factor), scale_factor=factor, mode="nearest")


def ilvr_step(step: Step, reference: torch.Tensor, factor: int, chain: Schedule,
              generator: torch.Generator | None) -> Step:
    """`step`, followed by the swap of φ_N(x) for φ_N of a fresh q-sample of the reference at the position
    the step reached (the reference itself after the last step)."""
    abar_prev = chain.alphas_cumprod_prev.tolist()

    def refined(denoise: Denoiser, x: torch.Tensor, i: int) -> StepOutput:
        out = step(denoise, x, i)
        ref = reference.to(out.x.dtype)
        a = abar_prev[i]
        y = ref if a >= 1.0 else math.sqrt(a) * ref + math.sqrt(1 - a) * randn_like(out.x, generator)
        return StepOutput(out.x - low_pass(out.x, factor) + low_pass(y, factor), out.pred)

    return refined


def ilvr(
    denoise: Denoiser,
    step: Step,
    reference: torch.Tensor,
    factor: int,
    chain: Schedule,
    *,
    x: torch.Tensor | None = None,
    start: int | None = None,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Sample images whose φ_N equals the reference's: from x_T ~ N(0, I) (or a given x at `start`)
    down the whole chain with `step`, refined after every step. `reference` is [B or 1, C, H, W] in [−1, 1]."""
    low_pass(reference, factor)  # refuse a factor that does not divide the size before anything runs
    if x is None:
        x = initial_noise(tuple(reference.shape), generator, reference.device, reference.dtype)
    return run_chain(denoise, ilvr_step(step, reference, factor, chain, generator), x, chain,
                     descending(chain, start), callback=callback, cancel=cancel)
