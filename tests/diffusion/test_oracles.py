"""The exact denoisers the other tests rely on are themselves right.

ε* must be E[ε | x_t]: the residual ε − ε*(x_t) then has mean zero and is uncorrelated with every
function of x_t (the orthogonality principle). Closed-form scores must equal autograd on the exact
log-densities, and the exact classifier must be calibrated.
"""

import math

import torch

from studio.diffusion.schedule import linear_schedule
from tests.diffusion.oracles import (
    F64,
    Gaussian,
    Mixture,
    autograd_score,
    correlated_gaussian,
    isotropic,
    one_thread,  # noqa: F401  (autouse fixture)
)

AB = linear_schedule().alphas_cumprod
MIX = Mixture(
    torch.tensor([0.5, 0.3, 0.2], dtype=F64),
    (isotropic([-1.0, 0.0], 0.5), correlated_gaussian(2, seed=3), isotropic([0.0, 1.5], 0.3)),
)


def _assert_zero_mean(products: torch.Tensor, z: float = 4.5) -> None:
    """Each column of `products` [N, M] has mean zero within z standard errors (SE = std/√N)."""
    n = products.shape[0]
    mean, se = products.mean(0), products.std(0) / math.sqrt(n)
    assert (mean.abs() <= z * se).all(), (mean, se)


def test_diagonal_gaussian_oracle_is_the_design_formula():
    """DESIGN §11: ε*(x_t) = √(1−ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ), coordinate by coordinate."""
    mean, std = torch.tensor([0.5, -1.0, 0.0], dtype=F64), torch.tensor([0.3, 1.2, 1.0], dtype=F64)
    data = Gaussian(mean, torch.diag(std**2))
    x = torch.randn(100, 3, dtype=F64, generator=torch.Generator().manual_seed(0)) * 2
    abar = AB[torch.randint(0, 1000, (100,), generator=torch.Generator().manual_seed(1))]
    a = abar[:, None]
    expected = (1 - a).sqrt() * (x - a.sqrt() * mean) / (a * std**2 + 1 - a)
    assert torch.allclose(data.eps(x, abar), expected, rtol=1e-12, atol=1e-14)


def test_gaussian_oracle_is_the_conditional_mean_of_the_noise():
    """Full covariance, N = 100 000 draws of (x₀, ε) at ᾱ ∈ {0.9, 0.3, 0.02}: ε − ε*(x_t) has zero mean
    and zero correlation with x_t, within 4.5 SE per entry."""
    data = correlated_gaussian(3)
    g = torch.Generator().manual_seed(2)
    for a in (0.9, 0.3, 0.02):
        abar = torch.full((100_000,), a, dtype=F64)
        x0, eps = data.sample(100_000, g), torch.randn(100_000, 3, dtype=F64, generator=g)
        x_t = math.sqrt(a) * x0 + math.sqrt(1 - a) * eps
        residual = eps - data.eps(x_t, abar)
        products = (residual[:, :, None] * x_t[:, None, :]).reshape(100_000, -1)
        _assert_zero_mean(torch.cat([residual, products], dim=1))


def test_mixture_oracle_is_the_conditional_mean_of_the_noise():
    """N = 100 000 draws of a 3-component mixture: ε − ε*(x_t) is orthogonal to 1, x_t, tanh(x_t)
    and ε*(x_t) itself (4.5 SE); the best affine predictor (fitted in-sample) does worse in mean squared error."""
    g = torch.Generator().manual_seed(3)
    for a, factor in ((0.8, 0.9), (0.2, 1.0)):  # measured MSE: 0.614 vs 0.700 affine; 0.1317 vs 0.1324
        n = 100_000
        abar = torch.full((n,), a, dtype=F64)
        x0, _ = MIX.sample(n, g)
        eps = torch.randn(n, 2, dtype=F64, generator=g)
        x_t = math.sqrt(a) * x0 + math.sqrt(1 - a) * eps
        eps_star = MIX.eps(x_t, abar)
        residual = eps - eps_star
        features = torch.cat([x_t, x_t.tanh(), eps_star], dim=1)
        products = (residual[:, :, None] * features[:, None, :]).reshape(n, -1)
        _assert_zero_mean(torch.cat([residual, products], dim=1))
        design = torch.cat([torch.ones(n, 1, dtype=F64), x_t], dim=1)
        affine = design @ torch.linalg.lstsq(design, eps).solution
        assert (residual**2).mean() < factor * ((eps - affine) ** 2).mean()


def test_mixture_scores_and_classifier_gradients_equal_autograd_on_the_exact_densities():
    x = torch.randn(64, 2, dtype=F64, generator=torch.Generator().manual_seed(4)) * 2
    abar = AB[torch.randint(0, 1000, (64,), generator=torch.Generator().manual_seed(5))]
    assert torch.allclose(MIX.score(x, abar), autograd_score(MIX.log_density, x, abar), atol=1e-10)
    for label in range(3):
        def log_classifier(z, a, k=label):
            return MIX.log_posterior(z, a)[:, k]

        assert torch.allclose(MIX.classifier_grad(label, x, abar), autograd_score(log_classifier, x, abar),
                              atol=1e-10)
    for component in MIX.components:
        log_p, score = component.log_density_and_score(x, abar)
        assert torch.allclose(log_p, component.log_density(x, abar), atol=1e-12)
        assert torch.allclose(score, autograd_score(component.log_density, x, abar), atol=1e-12)
    single = Mixture(torch.ones(1, dtype=F64), (MIX.components[1],))
    assert torch.allclose(single.eps(x, abar), MIX.components[1].eps(x, abar), atol=1e-12)


def test_exact_classifier_is_calibrated():
    """N = 100 000 labelled draws at ᾱ = 0.3: 1{y = k} − p_t(k | x_t) has zero mean and zero correlation
    with x_t (4.5 SE), and the posterior weights sum to one."""
    g = torch.Generator().manual_seed(6)
    n, a = 100_000, 0.3
    x0, labels = MIX.sample(n, g)
    x_t = math.sqrt(a) * x0 + math.sqrt(1 - a) * torch.randn(n, 2, dtype=F64, generator=g)
    post = MIX.log_posterior(x_t, torch.full((n,), a, dtype=F64)).exp()
    assert torch.allclose(post.sum(1), torch.ones(n, dtype=F64))
    residual = torch.nn.functional.one_hot(labels, 3).to(F64) - post
    products = (residual[:, :, None] * x_t[:, None, :]).reshape(n, -1)
    _assert_zero_mean(torch.cat([residual, products], dim=1))


def test_mixture_samples_have_the_stated_weights_and_moments():
    """N = 200 000: label frequencies within 4.5 SE of w; mean within 4.5 SE of Σ w_k μ_k."""
    n = 200_000
    x, labels = MIX.sample(n, torch.Generator().manual_seed(7))
    freq = torch.bincount(labels, minlength=3).to(F64) / n
    se = (MIX.weights * (1 - MIX.weights) / n).sqrt()
    assert ((freq - MIX.weights).abs() <= 4.5 * se).all()
    mean, cov = MIX.moments()
    assert ((x.mean(0) - mean).abs() <= 4.5 * (cov.diagonal() / n).sqrt()).all()
    assert torch.allclose(torch.cov(x.T), cov, atol=0.02)  # SE of each entry ≤ 0.004
