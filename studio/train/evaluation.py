"""`studio eval`'s measuring side: a classifier trained on the real data judges generated images.

Generating the images is the engine's work and the CLI asks it; reading the classifier and the data and
computing the scores (train.metrics) happens here, so the CLI imports neither `models` nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from studio.core.enums import Role
from studio.models.files import load_model
from studio.train.datasets import ImageDataset
from studio.train.metrics import EvalReport, accuracy, class_accuracy, classify, confusions, frechet_distance


@dataclass(frozen=True, eq=False)
class Judge:
    """A noise-aware classifier used at t = 0 to label images and give their features."""

    module: nn.Module
    class_names: tuple[str, ...]

    def label_field(self, dataset: ImageDataset) -> str:
        """The dataset's label whose values are all classes of this classifier."""
        for name, values in dataset.labels.items():
            if set(values) <= set(self.class_names):
                return name
        raise ValueError("the data's labels do not match the classifier's classes")


def load_judge(path: str | Path) -> Judge:
    model = load_model(path)
    if model.config.role is not Role.CLASSIFIER:
        raise ValueError(f"{path} is not a classifier")
    return Judge(model.module, tuple(model.config.classifier.class_names))


def evaluate(judge: Judge, real: ImageDataset, label: str, images: np.ndarray, labels: np.ndarray) -> EvalReport:
    """Accuracy on the real and on the generated images (`labels` index the judge's classes), and the
    Fréchet distance between their features."""
    index = {name: i for i, name in enumerate(judge.class_names)}
    real_labels = np.array([index[v] for v in real.labels[label]])
    real_pred, real_feat = classify(judge.module, real.images)
    gen_pred, gen_feat = classify(judge.module, images)
    return EvalReport(
        real_accuracy=accuracy(real_pred, real_labels), generated_accuracy=accuracy(gen_pred, labels),
        frechet_distance=frechet_distance(gen_feat, real_feat), real_count=len(real_labels),
        generated_count=len(labels), classes=len(set(labels.tolist())),
        class_accuracy=class_accuracy(gen_pred, labels, judge.class_names),
        confusions=confusions(gen_pred, labels, judge.class_names),
    )
