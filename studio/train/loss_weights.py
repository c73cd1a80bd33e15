"""Per-sample weights of the training loss over noise levels.

An ε-prediction loss equals SNR_t × the error of x̂₀ (SNR_t = ᾱ_t / (1 − ᾱ_t)); a v-prediction loss
(SNR_t + 1) × that error. Uniform over t, the plain loss therefore spends nearly all of its weight on the
small-noise steps, which decide texture, and almost none where the noise has erased the picture — the
steps where the prompt decides what is drawn. Min-SNR-γ (Hang et al. 2023, "Efficient Diffusion Training
via Min-SNR Weighting Strategy") weighs the x̂₀ error by min(SNR_t, γ) instead: the small-noise steps
are capped at γ and the rest keep their share.
"""

from __future__ import annotations

import torch

from studio.core.enums import LossWeight, PredictionType


def loss_weights(kind: LossWeight, prediction: PredictionType, abar: torch.Tensor,
                 gamma: float) -> torch.Tensor | None:
    """Weights for the squared errors of a batch whose noise levels are ᾱ_t (`abar`, any shape);
    None for the plain loss."""
    if kind is LossWeight.UNIFORM:
        return None
    snr = abar / (1 - abar)
    # the target's squared error is `scale` × x̂₀'s, so this weight puts min(SNR, γ) on x̂₀'s
    scale = {PredictionType.EPSILON: snr, PredictionType.SAMPLE: torch.ones_like(snr),
             PredictionType.V: snr + 1}[prediction]
    return snr.clamp(max=gamma) / scale
