"""The order of the denoiser wrappers: guidance inside, thresholding of the guided x̂₀ outside."""

import pytest
import torch

from studio.core.enums import Thresholding
from studio.core.settings import Settings
from studio.diffusion.denoiser import Prediction
from studio.engine.conditioning import PromptNetwork, guided

ABAR = 0.5  # ᾱ_t of the step under test


def halves(cond: float, uncond: float):
    """A paired denoiser whose conditional half predicts x̂₀ = `cond` and unconditional half `uncond` everywhere."""

    def denoise(x_t, t):
        n = x_t.shape[0] // 2
        x0 = torch.cat([torch.full_like(x_t[:n], cond), torch.full_like(x_t[n:], uncond)])
        return Prediction.from_x0(x_t, torch.full((x_t.shape[0], 1, 1, 1), ABAR, dtype=x_t.dtype), x0)

    return denoise


def _guided_x0(thresholding: Thresholding, scale: float = 3.0) -> torch.Tensor:
    prompt = PromptNetwork(network=None, paired=True, scale=scale)
    denoise = guided(halves(0.9, -0.9), prompt, Settings(guidance_scale=scale, thresholding=thresholding))
    x_t = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    return denoise(x_t, torch.full((2,), 500)).x0


def test_guidance_three_on_halves_of_plus_and_minus_point_nine_gives_four_and_a_half_unclipped():
    """x̂₀ = x̂₀ᵤ + s (x̂₀c − x̂₀ᵤ) = −0.9 + 3 · 1.8 = 4.5: each half is inside [−1, 1], the guided one is not."""
    assert torch.allclose(_guided_x0(Thresholding.NONE), torch.full((2, 3, 4, 4), 4.5), atol=1e-5)


@pytest.mark.parametrize("thresholding", [Thresholding.STATIC, Thresholding.DYNAMIC])
def test_thresholding_bounds_the_guided_x0(thresholding):
    """Clipping each half first would pass 4.5 through; clipping the guided x̂₀ gives 1 (static) — and dynamic
    thresholding of a constant image also lands at 1."""
    x0 = _guided_x0(thresholding)
    assert x0.abs().max() <= 1.0 + 1e-6
    assert torch.allclose(x0, torch.ones_like(x0), atol=1e-5)
