"""Static clipping and Imagen's dynamic thresholding of x̂₀ (Saharia et al. 2022)."""

import pytest
import torch

from studio.core.enums import Thresholding
from studio.diffusion.denoiser import Prediction
from studio.diffusion.thresholding import dynamic_threshold, thresholded
from tests.diffusion.oracles import one_thread  # noqa: F401  (autouse fixture)

F64 = torch.float64


def _fixed(x0: torch.Tensor, abar: float = 0.5):
    """A denoiser that predicts the given x̂₀ whatever x_t is."""

    def denoise(x_t, t):
        return Prediction.from_x0(x_t, torch.full((x_t.shape[0], 1, 1, 1), abar, dtype=x_t.dtype), x0)

    return denoise


def test_static_thresholding_clips_x0_to_minus_one_one_and_recomputes_eps():
    x0 = torch.tensor([-3.0, -0.5, 0.2, 2.0], dtype=F64).view(1, 4, 1, 1)
    x_t = torch.randn(1, 4, 1, 1, dtype=F64, generator=torch.Generator().manual_seed(0))
    pred = thresholded(_fixed(x0), Thresholding.STATIC)(x_t, torch.zeros(1, dtype=torch.long))
    assert pred.x0.flatten().tolist() == [-1.0, -0.5, 0.2, 1.0]
    assert torch.allclose(pred.x0, (x_t - 0.5**0.5 * pred.eps) / 0.5**0.5, atol=1e-12)  # DDIM sees the clip
    assert torch.equal(pred.x_t, x_t)


def test_dynamic_thresholding_leaves_an_image_already_in_range_unchanged():
    inside = torch.linspace(-0.9, 0.9, 100, dtype=F64).view(1, 1, 10, 10)
    assert torch.equal(dynamic_threshold(inside, 0.995), inside)
    edge = torch.linspace(-1.0, 1.0, 100, dtype=F64).view(1, 1, 10, 10)  # s = max(1, 1) = 1
    assert torch.equal(dynamic_threshold(edge, 0.995), edge)


def test_dynamic_thresholding_clips_to_the_percentile_and_divides_by_it():
    """s = 0.9-quantile of |x̂₀| (> 1): values inside [−s, s] become x/s, those outside ±1."""
    outside = torch.linspace(-4, 4, 100, dtype=F64).view(1, 1, 10, 10)
    out = dynamic_threshold(outside, 0.9)
    s = torch.quantile(outside.abs().flatten(), 0.9)
    assert 3.0 < s < 4.0
    keep = outside.abs() <= s
    assert torch.allclose(out[keep], outside[keep] / s, rtol=1e-6)
    assert torch.equal(out[~keep], outside[~keep].sign())
    assert out.abs().max().item() == 1.0 and out.dtype == F64


def test_dynamic_thresholding_takes_the_percentile_of_each_image_separately():
    calm = torch.linspace(-0.5, 0.5, 16, dtype=F64).view(1, 1, 4, 4)
    wild = 3 * torch.linspace(-1, 1, 16, dtype=F64).view(1, 1, 4, 4)
    out = dynamic_threshold(torch.cat([calm, wild]), 1.0)  # p = 1: s = max |x̂₀| = 3 for the wild one
    assert torch.equal(out[0], calm[0])
    assert torch.allclose(out[1], wild[0] / 3)


def test_dynamic_thresholding_wrapper_recomputes_eps_from_the_thresholded_x0():
    x0 = torch.linspace(-5, 5, 64, dtype=F64).view(1, 1, 8, 8)
    x_t = torch.zeros_like(x0)
    pred = thresholded(_fixed(x0, 0.3), Thresholding.DYNAMIC, 0.95)(x_t, torch.zeros(1, dtype=torch.long))
    assert torch.allclose(pred.x0, dynamic_threshold(x0, 0.95))
    assert torch.allclose(pred.eps, (x_t - 0.3**0.5 * pred.x0) / 0.7**0.5, atol=1e-12)


def test_no_thresholding_returns_the_denoiser_itself():
    d = _fixed(torch.zeros(1, 1, 1, 1))
    assert thresholded(d, Thresholding.NONE) is d


@pytest.mark.parametrize("percentile", [0.0, -0.1, 1.5])
def test_a_percentile_outside_zero_one_is_refused(percentile):
    with pytest.raises(ValueError, match="percentile"):
        thresholded(_fixed(torch.zeros(1, 1, 1, 1)), Thresholding.DYNAMIC, percentile)
