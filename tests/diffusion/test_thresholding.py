"""Static clipping and dynamic thresholding of x̂₀."""

import torch

from studio.core.enums import Thresholding
from studio.diffusion.denoiser import Prediction
from studio.diffusion.thresholding import dynamic_threshold, thresholded


def _fixed(x0):
    def denoise(x_t, t):
        abar = torch.full((x_t.shape[0], 1, 1, 1), 0.5)
        return Prediction.from_x0(x_t, abar, x0)

    return denoise


def test_static_thresholding_clips_x0_and_recomputes_eps_consistently():
    x0 = torch.tensor([-3.0, -0.5, 0.2, 2.0]).view(1, 4, 1, 1)
    x_t = torch.randn(1, 4, 1, 1)
    pred = thresholded(_fixed(x0), Thresholding.STATIC)(x_t, torch.zeros(1))
    assert pred.x0.flatten().tolist() == [-1.0, -0.5, pytest_approx(0.2), 1.0]
    assert torch.allclose(pred.x0, (x_t - (1 - 0.5) ** 0.5 * pred.eps) / 0.5**0.5, atol=1e-6)


def pytest_approx(v):
    import pytest

    return pytest.approx(v)


def test_dynamic_thresholding_leaves_in_range_images_alone_and_rescales_outliers():
    inside = torch.linspace(-0.9, 0.9, 100).view(1, 1, 10, 10)
    assert torch.equal(dynamic_threshold(inside, 0.995), inside)
    outside = torch.linspace(-4, 4, 100).view(1, 1, 10, 10)
    out = dynamic_threshold(outside, 0.9)
    s = torch.quantile(outside.abs().flatten(), 0.9)
    assert out.abs().max().item() == 1.0
    assert torch.allclose(out[outside.abs() < s], outside[outside.abs() < s] / s)


def test_no_thresholding_returns_the_denoiser_itself():
    d = _fixed(torch.zeros(1, 1, 1, 1))
    assert thresholded(d, Thresholding.NONE) is d
