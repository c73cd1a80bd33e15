"""Evaluation measures."""

import numpy as np

from studio.train.metrics import accuracy, frechet_distance


def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_shifted_set():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 5))
    assert abs(frechet_distance(a, a)) < 1e-8
    assert abs(frechet_distance(a, a + 2.0) - 5 * 4.0) < 1e-6


def test_frechet_distance_of_scaled_gaussians_matches_the_closed_form():
    """N(0, I) against N(0, 4I) in 3-D: tr(I + 4I − 2·2I) = 3."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200_000, 3)), 2 * rng.normal(size=(200_000, 3))
    assert abs(frechet_distance(a, b) - 3.0) < 0.05


def test_accuracy_counts_matches():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
