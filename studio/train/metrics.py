"""Quality measures: classification accuracy score and a Fréchet distance on classifier features.

Classification accuracy score (Ravuri & Vinyals 2019, here in its "classifier trained on real data"
form): a classifier trained on real emoji labels images generated from each class's prompts; its
accuracy there, set against its accuracy on real images, says how recognisable the samples are.
The Fréchet distance (as in FID, Heusel et al. 2017) compares Gaussians fitted to the classifier's
penultimate features of the generated and the real sets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class EvalReport:
    real_accuracy: float
    generated_accuracy: float
    frechet_distance: float
    real_count: int
    generated_count: int
    classes: int
    # the generated images' accuracy for each class the judge knows, in its order; a class that was not
    # generated is left out
    class_accuracy: tuple[tuple[str, float], ...] = ()
    # (true class, judged class, count) of the generated images, most frequent mistakes first
    confusions: tuple[tuple[str, str, int], ...] = ()

    @property
    def accuracy_ratio(self) -> float:
        return self.generated_accuracy / max(self.real_accuracy, 1e-12)

    def summary(self) -> str:
        return (f"classification accuracy: real {self.real_accuracy:.3f} ({self.real_count} images), "
                f"generated {self.generated_accuracy:.3f} ({self.generated_count} images), "
                f"ratio {self.accuracy_ratio:.3f}; Fréchet distance {self.frechet_distance:.3f} "
                f"over {self.classes} classes")

    def breakdown(self, mistakes: int = 5) -> list[str]:
        """Lines for a person reading `studio eval`: where the generated images are (not) recognised."""
        lines = []
        if self.class_accuracy:
            lines.append("generated accuracy by class: "
                         + ", ".join(f"{name} {value:.2f}" for name, value in self.class_accuracy))
        if self.confusions:
            lines.append("most frequent mistakes (prompted class → judged class): " + ", ".join(
                f"{true} → {judged} ×{count}" for true, judged, count in self.confusions[:mistakes]))
        return lines


@torch.inference_mode()
def classify(classifier: torch.nn.Module, images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and penultimate features of uint8 [N, H, W, 3] images, at t = 0."""
    param = next(classifier.parameters())
    res = classifier.config.resolution
    preds, feats = [], []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch])).permute(0, 3, 1, 2).float()
        x = x / 127.5 - 1
        if x.shape[-1] != res:
            x = F.interpolate(x, size=(res, res), mode="bicubic", antialias=True).clamp(-1, 1)
        x = x.to(param.device, param.dtype)
        t = torch.zeros(x.shape[0], dtype=torch.long, device=param.device)
        f = classifier.features(x, t)
        preds.append(classifier.head(f).argmax(1).cpu().numpy())
        feats.append(f.float().cpu().numpy())
    return np.concatenate(preds), np.concatenate(feats).astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) for feature sets [N, D]."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((Σ_a Σ_b)^½) = Σ √λ_i of the symmetric matrix Σ_a^½ Σ_b Σ_a^½
    root_a = _sqrt_psd(cov_a)
    eigen = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    cross = np.sqrt(np.clip(eigen, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((m + m.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float((predicted == labels).mean()) if len(labels) else 0.0


def class_accuracy(predicted: np.ndarray, labels: np.ndarray,
                   names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """Accuracy among the images of each class that occurs in `labels` (indices into `names`)."""
    return tuple((name, accuracy(predicted[labels == i], labels[labels == i]))
                 for i, name in enumerate(names) if (labels == i).any())


def confusions(predicted: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> tuple[tuple[str, str, int], ...]:
    """Every (true, judged, count) with true ≠ judged, the most frequent first (ties in class order)."""
    pairs = Counter((true, judged) for true, judged in zip(labels.tolist(), predicted.tolist(), strict=True)
                    if true != judged)
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return tuple((names[true], names[judged], count) for (true, judged), count in ranked)
