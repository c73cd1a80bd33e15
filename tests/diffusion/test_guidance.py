"""Guidance wrappers against the exact scores and the exact classifier of Gaussian mixtures.

Theory (DESIGN §4): CFG with scale s gives ε̂ = ε_u + s(ε_c − ε_u) = −√(1−ᾱ) ∇[log p_t(x) + s log p_t(y | x)];
classifier guidance in DDIM form gives ε̂ − s√(1−ᾱ)∇ log p_t(y | x), which at s = 1 is exactly the
conditional ε*(x | y); in DDPM form it shifts the step mean by sΣ∇ log p_t(y | x).
"""

import math
from dataclasses import replace

import pytest
import torch

from studio.core.enums import SamplerKind, VarianceType
from studio.diffusion.denoiser import Prediction, abar_at
from studio.diffusion.guidance import (
    classifier_free_guidance,
    classifier_guidance_ddim,
    classifier_guidance_ddpm,
)
from studio.diffusion.samplers import sample, sample_ddim, sample_ddpm, sampler_spec
from studio.diffusion.schedule import linear_schedule, respace
from tests.diffusion.chain_reference import chain_moments
from tests.diffusion.oracles import (
    F64,
    Mixture,
    assert_moments_match,
    autograd_score,
    classifier,
    denoiser,
    flat,
    image,
    isotropic,
    one_thread,  # noqa: F401  (autouse fixture)
)

SCHEDULE = linear_schedule()
AB = SCHEDULE.alphas_cumprod
# two well-separated modes in 2-D (for pointwise checks and CFG sampling)
MIX = Mixture(torch.tensor([0.6, 0.4], dtype=F64), (isotropic([-1.5, 0.0], 0.5), isotropic([1.5, 0.5], 0.4)))
# two overlapping 1-D modes: N(−1, 0.8²) with weight 0.7 and N(+1, 0.8²) with weight 0.3
OVERLAP = Mixture(torch.tensor([0.7, 0.3], dtype=F64), (isotropic([-1.0], 0.8), isotropic([1.0], 0.8)))


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _points(n: int = 64, dim: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random image-shaped x_t (spread ±4) at random timesteps, one per point."""
    x = image(torch.randn(n, dim, dtype=F64, generator=torch.Generator().manual_seed(seed)) * 2)
    t = torch.randint(0, 1000, (n,), generator=torch.Generator().manual_seed(seed + 1))
    return x, t


def _paired(mixture: Mixture, label: int, calls: list[int]):
    """The CFG network's stand-in: ε*(x | y) for the first half of the batch, ε*(x) for the second."""
    component = mixture.components[label]

    def denoise(x_t, t):
        calls.append(int(x_t.shape[0]))
        abar = abar_at(AB, t, x_t)
        half = x_t.shape[0] // 2
        a = abar.reshape(-1)
        eps_c = component.eps(flat(x_t[:half]), a[:half])
        eps_u = mixture.eps(flat(x_t[half:]), a[half:])
        return Prediction.from_eps(x_t, abar, image(torch.cat([eps_c, eps_u])))

    return denoise


# --- classifier-free guidance -------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.0, 1.0, 3.5, 7.5])
def test_cfg_follows_the_score_of_p_x_times_p_y_given_x_to_the_power_s(scale):
    """At 64 random (x_t, t): ε̂ = −√(1−ᾱ)∇[log p_t(x) + s log p_t(y | x)], by autograd on the exact
    densities, to 1e-8; one denoiser call per step, on the doubled batch."""
    x, t = _points()
    calls: list[int] = []
    guided = classifier_free_guidance(_paired(MIX, 1, calls), scale)(x, t)
    abar = abar_at(AB, t, x).reshape(-1)

    def log_target(z, a):
        return MIX.log_density(z, a) + scale * MIX.log_posterior(z, a)[:, 1]

    expected = -(1 - abar)[:, None].sqrt() * autograd_score(log_target, flat(x), abar)
    assert torch.allclose(flat(guided.eps), expected, rtol=0, atol=1e-8)
    assert calls == [128]
    assert torch.equal(guided.x_t, x) and torch.equal(guided.abar, abar_at(AB, t, x))
    assert torch.allclose(guided.x0, (x - (1 - guided.abar).sqrt() * guided.eps) / guided.abar.sqrt())


def test_cfg_at_scale_zero_is_unconditional_and_at_one_is_the_class_conditional_denoiser():
    x, t = _points()
    abar = abar_at(AB, t, x).reshape(-1)
    for label in (0, 1):
        plain = classifier_free_guidance(_paired(MIX, label, []), 0.0)(x, t)
        conditional = classifier_free_guidance(_paired(MIX, label, []), 1.0)(x, t)
        assert torch.allclose(flat(plain.eps), MIX.eps(flat(x), abar), atol=1e-12)
        assert torch.allclose(flat(conditional.eps), MIX.components[label].eps(flat(x), abar), atol=1e-12)


def test_cfg_takes_learned_variance_from_the_conditional_half():
    def paired(x_t, t):
        abar = abar_at(AB, t, x_t)
        frac = torch.cat([torch.full_like(x_t[:2], 0.25), torch.full_like(x_t[2:], 0.75)])
        return Prediction.from_eps(x_t, abar, torch.zeros_like(x_t), var_frac=frac)

    x, t = _points(2)
    out = classifier_free_guidance(paired, 3.0)(x, t)
    assert out.var_frac.shape == x.shape and bool((out.var_frac == 0.25).all())


def test_cfg_sampling_at_scale_one_draws_the_class_and_at_zero_the_whole_mixture():
    """DDIM η = 0, 50 linear steps, N = 20 000. At s = 1 the guided ε̂ is exactly component 1's, so the
    samples have the exact chain moments of that Gaussian (4.5 SE per entry); at s = 0 the modes keep
    their weights 0.6 / 0.4 (4 SE = 0.014). Every step calls the network once, on 2N images."""
    n, chain = 20_000, respace(SCHEDULE, 50)
    x_T = image(torch.randn(n, 2, dtype=F64, generator=torch.Generator().manual_seed(3)))
    calls: list[int] = []
    conditional = sample_ddim(classifier_free_guidance(_paired(MIX, 1, calls), 1.0), x_T, chain)
    assert calls == [2 * n] * 50
    mean, cov = chain_moments(MIX.components[1], chain.alphas_cumprod.tolist(), sampler_spec(SamplerKind.DDIM))
    assert_moments_match(conditional, mean, cov, z=4.5)
    unguided = sample_ddim(classifier_free_guidance(_paired(MIX, 1, []), 0.0), x_T, chain)
    weight = float((MIX.nearest(flat(unguided)) == 1).to(F64).mean())
    assert abs(weight - 0.4) < 4 * math.sqrt(0.24 / n)


# --- classifier guidance, pointwise -------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.0, 1.0, 2.5])
def test_classifier_guidance_ddim_form_subtracts_the_scaled_gradient_exactly(scale):
    x, t = _points(seed=4)
    base, grad = denoiser(MIX.eps, AB), classifier(MIX, 0, AB)
    guided = classifier_guidance_ddim(base, grad, scale)(x, t)
    abar = abar_at(AB, t, x)
    expected = base(x, t).eps - scale * (1 - abar).sqrt() * grad(x, t)
    assert torch.allclose(guided.eps, expected, rtol=0, atol=1e-12)
    assert torch.allclose(guided.x0, (x - (1 - abar).sqrt() * guided.eps) / abar.sqrt(), atol=1e-10)


def test_classifier_guidance_at_scale_one_with_the_exact_classifier_is_the_conditional_denoiser():
    """∇ log p_t(x) + ∇ log p_t(y | x) = ∇ log p_t(x | y): guided ε̂ equals ε*(x | y) to 1e-10."""
    x, t = _points(seed=5)
    abar = abar_at(AB, t, x).reshape(-1)
    for label in (0, 1):
        guided = classifier_guidance_ddim(denoiser(MIX.eps, AB), classifier(MIX, label, AB), 1.0)(x, t)
        assert torch.allclose(flat(guided.eps), MIX.components[label].eps(flat(x), abar), atol=1e-10)


def _with_learned_variance(denoise, frac: float):
    def wrapped(x_t, t):
        pred = denoise(x_t, t)
        return replace(pred, var_frac=torch.full_like(x_t, frac))

    return wrapped


@pytest.mark.parametrize("variance", [VarianceType.POSTERIOR, VarianceType.BETA, VarianceType.LEARNED_RANGE])
@pytest.mark.parametrize("i", [0, 1, 30, 49])
def test_classifier_guidance_ddpm_form_shifts_the_step_mean_by_s_sigma_grad(variance, i):
    """Posterior mean by DESIGN §4's formula, √ᾱ_{t−1}β_t/(1−ᾱ_t)·x̂₀ + √α_t(1−ᾱ_{t−1})/(1−ᾱ_t)·x_t: the guided
    one minus the plain one is s·σ_t²·∇ with σ_t² = β̃_t, β_t or exp(f log β_t + (1−f) log β̃_t) (f = 0.3;
    log β̃ clipped at position 0), to 1e-10."""
    chain, scale, n = respace(SCHEDULE, 50), 3.0, 16
    t = torch.full((n,), int(chain.timesteps[i]))
    x = image(torch.randn(n, 2, dtype=F64, generator=torch.Generator().manual_seed(6)))
    base, grad = _with_learned_variance(denoiser(MIX.eps, AB), 0.3), classifier(MIX, 1, AB)
    plain = base(x, t)
    guided = classifier_guidance_ddpm(base, grad, scale, chain, variance)(x, t)

    ab = chain.alphas_cumprod.tolist()
    a, a_prev = ab[i], (ab[i - 1] if i > 0 else 1.0)
    beta = 1 - a / a_prev
    beta_tilde = (1 - a_prev) / (1 - a) * beta
    if variance is VarianceType.POSTERIOR:
        sigma2 = beta_tilde
    elif variance is VarianceType.BETA:
        sigma2 = beta
    else:
        lo = beta_tilde if i > 0 else (1 - ab[0]) / (1 - ab[1]) * (1 - ab[1] / ab[0])
        sigma2 = math.exp(0.3 * math.log(beta) + 0.7 * math.log(lo))

    def posterior_mean(pred):
        return math.sqrt(a_prev) * beta / (1 - a) * pred.x0 + math.sqrt(1 - beta) * (1 - a_prev) / (1 - a) * x

    shift = posterior_mean(guided) - posterior_mean(plain)
    assert torch.allclose(shift, scale * sigma2 * grad(x, t), rtol=1e-9, atol=1e-10)
    assert guided.var_frac is plain.var_frac or torch.equal(guided.var_frac, plain.var_frac)


# --- classifier guidance moves mode weights -----------------------------------------------------

WEIGHT_N = 8000


def _weight_of_class_one(kind: SamplerKind, scale: float, steps: int) -> float:
    """Share of class-1 samples with the sampler's own form of classifier guidance (DDIM: ε correction;
    DDPM: mean shift)."""
    chain = respace(SCHEDULE, steps)
    x_T = image(torch.randn(WEIGHT_N, 1, dtype=F64, generator=torch.Generator().manual_seed(7)))
    guided = sampler_spec(kind).with_classifier_guidance(denoiser(OVERLAP.eps, AB), classifier(OVERLAP, 1, AB),
                                                         scale, chain, VarianceType.POSTERIOR)
    out = sample(kind, guided, x_T, chain, generator=torch.Generator().manual_seed(8))
    return float((OVERLAP.nearest(flat(out)) == 1).to(F64).mean())


def _exact_ddim_share(steps: int) -> float:
    """P(x > 0) under the exact DDIM chain of the class-1 Gaussian N(1, 0.8²): Φ(m/√v)."""
    mean, var = chain_moments(OVERLAP.components[1], respace(SCHEDULE, steps).alphas_cumprod.tolist(),
                              sampler_spec(SamplerKind.DDIM))
    return _phi(float(mean[0] / var[0, 0].sqrt()))


@pytest.mark.parametrize(("kind", "steps", "target_at_one", "tolerance_at_one"), [
    (SamplerKind.DDIM, 100, _exact_ddim_share(100), 4 * math.sqrt(0.898 * 0.102 / WEIGHT_N)),
    (SamplerKind.DDPM, 250, _phi(1.25), 0.03),
], ids=["ddim", "ddpm"])
def test_classifier_guidance_moves_mode_weight_toward_the_class_as_theory_says(kind, steps, target_at_one,
                                                                              tolerance_at_one):
    """Overlapping modes N(∓1, 0.8²), weights 0.7 / 0.3, guided toward the minority class y = 1; samples
    counted as class 1 when x > 0 (nearest mean). N = 8000, SE ≤ 0.0056.

    s = 0: p(x) itself: 0.7·(1 − Φ(1.25)) + 0.3·Φ(1.25) = 0.342 (within 4 SE).
    s = 1: p(x | y = 1) = N(1, 0.8²): Φ(1.25) = 0.894. DDIM's guided ε̂ is then exactly ε*(x | y), so its
           discrete chain is the Gaussian one and the exact value is Φ(m/√v) from the chain moments
           (0.898 at 100 steps; within 4 SE). DDPM's mean shift β̃_t∇ is the conditional chain's shift
           β_t/√α_t·∇ only to first order, and smaller (see the next test): measured 0.872–0.881 at 250
           steps over seeds, asserted within 0.03 of 0.894.
    s = 3: p(x) p(y | x)³ puts almost all mass on y: above 0.99 (measured 1.000).
    """
    weights = [_weight_of_class_one(kind, s, steps) for s in (0.0, 1.0, 3.0)]
    assert weights[0] < weights[1] < weights[2], weights
    p_uncond = 0.7 * (1 - _phi(1.25)) + 0.3 * _phi(1.25)
    assert abs(weights[0] - p_uncond) < 4 * math.sqrt(p_uncond * (1 - p_uncond) / WEIGHT_N), weights
    assert abs(weights[1] - target_at_one) < tolerance_at_one, (weights, target_at_one)
    assert weights[2] > 0.99, weights


def test_ddpm_classifier_guidance_converges_to_the_exact_conditional_chain_as_steps_grow():
    """s = 1 with the exact classifier, against DDPM on ε*(x | y = 1) with the same x_T and noise
    (N = 2000): the mean gap |x_guided − x_conditional| falls like 1/K — measured 0.34, 0.090, 0.024 at
    25, 100, 400 steps (stable to ±0.01 over seeds) — so each 4× more steps must cut it below 0.35×,
    and at 400 steps it must be below 0.03."""
    n, gaps = 2000, []
    x_T = image(torch.randn(n, 1, dtype=F64, generator=torch.Generator().manual_seed(9)))
    for steps in (25, 100, 400):
        chain = respace(SCHEDULE, steps)
        guided = classifier_guidance_ddpm(denoiser(OVERLAP.eps, AB), classifier(OVERLAP, 1, AB), 1.0, chain)
        conditional = denoiser(OVERLAP.components[1].eps, AB)
        a = sample_ddpm(guided, x_T, chain, generator=torch.Generator().manual_seed(10))
        b = sample_ddpm(conditional, x_T, chain, generator=torch.Generator().manual_seed(10))
        gaps.append(float((a - b).abs().mean()))
    assert gaps[1] < 0.35 * gaps[0] and gaps[2] < 0.35 * gaps[1], gaps
    assert gaps[2] < 0.03, gaps
