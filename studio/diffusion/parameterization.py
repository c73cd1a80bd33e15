"""Conversions between what a network may predict: ε, x₀ or v (Salimans & Ho 2022).

All take ᾱ_t already broadcast to the image shape (see `forward_process.per_sample`).
"""

from __future__ import annotations

import torch

from studio.core.enums import PredictionType


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """x̂₀ = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t."""
    return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()


def eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """ε̂ = (x_t − √ᾱ_t x̂₀) / √(1−ᾱ_t)."""
    return (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()


def v_from(x0: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """v = √ᾱ_t ε − √(1−ᾱ_t) x₀, the training target of a v-prediction model."""
    return abar.sqrt() * eps - (1 - abar).sqrt() * x0


def x0_from_v(x_t: torch.Tensor, v: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """x̂₀ = √ᾱ_t x_t − √(1−ᾱ_t) v."""
    return abar.sqrt() * x_t - (1 - abar).sqrt() * v


def eps_from_v(x_t: torch.Tensor, v: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """ε̂ = √(1−ᾱ_t) x_t + √ᾱ_t v."""
    return (1 - abar).sqrt() * x_t + abar.sqrt() * v


def prediction_target(prediction: PredictionType, x0: torch.Tensor, eps: torch.Tensor,
                      abar: torch.Tensor) -> torch.Tensor:
    """What a network of this prediction type regresses for x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε."""
    if prediction is PredictionType.EPSILON:
        return eps
    if prediction is PredictionType.SAMPLE:
        return x0
    return v_from(x0, eps, abar)
