"""Exact denoisers for data whose noised marginals are known in closed form (DESIGN §11).

Gaussian data x₀ ~ N(μ, Σ) gives x_t ~ N(√ᾱ μ, C_t), C_t = ᾱΣ + (1−ᾱ)I, and the optimal noise
predictor ε*(x_t) = E[ε | x_t] = √(1−ᾱ) C_t⁻¹ (x_t − √ᾱ μ); for Σ = s²I this is DESIGN's
√(1−ᾱ)(x_t − √ᾱ μ)/(ᾱs² + 1 − ᾱ). A mixture Σ_k w_k N(μ_k, Σ_k) noises component by component, so
p_t = Σ_k w_k N_k,t, ε* = −√(1−ᾱ) ∇ log p_t, the exact classifier is p_t(y=k | x) = w_k N_k,t(x) / p_t(x)
with ∇ log p_t(y | x) = ∇ log N_y,t(x) − ∇ log p_t(x), and the class-conditional ε*(x | y) is ε* of
component y alone.

Everything is float64 and closed form (autograd is used only by tests that check these formulas).
Functions of x take flat [N, D] points and per-sample ᾱ [N]; `denoiser` adapts them to the studio's
image-shaped [N, D, 1, 1] batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from studio.diffusion.denoiser import Prediction, abar_at

F64 = torch.float64
# (flat x_t [N, D], ᾱ [N]) -> ε [N, D]
EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flat(x: torch.Tensor) -> torch.Tensor:
    """[N, D, 1, 1] (or [N, D]) → [N, D]."""
    return x.reshape(x.shape[0], -1)


def image(x: torch.Tensor) -> torch.Tensor:
    """[N, D] → [N, D, 1, 1]: N images of D channels and one pixel."""
    return x.reshape(x.shape[0], x.shape[1], 1, 1)


def _by_abar(abar: torch.Tensor, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """fn(rows, a) for each group of rows sharing one ᾱ, put back in row order (differentiably).

    `rows` is a slice or an index tensor; a sampler step has a single ᾱ and takes the fast path.
    """
    if bool((abar == abar[0]).all()):
        return fn(slice(None), abar[0])
    values = abar.unique()
    groups = [(abar == a).nonzero().reshape(-1) for a in values]
    out = torch.cat([fn(rows, a) for rows, a in zip(groups, values, strict=True)])
    return out[torch.argsort(torch.cat(groups))]


@dataclass(frozen=True, eq=False)
class Gaussian:
    mean: torch.Tensor  # μ [D]
    cov: torch.Tensor  # Σ [D, D]

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def noised_cov(self, abar: float | torch.Tensor) -> torch.Tensor:
        """C_t = ᾱΣ + (1−ᾱ)I."""
        return abar * self.cov + (1 - abar) * torch.eye(self.dim, dtype=F64)

    def score(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """∇ log N(x_t; √ᾱ μ, C_t) = −C_t⁻¹ (x_t − √ᾱ μ): [N, D]."""

        def one(rows, a: torch.Tensor) -> torch.Tensor:
            return -(x_t[rows] - a.sqrt() * self.mean) @ torch.linalg.inv(self.noised_cov(a))

        return _by_abar(abar, one)

    def eps(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """ε*(x_t) = √(1−ᾱ) C_t⁻¹ (x_t − √ᾱ μ): [N, D]."""
        return -(1 - abar)[:, None].sqrt() * self.score(x_t, abar)

    def log_density(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """log N(x_t; √ᾱ μ, C_t), differentiable in x_t: [N]."""

        def one(rows, a: torch.Tensor) -> torch.Tensor:
            cov = self.noised_cov(a)
            diff = x_t[rows] - a.sqrt() * self.mean
            quad = (diff @ torch.linalg.inv(cov) * diff).sum(1)
            return -0.5 * (quad + torch.logdet(cov) + self.dim * math.log(2 * math.pi))

        return _by_abar(abar, one)

    def log_density_and_score(self, x_t: torch.Tensor, abar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both of the above in one pass (what a mixture needs at every sampler step): [N], [N, D]."""

        def one(rows, a: torch.Tensor) -> torch.Tensor:
            cov = self.noised_cov(a)
            diff = x_t[rows] - a.sqrt() * self.mean
            score = -diff @ torch.linalg.inv(cov)
            log_p = 0.5 * (diff * score).sum(1) - 0.5 * (torch.logdet(cov) + self.dim * math.log(2 * math.pi))
            return torch.cat([log_p[:, None], score], dim=1)

        both = _by_abar(abar, one)
        return both[:, 0], both[:, 1:]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.dim, dtype=F64, generator=generator)
        return self.mean + z @ torch.linalg.cholesky(self.cov).T


@dataclass(frozen=True, eq=False)
class Mixture:
    weights: torch.Tensor  # w_k [K], summing to 1
    components: tuple[Gaussian, ...]

    @property
    def dim(self) -> int:
        return self.components[0].dim

    def log_joint(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """log(w_k N_k,t(x_t)) for every component: [N, K]."""
        return torch.stack([w.log() + g.log_density(x_t, abar) for w, g in zip(self.weights, self.components,
                                                                               strict=True)], dim=1)

    def log_density(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """log p_t(x_t): [N]."""
        return torch.logsumexp(self.log_joint(x_t, abar), dim=1)

    def log_posterior(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """The exact classifier log p_t(y = k | x_t): [N, K]."""
        joint = self.log_joint(x_t, abar)
        return joint - torch.logsumexp(joint, dim=1, keepdim=True)

    def score(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """∇ log p_t(x_t) = Σ_k p_t(k | x_t) ∇ log N_k,t(x_t)."""
        parts = [g.log_density_and_score(x_t, abar) for g in self.components]
        joint = torch.stack([w.log() + log_p for w, (log_p, _) in zip(self.weights, parts, strict=True)], dim=1)
        resp = torch.softmax(joint, dim=1)
        return sum(resp[:, k, None] * score for k, (_, score) in enumerate(parts))

    def eps(self, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """ε*(x_t) = −√(1−ᾱ) ∇ log p_t(x_t)."""
        return -(1 - abar)[:, None].sqrt() * self.score(x_t, abar)

    def classifier_grad(self, label: int, x_t: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """∇ log p_t(y = label | x_t) = ∇ log N_label,t(x_t) − ∇ log p_t(x_t)."""
        return self.components[label].score(x_t, abar) - self.score(x_t, abar)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n points and their component labels."""
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        x = torch.empty(n, self.dim, dtype=F64)
        for k, g in enumerate(self.components):
            rows = labels == k
            x[rows] = g.sample(int(rows.sum()), generator)
        return x, labels

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean Σ w_k μ_k and covariance Σ w_k (Σ_k + μ_k μ_kᵀ) − m mᵀ of the mixture."""
        mean = sum(w * g.mean for w, g in zip(self.weights, self.components, strict=True))
        second = sum(w * (g.cov + torch.outer(g.mean, g.mean)) for w, g in zip(self.weights, self.components,
                                                                            strict=True))
        return mean, second - torch.outer(mean, mean)

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest component mean, per flat sample."""
        means = torch.stack([g.mean for g in self.components])
        return torch.cdist(x, means).argmin(dim=1)


def autograd_score(log_density: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                   abar: torch.Tensor) -> torch.Tensor:
    """∇_x log_density(x, ᾱ) by autograd: an independent check of the closed-form scores."""
    with torch.inference_mode(False), torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        return torch.autograd.grad(log_density(x, abar).sum(), x)[0]


def denoiser(eps_fn: EpsFn, alphas_cumprod: torch.Tensor, calls: list[int] | None = None):
    """A studio Denoiser from an exact ε(x_flat, ᾱ), for image-shaped [N, D, 1, 1] inputs.

    `alphas_cumprod` is ᾱ of the full training process, indexed by original timestep. When
    `calls` is given, the batch size of every call is appended to it.
    """

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> Prediction:
        if calls is not None:
            calls.append(int(x_t.shape[0]))
        abar = abar_at(alphas_cumprod, t, x_t)
        eps = image(eps_fn(flat(x_t), abar.reshape(-1)))
        return Prediction.from_eps(x_t, abar, eps)

    return denoise


def classifier(mixture: Mixture, label: int, alphas_cumprod: torch.Tensor):
    """The exact ∇_{x_t} log p_t(y = label | x_t) in the form the guidance wrappers take."""

    def grad(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = abar_at(alphas_cumprod, t, x_t).reshape(-1)
        return image(mixture.classifier_grad(label, flat(x_t), abar))

    return grad


def isotropic(mean: list[float], std: float) -> Gaussian:
    mu = torch.tensor(mean, dtype=F64)
    return Gaussian(mu, std**2 * torch.eye(mu.shape[0], dtype=F64))


def correlated_gaussian(dim: int = 3, seed: int = 0, scale: float = 0.5) -> Gaussian:
    """A full-covariance Gaussian with correlations of both signs (eigenvalues well above 0)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, dtype=F64, generator=g) * scale
    cov = a @ a.T + 0.05 * torch.eye(dim, dtype=F64)
    mean = torch.randn(dim, dtype=F64, generator=g) * 0.5
    return Gaussian(mean, cov)


def empirical(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean [D] and unbiased covariance [D, D] of image-shaped or flat samples."""
    x = flat(x)
    return x.mean(dim=0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def assert_moments_match(samples: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, *, z: float = 4.5) -> None:
    """Empirical mean and covariance within z standard errors of (mean, cov), entry by entry.

    For N Gaussian samples SE(m̂_i) = √(S_ii / N) and SE(Ŝ_ij) = √((S_ii S_jj + S_ij²) / N).
    """
    n = samples.shape[0]
    m_hat, s_hat = empirical(samples)
    var = cov.diagonal()
    se_mean = (var / n).sqrt()
    se_cov = ((var[:, None] * var[None, :] + cov**2) / n).sqrt()
    assert ((m_hat - mean).abs() <= z * se_mean).all(), (m_hat, mean, se_mean)
    assert ((s_hat - cov).abs() <= z * se_cov).all(), (s_hat, cov, se_cov)


@pytest.fixture(autouse=True)
def one_thread():
    """Run a test on one intra-op thread, restoring the setting afterwards.

    These tests push many small tensors through hundreds of steps; on the project's 2-core machines,
    with other processes busy, two OpenMP threads make such ops 10–50× slower than one (measured).
    Test modules opt in by importing this fixture.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
