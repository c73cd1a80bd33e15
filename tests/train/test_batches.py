"""Training batches: the SR stage's crops keep the target and its low-res input in register."""

import pytest
import torch

from studio.core.enums import Role
from studio.diffusion.schedule import make_schedule
from studio.models.presets import tiny_sr_config
from studio.train.batches import StepRandom, TrainingData, make_batch, paired_crop
from studio.train.recipes import BUILTIN


def test_paired_crop_takes_the_same_window_of_both_images_and_windows_vary_per_image():
    a = torch.randn(16, 3, 12, 12)
    x, y = paired_crop(a, -a, 5, StepRandom.for_step(0, 0, torch.device("cpu")))
    assert x.shape == y.shape == (16, 3, 5, 5)
    assert torch.equal(y, -x)
    windows = set()
    for i in range(16):
        found = [(t, l) for t in range(8) for l in range(8) if torch.equal(x[i], a[i, :, t:t + 5, l:l + 5])]
        assert len(found) == 1
        windows.add(found[0])
    assert len(windows) > 4


def test_an_sr_batch_with_a_crop_holds_crops_of_target_and_upsampled_low_res():
    config = tiny_sr_config()  # 16 → 32
    recipe = BUILTIN["tiny-sr"].with_(batch_size=6, sr_crop=16, caption_dropout=0.0)
    pixels = torch.rand(4, 3, 32, 32) * 2 - 1
    data = TrainingData(pixels, ("red", "green", "blue", "red"), None)
    abar = make_schedule(config.diffusion.schedule, config.diffusion.timesteps).alphas_cumprod.float()
    batch = make_batch(recipe, config, data, StepRandom.for_step(0, 3, torch.device("cpu")), abar)
    assert batch.x0.shape == batch.extra.shape == (6, 3, 16, 16)
    assert batch.aug_level.shape == (6,) and len(batch.captions) == 6
    whole = make_batch(recipe.with_(sr_crop=0), config, data, StepRandom.for_step(0, 3, torch.device("cpu")), abar)
    assert whole.x0.shape == whole.extra.shape == (6, 3, 32, 32)
    # the crop is a window of the very same draw: same images, same crop-resample, same noise level
    assert torch.equal(batch.aug_level, whole.aug_level)
    hits = [any(torch.equal(batch.x0[i], whole.x0[i, :, t:t + 16, l:l + 16]) for t in range(17) for l in range(17))
            for i in range(6)]
    assert all(hits)


def test_a_negative_crop_is_refused():
    with pytest.raises(ValueError, match="SR crop"):
        BUILTIN["gpu-sr"].with_(sr_crop=-1)
    assert BUILTIN["gpu-sr"].sr_crop == 64 and BUILTIN["gpu-sr"].role is Role.SR
