"""The strength slider's preview: the painting noised to x_t0 by the forward process, in numpy.

Runs on the UI thread, so it stays small and does no torch work: x_t0 = √ᾱ x₀ + √(1−ᾱ) ε with ε from a
fixed seed, on a uint8 image, ᾱ read from the model's schedule.
"""

from __future__ import annotations

import numpy as np

from studio.diffusion.sdedit import sdedit_steps


def noised_preview(painting: np.ndarray, alpha_bar: float, seed: int = 0) -> np.ndarray:
    x0 = painting.astype(np.float32) / 127.5 - 1.0
    noise = np.random.default_rng(seed).standard_normal(x0.shape).astype(np.float32)
    x_t = np.sqrt(alpha_bar) * x0 + np.sqrt(1.0 - alpha_bar) * noise
    return ((np.clip(x_t, -1, 1) + 1) * 127.5).round().astype(np.uint8)


def alpha_bar_at_strength(log_snr: list[float], timesteps: list[int], strength: float) -> tuple[int, float]:
    """The start timestep t₀ of SDEdit at this strength on the chain, and ᾱ there (1 at strength 0).

    The step count comes from `sdedit_steps`, the very function the run uses, so the preview's t₀ line
    and noised canvas are the run's start at every strength."""
    k = sdedit_steps(len(timesteps), strength)
    if k == 0:
        return 0, 1.0
    t0 = timesteps[k - 1]
    snr = float(np.exp(log_snr[t0]))
    return t0, snr / (1.0 + snr)
