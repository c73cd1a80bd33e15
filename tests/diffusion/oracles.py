"""Exact denoisers for data whose noised marginals are known in closed form (DESIGN §11).

For x₀ ~ N(μ, Σ), x_t ~ N(√ᾱ μ, C_t) with C_t = ᾱΣ + (1−ᾱ)I, and the optimal noise predictor is
ε*(x_t) = √(1−ᾱ) C_t⁻¹ (x_t − √ᾱ μ). A Gaussian mixture has ε* = −√(1−ᾱ) ∇ log p_t(x_t), and the
exact classifier p_t(y | x_t) is the posterior weight of component y. Samples are [N, D, 1, 1]
tensors so the samplers see image-shaped batches; everything runs in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from studio.diffusion.denoiser import Prediction, abar_at


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


def image(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], x.shape[1], 1, 1)


@dataclass(frozen=True, eq=False)
class Gaussian:
    mean: torch.Tensor  # [D]
    cov: torch.Tensor  # [D, D]

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def noised_cov(self, abar: float | torch.Tensor) -> torch.Tensor:
        return abar * self.cov + (1 - abar) * torch.eye(self.dim, dtype=torch.float64)

    def log_density_t(self, x: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """log p_t(x) for flat x [N, D] and per-sample ᾱ [N]."""
        out = torch.empty(x.shape[0], dtype=x.dtype)
        for a in abar.unique():
            rows = abar == a
            dist = torch.distributions.MultivariateNormal(a.sqrt() * self.mean, self.noised_cov(a))
            out[rows] = dist.log_prob(x[rows])
        return out

    def eps(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """ε* for flat x_t [N, D], ᾱ [N] (batched by distinct ᾱ, which is one value per sampler step)."""
        out = torch.empty_like(x_t)
        for a in abar.unique():
            rows = abar == a
            c = self.noised_cov(a)
            diff = x_t[rows] - a.sqrt() * self.mean
            out[rows] = (1 - a).sqrt() * torch.linalg.solve(c, diff.T).T
        return out

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.dim, dtype=torch.float64, generator=generator)
        return self.mean + z @ torch.linalg.cholesky(self.cov).T


@dataclass(frozen=True, eq=False)
class Mixture:
    weights: torch.Tensor  # [K]
    components: tuple[Gaussian, ...]

    def log_joint_t(self, x: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """log(w_k p_t(x | k)) for every component: [N, K]."""
        return torch.stack(
            [w.log() + g.log_density_t(x, abar) for w, g in zip(self.weights, self.components, strict=True)], dim=1
        )

    def log_density_t(self, x: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.log_joint_t(x, abar), dim=1)

    def log_posterior_t(self, x: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """The exact classifier log p_t(y | x): [N, K]."""
        joint = self.log_joint_t(x, abar)
        return joint - torch.logsumexp(joint, dim=1, keepdim=True)

    def eps(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        return -(1 - abar)[:, None].sqrt() * score(self.log_density_t, x_t, abar)

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest component mean, per sample."""
        means = torch.stack([g.mean for g in self.components])
        return torch.cdist(x, means).argmin(dim=1)


def score(log_density, x: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """∇_x log p_t(x) by autograd on an exact log-density."""
    with torch.inference_mode(False), torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        return torch.autograd.grad(log_density(x, abar).sum(), x)[0]


def denoiser(eps_fn, alphas_cumprod: torch.Tensor):
    """A studio Denoiser from an exact ε(x_flat, ᾱ) for image-shaped [N, D, 1, 1] inputs."""

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        abar = abar_at(alphas_cumprod, t, x_t)
        eps = image(eps_fn(flat(x_t), abar.reshape(-1)))
        return Prediction.from_eps(x_t, abar, eps)

    return denoise


def correlated_gaussian(dim: int = 3, seed: int = 0, scale: float = 0.5) -> Gaussian:
    """A full-covariance Gaussian with correlations of both signs (eigenvalues well above 0)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, dtype=torch.float64, generator=g) * scale
    cov = a @ a.T + 0.05 * torch.eye(dim, dtype=torch.float64)
    mean = torch.randn(dim, dtype=torch.float64, generator=g) * 0.5
    return Gaussian(mean, cov)


def empirical(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = flat(x)
    return x.mean(dim=0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])
