"""The forward process q and its posterior, in closed form (Ho et al. 2020, eqs. 4, 6, 7)."""

from __future__ import annotations

import torch

from studio.diffusion.schedule import Schedule


def per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a [B] (or scalar) tensor of coefficients over an image batch shaped like `like`."""
    values = values.to(device=like.device, dtype=like.dtype)
    if values.ndim == 0:
        return values
    return values.reshape(values.shape[0], *([1] * (like.ndim - 1)))


def q_sample(
    x0: torch.Tensor, abar: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, the diffusion kernel q(x_t | x_0) in one shot."""
    abar = per_sample(abar, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def q_sample_at(
    x0: torch.Tensor, chain: Schedule, index: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """q-sample of x_0 at chain position `index`, with noise from `generator`."""
    noise = randn_like(x0, generator)
    return q_sample(x0, chain.alphas_cumprod[index], noise)


def posterior_mean_variance(
    chain: Schedule, index: int, x0: torch.Tensor, x_t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance β̃ of q(x_{t−1} | x_t, x_0) at chain position `index`.

    mean = √ᾱ_{t−1} β_t/(1−ᾱ_t) · x_0 + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) · x_t
    """
    c0, ct = posterior_coefficients(chain, index)
    mean = float(c0) * x0 + float(ct) * x_t
    return mean, chain.posterior_variance[index].to(x_t.dtype)


def posterior_coefficients(chain: Schedule, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The two coefficients of the posterior mean, on x_0 and on x_t."""
    abar, abar_prev = chain.alphas_cumprod[index], chain.alphas_cumprod_prev[index]
    beta = chain.betas[index]
    c0 = abar_prev.sqrt() * beta / (1 - abar)
    ct = (1 - beta).sqrt() * (1 - abar_prev) / (1 - abar)
    return c0, ct


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like x, drawn on the generator's device so seeds are portable."""
    device = generator.device if generator is not None else x.device
    noise = torch.randn(x.shape, generator=generator, device=device, dtype=torch.float32)
    return noise.to(device=x.device, dtype=x.dtype)


def initial_noise(shape: tuple[int, ...], generator: torch.Generator | None,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """x_T ~ N(0, I), drawn on the generator's device first so a seed means the same picture anywhere.

    Every base stage that starts from pure noise (text → image, SDEdit at strength 1, inpainting)
    calls this as its first draw of the job's generator; that is what makes strength 1 equal
    text → image.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    # Drawn in float32 whatever `dtype` is, so float32 and float64 runs see the same numbers.
    return torch.randn(shape, generator=generator, device=gen_device).to(device=device, dtype=dtype)
