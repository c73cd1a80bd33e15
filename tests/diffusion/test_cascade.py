"""The cascade's SR stage: noise-conditioning augmentation, upsampling, and the conditioning reaching
the network as [x_t, upsample(low_res_aug)] with s_aug in the embedding.

The network here is a hand-written stand-in that concatenates its inputs as the SR U-Net does and
records them; the real U-Net is tested under tests/models.
"""

import pytest
import torch

from studio.core.enums import PredictionType, VarianceType
from studio.diffusion.cascade import (
    aug_timestep,
    augment_low_res,
    sr_conditioning,
    sr_denoiser,
    upsample,
)
from studio.diffusion.forward_process import initial_noise
from studio.diffusion.guidance import classifier_free_guidance
from studio.diffusion.samplers import sample_ddim
from studio.diffusion.schedule import cosine_schedule, respace

ABAR = cosine_schedule().alphas_cumprod


def test_augmentation_has_the_forward_process_statistics():
    """A constant image 0.4, N = 240 000 pixels per level: mean √ᾱ_s·0.4, variance 1 − ᾱ_s (±5 SE)."""
    low = torch.full((8, 3, 100, 100), 0.4, dtype=torch.float64)
    n = low.numel()
    for s in (50, 300, 700):
        aug = augment_low_res(low, s, ABAR, generator=torch.Generator().manual_seed(s))
        a = float(ABAR[s])
        assert abs(aug.mean().item() - a**0.5 * 0.4) < 5 * ((1 - a) / n) ** 0.5
        assert abs(aug.var().item() - (1 - a)) < 5 * (1 - a) * (2 / n) ** 0.5


def test_each_image_gets_its_own_level_as_in_training():
    """Levels [0, 200, 800] for three images of 30 000 pixels each (±5 SE per image)."""
    low = torch.full((3, 3, 100, 100), -0.5, dtype=torch.float64)
    levels = torch.tensor([0, 200, 800])
    aug = augment_low_res(low, levels, ABAR, generator=torch.Generator().manual_seed(0))
    assert torch.equal(aug[0], low[0])
    n = low[0].numel()
    for i in (1, 2):
        a = float(ABAR[levels[i]])
        assert abs(aug[i].mean().item() + a**0.5 * 0.5) < 5 * ((1 - a) / n) ** 0.5
        assert abs(aug[i].var().item() - (1 - a)) < 5 * (1 - a) * (2 / n) ** 0.5


def test_level_zero_leaves_the_low_res_image_clean_and_noise_can_be_given():
    low = torch.rand(2, 3, 8, 8)
    assert torch.equal(augment_low_res(low, 0, ABAR, generator=torch.Generator().manual_seed(0)), low)
    z = torch.randn_like(low)
    a = float(ABAR[400])
    assert torch.allclose(augment_low_res(low, 400, ABAR, z), a**0.5 * low + (1 - a) ** 0.5 * z)
    assert aug_timestep(0.0, 1000) == 0 and aug_timestep(1.0, 1000) == 999 and aug_timestep(0.1, 1000) == 100
    with pytest.raises(ValueError):
        aug_timestep(1.5, 1000)
    with pytest.raises(ValueError):
        augment_low_res(low, 1000, ABAR, z)


def test_upsampling_reaches_the_sr_size_and_keeps_flat_colours():
    low = torch.full((1, 3, 8, 8), -0.25, dtype=torch.float64)
    up = upsample(low, 32)
    assert up.shape == (1, 3, 32, 32) and up.dtype == torch.float64
    assert torch.allclose(up, torch.full_like(up, -0.25))


def test_upsampling_is_antialiased_when_it_shrinks():
    """A ±1 checkerboard resized 32 → 8 averages out (|x| < 0.05) instead of aliasing to ±1."""
    board = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 2.0 - 1.0
    small = upsample(board.expand(1, 3, 32, 32), 8)
    assert small.abs().max() < 0.05


def test_the_conditioning_is_the_upsampled_augmented_low_res_image():
    low = torch.rand(2, 3, 8, 8) * 2 - 1
    cond = sr_conditioning(low, 32, 250, ABAR, generator=torch.Generator().manual_seed(5))
    expected = upsample(augment_low_res(low, 250, ABAR, generator=torch.Generator().manual_seed(5)), 32)
    assert torch.equal(cond.extra, expected)
    assert cond.aug_level.dtype == torch.long and cond.aug_level.tolist() == [250, 250]
    assert torch.equal(sr_conditioning(low, 32, 0, ABAR).extra, upsample(low, 32))


class RecordingSR:
    """Stand-in SR network `network(x_t, t, *, extra, aug_level)`: builds the input [x_t, extra] along
    channels as the U-Net does, records it with t and aug_level, and predicts ε = 0."""

    def __init__(self):
        self.inputs: list[torch.Tensor] = []
        self.t: list[torch.Tensor] = []
        self.aug_levels: list[torch.Tensor] = []

    def __call__(self, x_t, t, *, extra, aug_level):
        self.inputs.append(torch.cat([x_t, extra], dim=1))
        self.t.append(t)
        self.aug_levels.append(aug_level)
        return torch.zeros_like(x_t)


def test_the_network_sees_x_t_first_then_the_conditioning_and_the_aug_level_at_every_step():
    low = torch.rand(2, 3, 8, 8) * 2 - 1
    g = torch.Generator().manual_seed(0)
    cond = sr_conditioning(low, 16, 120, ABAR, generator=g)
    net = RecordingSR()
    denoise = sr_denoiser(net, ABAR, PredictionType.EPSILON, VarianceType.POSTERIOR, cond.extra, 120)
    chain = respace(cosine_schedule(), 5)
    seen = []
    sample_ddim(denoise, initial_noise((2, 3, 16, 16), g), chain, callback=lambda s: seen.append(s.x_t))
    assert len(net.inputs) == 5
    for x_t, given, level in zip(seen, net.inputs, net.aug_levels, strict=True):
        assert given.shape == (2, 3 + 3, 16, 16)
        assert torch.equal(given[:, :3], x_t)  # channels 0–2: x_t
        assert torch.equal(given[:, 3:], cond.extra)  # channels 3–5: upsample(low_res_aug)
        assert level.tolist() == [120, 120]  # s_aug for the embedding
    assert [int(t[0]) for t in net.t] == chain.timesteps.flip(0).tolist()


def test_guidance_doubles_the_conditioning_with_the_batch():
    """Classifier-free guidance runs [conditional; unconditional] as one batch of 2B images."""
    low = torch.rand(2, 3, 8, 8)
    cond = sr_conditioning(low, 16, torch.tensor([10, 20]), ABAR, generator=torch.Generator().manual_seed(0))
    net = RecordingSR()
    paired = sr_denoiser(net, ABAR, PredictionType.EPSILON, VarianceType.POSTERIOR, cond.extra, cond.aug_level)
    classifier_free_guidance(paired, 2.0)(torch.randn(2, 3, 16, 16), torch.full((2,), 300))
    assert torch.equal(net.inputs[0][:, 3:], torch.cat([cond.extra, cond.extra]))
    assert net.aug_levels[0].tolist() == [10, 20, 10, 20]


def test_the_raw_output_is_read_in_the_models_parameterisation():
    """An x₀-predicting SR model returning 0.3 everywhere: x̂₀ = 0.3, ε̂ consistent with it."""
    extra = torch.zeros(1, 3, 4, 4)
    denoise = sr_denoiser(lambda x, t, *, extra, aug_level: torch.full_like(x, 0.3), ABAR,
                          PredictionType.SAMPLE, VarianceType.POSTERIOR, extra, 0)
    pred = denoise(torch.randn(1, 3, 4, 4), torch.tensor([500]))
    assert torch.allclose(pred.x0, torch.full_like(pred.x0, 0.3))
    assert torch.allclose(pred.abar.sqrt() * pred.x0 + (1 - pred.abar).sqrt() * pred.eps, pred.x_t, atol=1e-6)
