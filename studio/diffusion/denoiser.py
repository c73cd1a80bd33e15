"""Denoisers: the one interface every sampler sees.

A `Denoiser` is any callable (x_t, t) → `Prediction`, where t holds the *original* training
timesteps of the batch. `model_denoiser` adapts a network's raw output, whatever its
parameterisation (ε, x₀, v, learned variance), so samplers never know which network they call
(the idea of k-diffusion's `external.py`). Guidance, thresholding and masking are further
denoisers that wrap this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import torch

from studio.core.enums import PredictionType, VarianceType
from studio.diffusion import parameterization as param


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a denoiser says about x_t: ε̂ and x̂₀ (always consistent with each other).

    `x_t` is the input the prediction was made for; a masking wrapper may have changed it, and
    samplers step from this value, not from their own copy.
    """

    x_t: torch.Tensor
    abar: torch.Tensor  # ᾱ_t broadcast to the image shape
    eps: torch.Tensor
    x0: torch.Tensor
    var_frac: torch.Tensor | None = None  # learned variance: weight of log β_t against log β̃_t

    @classmethod
    def from_eps(cls, x_t: torch.Tensor, abar: torch.Tensor, eps: torch.Tensor, **kw) -> Prediction:
        return cls(x_t=x_t, abar=abar, eps=eps, x0=param.x0_from_eps(x_t, eps, abar), **kw)

    @classmethod
    def from_x0(cls, x_t: torch.Tensor, abar: torch.Tensor, x0: torch.Tensor, **kw) -> Prediction:
        return cls(x_t=x_t, abar=abar, eps=param.eps_from_x0(x_t, x0, abar), x0=x0, **kw)

    def with_eps(self, eps: torch.Tensor) -> Prediction:
        return replace(self, eps=eps, x0=param.x0_from_eps(self.x_t, eps, self.abar))

    def with_x0(self, x0: torch.Tensor) -> Prediction:
        return replace(self, x0=x0, eps=param.eps_from_x0(self.x_t, x0, self.abar))


class Denoiser(Protocol):
    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> Prediction: ...


NetworkFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# network(x_t, t, **conditioning) -> raw output, e.g. the SR U-Net with extra= and aug_level=.
ConditionedNetwork = Callable[..., torch.Tensor]


def abar_at(alphas_cumprod: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """ᾱ at original timesteps t, shaped to broadcast over the image batch `like` (float32 or wider)."""
    dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
    values = alphas_cumprod.to(like.device)[t.long().to(like.device)].to(dtype)
    return values.reshape(-1, *([1] * (like.ndim - 1)))


def model_denoiser(
    network: NetworkFn,
    alphas_cumprod: torch.Tensor,
    prediction: PredictionType = PredictionType.EPSILON,
    variance: VarianceType = VarianceType.POSTERIOR,
) -> Denoiser:
    """Wrap `network(x_t, t) -> raw output` into a Denoiser.

    `alphas_cumprod` is ᾱ over the model's full training process (index = original timestep).
    With learned variance the network returns twice the image channels; the second half is
    v ∈ [−1, 1] (Nichol & Dhariwal 2021), stored as the weight (v + 1)/2.
    """

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        out = network(x_t, t).to(x_t.dtype)
        var_frac = None
        if variance is VarianceType.LEARNED_RANGE:
            out, v = out.chunk(2, dim=1)
            var_frac = (v + 1) / 2
        abar = abar_at(alphas_cumprod, t, x_t)
        if prediction is PredictionType.EPSILON:
            return Prediction.from_eps(x_t, abar, out, var_frac=var_frac)
        if prediction is PredictionType.SAMPLE:
            return Prediction.from_x0(x_t, abar, out, var_frac=var_frac)
        # both read off v directly: x̂₀ through ε̂ would divide by √ᾱ_t → 0 at the chain's noisy end
        return Prediction(x_t=x_t, abar=abar, eps=param.eps_from_v(x_t, out, abar),
                          x0=param.x0_from_v(x_t, out, abar), var_frac=var_frac)

    return denoise


def bind_conditioning(network: ConditionedNetwork, **conditioning: torch.Tensor) -> NetworkFn:
    """`network(x_t, t, **conditioning)` as (x_t, t) → raw output.

    Each bound tensor has one row per image (or a single row). A wrapper that runs a larger batch —
    classifier-free guidance runs [conditional; unconditional] = twice the images — gets the rows
    repeated in the same order, so the conditioning is doubled along with x_t.
    """

    def bound(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return network(x_t, t, **{k: _rows(v, x_t.shape[0]) for k, v in conditioning.items()})

    return bound


def _rows(tensor: torch.Tensor, n: int) -> torch.Tensor:
    b = tensor.shape[0]
    if b == n:
        return tensor
    if b == 1:
        return tensor.expand(n, *tensor.shape[1:])
    if n % b == 0:
        return tensor.repeat(n // b, *([1] * (tensor.ndim - 1)))
    raise ValueError(f"conditioning for {b} images cannot serve a batch of {n}")
