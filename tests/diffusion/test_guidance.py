"""Guidance wrappers against the exact scores of a Gaussian mixture."""

import torch

from studio.core.enums import VarianceType
from studio.diffusion.denoiser import Prediction, abar_at
from studio.diffusion.forward_process import posterior_coefficients
from studio.diffusion.guidance import (
    classifier_free_guidance,
    classifier_guidance_ddim,
    classifier_guidance_ddpm,
    step_variance,
)
from studio.diffusion.samplers import sample_ddim, sample_ddpm
from studio.diffusion.schedule import linear_schedule, respace
from tests.diffusion.oracles import Gaussian, Mixture, denoiser, flat, image, score

SCHEDULE = linear_schedule()
AB = SCHEDULE.alphas_cumprod
EYE = torch.eye(2, dtype=torch.float64)
MIX = Mixture(
    torch.tensor([0.5, 0.5], dtype=torch.float64),
    (Gaussian(torch.tensor([-1.5, 0.0], dtype=torch.float64), 0.25 * EYE),
     Gaussian(torch.tensor([1.5, 0.0], dtype=torch.float64), 0.25 * EYE)),
)


def _paired(label: int, calls: list):
    """Conditional ε*(x | y) for the first half of the batch, unconditional ε*(x) for the second."""
    component = MIX.components[label]

    def denoise(x_t, t):
        calls.append(x_t.shape[0])
        abar = abar_at(AB, t, x_t)
        half = x_t.shape[0] // 2
        eps_c = component.eps(flat(x_t[:half]), abar.reshape(-1)[:half])
        eps_u = MIX.eps(flat(x_t[half:]), abar.reshape(-1)[half:])
        return Prediction.from_eps(x_t, abar, image(torch.cat([eps_c, eps_u])))

    return denoise


def _grad_log_classifier(label: int):
    def grad(x_t, t):
        abar = abar_at(AB, t, x_t).reshape(-1)
        g = score(lambda x, a: MIX.log_posterior_t(x, a)[:, label], flat(x_t), abar)
        return image(g)

    return grad


def test_cfg_follows_the_score_of_p_x_times_p_y_given_x_to_the_power_s():
    x = image(torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2)
    t = torch.randint(0, 1000, (64,), generator=torch.Generator().manual_seed(1))
    for scale in (0.0, 1.0, 3.5):
        calls = []
        guided = classifier_free_guidance(_paired(1, calls), scale)(x, t)
        abar = abar_at(AB, t, x).reshape(-1)
        def log_target(z, a, s=scale):
            return MIX.log_density_t(z, a) + s * MIX.log_posterior_t(z, a)[:, 1]

        target = score(log_target, flat(x), abar)
        expected = -(1 - abar)[:, None].sqrt() * target
        assert torch.allclose(flat(guided.eps), expected, atol=1e-8)
        assert calls == [128]  # one batched forward for both halves


def test_classifier_guidance_ddim_form_subtracts_the_scaled_gradient_exactly():
    x = image(torch.randn(16, 2, dtype=torch.float64))
    t = torch.full((16,), 400)
    base = denoiser(MIX.eps, AB)
    grad = _grad_log_classifier(0)
    guided = classifier_guidance_ddim(base, grad, 2.0)(x, t)
    abar = abar_at(AB, t, x)
    assert torch.allclose(guided.eps, base(x, t).eps - 2.0 * (1 - abar).sqrt() * grad(x, t), atol=1e-12)


def test_classifier_guidance_ddpm_form_shifts_the_step_mean_by_s_sigma_grad():
    chain = respace(SCHEDULE, 50)
    i = 30
    t = torch.full((16,), int(chain.timesteps[i]))
    x = image(torch.randn(16, 2, dtype=torch.float64))
    base, grad = denoiser(MIX.eps, AB), _grad_log_classifier(1)
    for variance in (VarianceType.POSTERIOR, VarianceType.BETA):
        plain = base(x, t)
        guided = classifier_guidance_ddpm(base, grad, 3.0, chain, variance)(x, t)
        c0, ct = (float(c) for c in posterior_coefficients(chain, i))
        mean_plain = c0 * plain.x0 + ct * x
        mean_guided = c0 * guided.x0 + ct * x
        sigma2 = step_variance(chain, i, variance, plain)
        assert torch.allclose(mean_guided, mean_plain + 3.0 * sigma2 * grad(x, t), atol=1e-10)


def _weight_of(label: int, samples: torch.Tensor) -> float:
    return float((MIX.nearest(flat(samples)) == label).double().mean())


def test_classifier_guidance_moves_mode_weight_toward_the_class_as_theory_says():
    """s = 0 keeps the 50/50 split; s = 1 samples p(x | y): nearly all mass on y (these modes overlap
    by < 0.1 %); larger s only sharpens it. N = 3000, SE of a weight ≤ 0.01."""
    n, chain = 3000, respace(SCHEDULE, 100)
    base = denoiser(MIX.eps, AB)
    for kind in ("ddim", "ddpm"):
        weights = []
        for scale in (0.0, 1.0, 3.0):
            x = image(torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
            g = torch.Generator().manual_seed(3)
            if kind == "ddim":
                out = sample_ddim(classifier_guidance_ddim(base, _grad_log_classifier(0), scale), x, chain)
            else:
                guided = classifier_guidance_ddpm(base, _grad_log_classifier(0), scale, chain)
                out = sample_ddpm(guided, x, chain, generator=g)
            weights.append(_weight_of(0, out))
        assert abs(weights[0] - 0.5) < 0.04, (kind, weights)
        assert weights[1] > 0.95, (kind, weights)
        assert weights[0] < weights[1] <= weights[2], (kind, weights)
