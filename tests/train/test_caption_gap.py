"""The caption gap: x̂₀'s error with an image's own caption, with none and with another image's."""

import numpy as np
import pytest

from studio.train.caption_gap import base_caption_gaps, caption_gaps
from studio.train.datasets import ImageDataset


def captioned(captions: tuple[str, ...]) -> ImageDataset:
    rng = np.random.default_rng(0)
    return ImageDataset(rng.integers(0, 256, (len(captions), 16, 16, 3), dtype=np.uint8), captions, {})


def test_the_three_errors_are_measured_at_each_noise_level_on_the_same_draws(tiny_cascade):
    data = captioned(("red apple", "blue cat", "star", "heart", "green face", "red heart"))
    gaps = caption_gaps(tiny_cascade / "base.safetensors", data, timesteps=(100, 900), count=6, seed=3)
    assert [g.t for g in gaps] == [100, 900]
    assert gaps == caption_gaps(tiny_cascade / "base.safetensors", data, timesteps=(100, 900), count=6, seed=3)
    for g in gaps:  # a random network: the prompt changes its prediction, so the three differ
        assert len({g.own, g.empty, g.other}) == 3 and all(0 < e < 4 for e in (g.own, g.empty, g.other))
    assert gaps[0].own < gaps[1].own  # more noise, less of the picture left to go on
    assert gaps[1].line().startswith("caption gap at t = 900: x̂₀ error ")


def test_with_one_caption_for_every_image_another_images_caption_is_its_own(tiny_cascade):
    gaps = caption_gaps(tiny_cascade / "base.safetensors", captioned(("red apple",) * 4), count=4)
    assert all(g.own == g.other != g.empty for g in gaps)


def test_only_a_text_conditioned_base_has_a_caption_gap(tiny_cascade):
    data = captioned(("a", "b"))
    with pytest.raises(ValueError, match="needs a text-conditioned base model"):
        caption_gaps(tiny_cascade / "classifier.safetensors", data)
    assert len(base_caption_gaps(tiny_cascade, data)) == 3  # the cascade's base, at its three levels
