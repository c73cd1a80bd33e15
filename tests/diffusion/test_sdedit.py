"""SDEdit: strength 0 is the painting, strength 1 is text → image, and in between it runs round(s·K)
steps from the q-sampled painting, drifting further from the painting as s grows.

Data: D = 4 correlated pixels, std 0.5, exact ε* (gaussian_oracle_tasks); the painting
[1.5, −1.0, 1.2, 0.0] lies far from the data, like rough strokes. Linear schedule, T = 1000, K = 50.
"""

import pytest
import torch

from studio.core.enums import SamplerKind, VarianceType
from studio.diffusion.chain import StepState
from studio.diffusion.forward_process import initial_noise
from studio.diffusion.samplers import SamplerOptions, sample, sampler_kinds, sampler_spec
from studio.diffusion.schedule import linear_schedule, respace
from studio.diffusion.sdedit import sdedit, sdedit_start, sdedit_steps
from tests.diffusion.gaussian_oracle_tasks import ExactDenoiser, correlated_gaussian, flat, image

SCHEDULE = linear_schedule()
ABAR = SCHEDULE.alphas_cumprod
CHAIN = respace(SCHEDULE, 50)
DATA = correlated_gaussian(4, seed=0, std=0.5, correlation=0.8)
STROKES = torch.tensor([1.5, -1.0, 1.2, 0.0], dtype=torch.float64)


def painting(n: int) -> torch.Tensor:
    return image(STROKES.expand(n, -1))


def step(kind: SamplerKind, g: torch.Generator, options: SamplerOptions = SamplerOptions()):  # noqa: B008
    """The table's step for `kind` on CHAIN, drawing from `g` (the generator the task draws from too)."""
    return sampler_spec(kind).step(CHAIN, VarianceType.POSTERIOR, g, options)


def test_strength_zero_returns_the_painting_without_a_step_or_a_draw():
    g = torch.Generator().manual_seed(0)
    before = g.get_state()
    denoise, states = ExactDenoiser(DATA, ABAR), []
    p = painting(3)
    x, position = sdedit_start(p, CHAIN, 0.0, g)
    assert position == -1 and x is p
    assert sdedit(denoise, step(SamplerKind.DDPM, g), p, CHAIN, 0.0, generator=g, callback=states.append) is p
    assert denoise.calls == [] and states == [] and torch.equal(g.get_state(), before)


EVERY_SAMPLER = [(kind, SamplerOptions(eta=eta)) for kind in sampler_kinds()
                 for eta in ((0.0, 0.5) if "eta" in sampler_spec(kind).options else (0.0,))]


@pytest.mark.parametrize(("kind", "options"), EVERY_SAMPLER)
def test_strength_one_is_text_to_image_with_the_same_seed(kind, options):
    """Bit for bit, for every sampler of the table: both draw x_T with `initial_noise` first, then run all
    K steps; the painting is unused."""
    shape = (500, 1, 1, 4)
    g = torch.Generator().manual_seed(4)
    x_T = initial_noise(shape, g, dtype=torch.float64)
    text_to_image = sample(kind, ExactDenoiser(DATA, ABAR), x_T, CHAIN, options=options, generator=g)
    for strokes in (painting(500), -painting(500)):
        g = torch.Generator().manual_seed(4)
        edited = sdedit(ExactDenoiser(DATA, ABAR), step(kind, g, options), strokes, CHAIN, 1.0, generator=g)
        assert torch.equal(text_to_image, edited)


@pytest.mark.parametrize(("strength", "steps"), [
    (0.0, 0), (0.009, 0), (0.01, 1), (0.3, 15), (0.5, 25), (0.62, 31), (0.99, 50), (1.0, 50)])
def test_sdedit_runs_round_strength_times_k_steps(strength, steps):
    """From chain position k − 1 down to 0, one denoiser call and one callback per step."""
    assert sdedit_steps(50, strength) == steps
    denoise, states = ExactDenoiser(DATA, ABAR), []
    g = torch.Generator().manual_seed(0)
    sdedit(denoise, step(SamplerKind.DDIM, g), painting(2), CHAIN, strength, generator=g, callback=states.append)
    assert [s.index for s in states] == list(range(steps - 1, -1, -1))
    assert denoise.calls == [int(CHAIN.timesteps[i]) for i in range(steps - 1, -1, -1)]
    assert all(isinstance(s, StepState) and s.total == steps for s in states)


def test_halves_round_up():
    """round(s·K) with halves up, unlike Python's round: 0.5 of 5 steps is 3, 0.3 of 5 is 2."""
    assert [sdedit_steps(5, s) for s in (0.1, 0.3, 0.5, 0.7, 0.9)] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError):
        sdedit_steps(50, 1.2)


def test_the_start_is_the_forward_process_sample_of_the_painting():
    """At strength 0.4 (k = 20): x ~ N(√ᾱ_19 · painting, (1 − ᾱ_19) I) per pixel, N = 20 000 (±5 SE)."""
    n = 20_000
    x, position = sdedit_start(painting(n), CHAIN, 0.4, torch.Generator().manual_seed(2))
    a = float(CHAIN.alphas_cumprod[19])
    assert position == 19
    assert (flat(x).mean(0) - a**0.5 * STROKES).abs().max() < 5 * ((1 - a) / n) ** 0.5
    assert (flat(x).var(0) - (1 - a)).abs().max() < 5 * (1 - a) * (2 / n) ** 0.5


def distances(strength: float, sampler: SamplerKind, n: int = 4000) -> torch.Tensor:
    """‖output − painting‖ of n samples, all runs seeded alike (common random numbers)."""
    g = torch.Generator().manual_seed(1)
    out = sdedit(ExactDenoiser(DATA, ABAR), step(sampler, g), painting(n), CHAIN, strength, generator=g)
    return (flat(out) - STROKES).norm(dim=1)


def grows(lo: torch.Tensor, hi: torch.Tensor) -> bool:
    """The mean distance rises by more than 5 standard errors of the paired difference."""
    diff = hi - lo
    return bool(diff.mean() > 5 * diff.std() / len(diff) ** 0.5)


def test_the_mean_distance_to_the_painting_grows_with_strength():
    """N = 4000 per strength; the runs share their seed, so each rise is judged by the standard error
    of the per-sample difference (≤ 0.007). DDIM (η = 0) measured: 0, 1.95, 2.43, 2.63, 2.67 at
    strengths 0, 0.25, 0.5, 0.75, 1. DDPM forgets the painting sooner: 0, 1.44, 2.16, 2.54 at
    0, 0.1, 0.2, 0.4, then 2.65 at 0.7 and 2.67 at 1 — within 0.05 (2 %) of each other."""
    ddim = [distances(s, SamplerKind.DDIM) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert not ddim[0].any()
    assert all(grows(lo, hi) for lo, hi in zip(ddim, ddim[1:], strict=False)), [float(d.mean()) for d in ddim]
    ddpm = [distances(s, SamplerKind.DDPM) for s in (0.0, 0.1, 0.2, 0.4, 0.7, 1.0)]
    means = [float(d.mean()) for d in ddpm]
    assert all(grows(lo, hi) for lo, hi in zip(ddpm[:4], ddpm[1:4], strict=False)), means
    assert means[3] < means[4] and abs(means[5] - means[4]) < 0.05, means
