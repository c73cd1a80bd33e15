"""Exact denoisers for correlated Gaussian data, for the task tests (SDEdit, inpainting).

For x₀ ~ N(μ, Σ) the noised marginal is x_t ~ N(√ᾱ μ, C_t), C_t = ᾱΣ + (1−ᾱ)I, and the optimal noise
predictor is ε*(x_t) = √(1−ᾱ) C_t⁻¹ (x_t − √ᾱ μ). Samples are [N, 1, 1, D] float64 tensors: a batch of
N one-channel images of D pixels, so that an inpainting mask is a real one-channel [1, 1, 1, D] mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from studio.diffusion.denoiser import Prediction, abar_at


def image(x: torch.Tensor) -> torch.Tensor:
    """[N, D] → [N, 1, 1, D]."""
    return x.reshape(x.shape[0], 1, 1, x.shape[1])


def flat(x: torch.Tensor) -> torch.Tensor:
    """[N, 1, 1, D] → [N, D]."""
    return x.reshape(x.shape[0], -1)


@dataclass(frozen=True, eq=False)
class Gaussian:
    mean: torch.Tensor  # μ [D]
    cov: torch.Tensor  # Σ [D, D]

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def eps(self, x_t: torch.Tensor, abar: float) -> torch.Tensor:
        """ε*(x_t) for flat x_t [N, D] at one ᾱ."""
        c = abar * self.cov + (1 - abar) * torch.eye(self.dim, dtype=torch.float64)
        gain = (1 - abar) ** 0.5 * torch.linalg.inv(c)
        return (x_t - abar**0.5 * self.mean) @ gain.T

    def conditional(self, known: list[int], x_known: torch.Tensor) -> Gaussian:
        """Law of the other coordinates given x[known] = x_known:
        N(μ_u + Σ_uk Σ_kk⁻¹ (x_k − μ_k), Σ_uu − Σ_uk Σ_kk⁻¹ Σ_ku)."""
        unknown = [i for i in range(self.dim) if i not in known]
        s, mu = self.cov, self.mean
        s_uk, s_kk, s_uu = s[unknown][:, known], s[known][:, known], s[unknown][:, unknown]
        mean = mu[unknown] + s_uk @ torch.linalg.solve(s_kk, x_known - mu[known])
        return Gaussian(mean, s_uu - s_uk @ torch.linalg.solve(s_kk, s_uk.T))

    def marginal(self, idx: list[int]) -> Gaussian:
        return Gaussian(self.mean[idx], self.cov[idx][:, idx])


def correlated_gaussian(dim: int, *, seed: int, std: float, correlation: float) -> Gaussian:
    """A full covariance: std² on the diagonal, neighbouring-pixel correlations ~ `correlation`,
    randomly rotated a little so that no entry is structurally zero."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.arange(dim, dtype=torch.float64)
    corr = correlation ** (idx[:, None] - idx[None, :]).abs()
    jitter = 0.1 * torch.randn(dim, dim, dtype=torch.float64, generator=g)
    corr = corr + jitter @ jitter.T
    d = corr.diagonal().rsqrt()
    cov = std**2 * d[:, None] * corr * d[None, :]
    mean = 0.3 * torch.randn(dim, dtype=torch.float64, generator=g)
    return Gaussian(mean, cov)


@dataclass
class ExactDenoiser:
    """The exact denoiser ε* of `data`, counting its calls (and the timesteps it was called at)."""

    data: Gaussian
    alphas_cumprod: torch.Tensor  # ᾱ of the full training process, indexed by original timestep
    calls: list[int] = field(default_factory=list)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        assert bool((t == t[0]).all()), "one timestep per call"
        self.calls.append(int(t[0]))
        abar = abar_at(self.alphas_cumprod, t, x_t)
        eps = self.data.eps(flat(x_t), float(abar.reshape(-1)[0]))
        return Prediction.from_eps(x_t, abar, image(eps))


def empirical(x: torch.Tensor) -> Gaussian:
    """Sample mean and (unbiased) covariance of [N, D] or [N, 1, 1, D] samples."""
    x = flat(x)
    return Gaussian(x.mean(0), torch.cov(x.T))


def kl(fit: Gaussian, target: Gaussian) -> float:
    """KL(fit ‖ target) between two Gaussians of the same dimension, in nats."""
    inv = torch.linalg.inv(target.cov)
    d = target.mean - fit.mean
    k = fit.dim
    logdet = torch.logdet(target.cov) - torch.logdet(fit.cov)
    return float(0.5 * (torch.trace(inv @ fit.cov) + d @ inv @ d - k + logdet))
