"""Evaluation measures."""

import numpy as np

from studio.train.metrics import EvalReport, accuracy, class_accuracy, confusions, frechet_distance


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


NAMES = ("Flags", "Objects", "Symbols")


def test_class_accuracy_scores_each_generated_class_and_leaves_out_the_ones_not_generated():
    labels = np.array([0, 0, 0, 0, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 2])
    assert class_accuracy(predicted, labels, NAMES) == (("Flags", 0.75), ("Symbols", 0.5))


def test_confusions_count_each_mistake_most_frequent_first():
    labels = np.array([0, 0, 1, 1, 1, 2, 2])
    predicted = np.array([0, 2, 2, 2, 0, 2, 1])
    assert confusions(predicted, labels, NAMES) == (
        ("Objects", "Symbols", 2), ("Flags", "Symbols", 1), ("Objects", "Flags", 1), ("Symbols", "Objects", 1))


def test_the_report_names_the_classes_and_the_mistakes_a_person_reads():
    report = EvalReport(real_accuracy=1.0, generated_accuracy=0.5, frechet_distance=1.0, real_count=4,
                        generated_count=4, classes=2, class_accuracy=(("Flags", 1.0), ("Objects", 0.0)),
                        confusions=(("Objects", "Flags", 2),))
    assert report.breakdown() == [
        "generated accuracy by class: Flags 1.00, Objects 0.00",
        "most frequent mistakes (prompted class → judged class): Objects → Flags ×2",
    ]
    assert EvalReport(1.0, 1.0, 0.0, 1, 1, 1).breakdown() == []
