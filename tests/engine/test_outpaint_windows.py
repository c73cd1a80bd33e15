"""Outpainting's canvas and windows."""

import numpy as np
import pytest

from studio.engine.outpaint_windows import Growth, axis_starts, grow, next_window


def test_growing_puts_the_image_at_its_offset_and_masks_exactly_the_new_area():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    canvas, mask = grow(image, Growth(left=2, top=1, right=3, bottom=0))
    assert canvas.shape == (5, 11, 3) and mask.shape == (5, 11)
    assert np.array_equal(canvas[1:, 2:8], image)
    assert (mask[1:, 2:8] == 0).all() and (mask == 255).sum() == 5 * 11 - 4 * 6


def test_windows_overlap_and_the_last_one_is_flush_with_the_end():
    assert axis_starts(40, 16, 8) == [0, 8, 16, 24]
    assert axis_starts(30, 16, 8) == [0, 8, 14]
    assert axis_starts(16, 16, 8) == [0]
    with pytest.raises(ValueError, match="smaller than the model's 16 px"):
        axis_starts(12, 16, 4)
    with pytest.raises(ValueError, match="overlap"):
        axis_starts(40, 16, 16)


def test_the_next_window_is_the_one_with_most_painted_pixels_so_growth_on_the_left_starts_at_the_image():
    _, mask = grow(np.zeros((16, 16, 3), np.uint8), Growth(left=16))
    first = next_window(mask, 16, 8)
    assert (first.top, first.left) == (0, 8)  # half image, half new: context on its right
    mask[first.region()] = 0
    assert (next_window(mask, 16, 8).left) == 0
    mask[:] = 0
    assert next_window(mask, 16, 8) is None


def test_growing_by_nothing_or_by_a_negative_amount_is_refused():
    with pytest.raises(ValueError, match="at least one side"):
        Growth()
    with pytest.raises(ValueError, match="0 to 4096"):
        Growth(left=-1)
