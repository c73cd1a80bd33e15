"""An independent reference: the exact output distribution of a discrete sampler on Gaussian data.

With the exact ε* of x₀ ~ N(μ, Σ), x̂₀ and ε̂ are affine in x_t, so every DDPM or DDIM step is
x' = M x + b + σ z. Starting from x_T ~ N(0, I) the output is Gaussian; its mean and covariance
follow m' = M m + b, S' = M S Mᵀ + σ² I. Written from the formulas of DESIGN §4, sharing no code
with the samplers.
"""

from __future__ import annotations

import math

import torch

from tests.diffusion.oracles import Gaussian


def chain_moments(data: Gaussian, abars: list[float], kind: str, *, eta: float = 0.0,
                  variance: str = "posterior") -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance after sampling down the chain with ᾱ values `abars` (ascending)."""
    d = data.dim
    eye = torch.eye(d, dtype=torch.float64)
    m, s = torch.zeros(d, dtype=torch.float64), eye.clone()
    for i in range(len(abars) - 1, -1, -1):
        a = abars[i]
        ap = abars[i - 1] if i > 0 else 1.0
        inv = torch.linalg.inv(data.noised_cov(a))
        p = (eye - (1 - a) * inv) / math.sqrt(a)  # x̂₀ = P x + q
        q = (1 - a) * inv @ data.mean
        if kind == "ddpm":
            beta = 1 - a / ap
            c0 = math.sqrt(ap) * beta / (1 - a)
            ct = math.sqrt(1 - beta) * (1 - ap) / (1 - a)
            mat, off = c0 * p + ct * eye, c0 * q
            var = ((1 - ap) / (1 - a) * beta if variance == "posterior" else beta) if i > 0 else 0.0
        else:
            e_mat = math.sqrt(1 - a) * inv  # ε̂ = E x + e
            e_off = -math.sqrt(1 - a) * math.sqrt(a) * inv @ data.mean
            sigma = eta * math.sqrt((1 - ap) / (1 - a)) * math.sqrt(1 - a / ap)
            direction = math.sqrt(max(1 - ap - sigma**2, 0.0))
            mat = math.sqrt(ap) * p + direction * e_mat
            off = math.sqrt(ap) * q + direction * e_off
            var = sigma**2 if i > 0 else 0.0
        m = mat @ m + off
        s = mat @ s @ mat.T + var * eye
    return m, s
