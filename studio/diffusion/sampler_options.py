"""The user's sampler settings, as every step builder of the sampler table receives them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplerOptions:
    """Each sampler reads the fields its table entry names in `SamplerSpec.options` (the window enables
    only those)."""

    eta: float = 0.0  # DDIM's η: 0 is deterministic, 1 has the DDPM posterior's variance
    churn: float = 0.0  # Karras's S_churn: each step first raises σ by γ = min(S_churn/N, √2 − 1)
    snr: float = 0.16  # the Langevin corrector's signal-to-noise ratio r (Song et al. 2021)


DEFAULT_OPTIONS = SamplerOptions()  # frozen: safe as a shared default argument
