"""The cascade's noise-conditioning augmentation and upsampling."""

import torch

from studio.diffusion.cascade import aug_timestep, augment_low_res, upsample
from studio.diffusion.schedule import cosine_schedule


def test_augmentation_has_the_forward_process_statistics():
    """N = 240 000 pixels of a constant image at s_aug = t: mean √ᾱ_t·x, variance 1 − ᾱ_t (±5 SE)."""
    ab = cosine_schedule().alphas_cumprod
    low = torch.full((8, 3, 100, 100), 0.4, dtype=torch.float64)
    n = low.numel()
    for t in (50, 300):
        aug = augment_low_res(low, torch.full((8,), t), ab, torch.randn(low.shape, dtype=torch.float64))
        a = float(ab[t])
        assert abs(aug.mean().item() - a**0.5 * 0.4) < 5 * ((1 - a) / n) ** 0.5
        assert abs(aug.var().item() - (1 - a)) < 5 * (1 - a) * (2 / n) ** 0.5


def test_level_zero_leaves_the_low_res_image_clean():
    ab = cosine_schedule().alphas_cumprod
    low = torch.rand(2, 3, 8, 8)
    out = augment_low_res(low, torch.tensor([0, 0]), ab, torch.randn_like(low))
    assert torch.equal(out, low)
    assert aug_timestep(0.0, 1000) == 0 and aug_timestep(1.0, 1000) == 999 and aug_timestep(0.1, 1000) == 100


def test_upsampling_reaches_the_sr_size_and_keeps_flat_colours():
    low = torch.full((1, 3, 8, 8), -0.25)
    up = upsample(low, 32)
    assert up.shape == (1, 3, 32, 32)
    assert torch.allclose(up, torch.full_like(up, -0.25))
