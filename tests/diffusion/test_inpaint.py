"""Inpainting: replacement, RePaint and mask-channel models, checked against the analytic conditional
of correlated Gaussian data (exact ε*, see gaussian_oracle_tasks).

Data: D = 4 pixels, x₀ ~ N(μ, Σ) with std 0.5 and neighbour correlations ≈ 0.8 (full Σ). Pixels 0 and
2 are known (x_k = [0.8, −0.6]); pixels 1 and 3 are regenerated (mask = 1). Cosine schedule, T = 1000.
"""

from functools import cache

import pytest
import torch

from studio.core.enums import PredictionType, SamplerKind, VarianceType
from studio.diffusion.chain import SamplingCancelled, StepState
from studio.diffusion.denoiser import Prediction, abar_at, model_denoiser
from studio.diffusion.guidance import classifier_free_guidance
from studio.diffusion.inpaint import (
    composite,
    force_known_x0,
    forward_jump,
    inpaint,
    mask_channel_denoiser,
    mask_channels,
    repaint_positions,
    replace_known,
)
from studio.diffusion.samplers import SamplerOptions, ddpm_step, sampler_kinds, sampler_spec
from studio.diffusion.schedule import cosine_schedule, respace
from tests.diffusion.gaussian_oracle_tasks import (
    ExactDenoiser,
    correlated_gaussian,
    empirical,
    flat,
    image,
    kl,
)

SCHEDULE = cosine_schedule()
ABAR = SCHEDULE.alphas_cumprod
DATA = correlated_gaussian(4, seed=0, std=0.5, correlation=0.8)
KNOWN, UNKNOWN = [0, 2], [1, 3]
X_K = torch.tensor([0.8, -0.6], dtype=torch.float64)
TARGET = DATA.conditional(KNOWN, X_K)  # N(μ_u + Σ_uk Σ_kk⁻¹ (x_k − μ_k), Σ_uu − Σ_uk Σ_kk⁻¹ Σ_ku)
KNOWN_IMAGE = image(torch.tensor([[0.8, 7.0, -0.6, 7.0]], dtype=torch.float64))  # 7.0: never looked at
MASK = image(torch.tensor([[0.0, 1.0, 0.0, 1.0]], dtype=torch.float64))  # 1 = regenerate


@cache
def inpainted(steps: int, jump: int, resample: int, n: int = 8000, seed: int = 0,
              sampler: SamplerKind = SamplerKind.DDPM) -> torch.Tensor:
    g, chain = torch.Generator().manual_seed(seed), respace(SCHEDULE, steps)
    step = sampler_spec(sampler).step(chain, VarianceType.POSTERIOR, g, SamplerOptions())
    return inpaint(ExactDenoiser(DATA, ABAR), step, KNOWN_IMAGE.expand(n, -1, -1, -1), MASK, chain, ABAR,
                   jump_length=jump, resample_count=resample, generator=g)


def fit(x: torch.Tensor):
    """The Gaussian of the regenerated pixels' samples."""
    return empirical(flat(x)[:, UNKNOWN])


# ---- the known pixels -------------------------------------------------------------------------

@pytest.mark.parametrize("sampler", sampler_kinds())
@pytest.mark.parametrize(("jump", "resample"), [(1, 1), (3, 3)])
def test_known_pixels_are_kept_exactly(sampler, jump, resample):
    out = inpainted(20, jump, resample, n=200, sampler=sampler)
    assert torch.equal(flat(out)[:, KNOWN], X_K.expand(200, -1))
    assert flat(out)[:, UNKNOWN].std(0).min() > 0.1  # and the rest was really sampled


def test_known_pixels_of_a_float32_image_are_kept_bit_for_bit():
    """Arbitrary float32 pixels, a network that predicts ε = 0: the last step's x̂₀ = x_t/√ᾱ is only
    approximately the known image, and the final composite makes it exact."""
    g = torch.Generator().manual_seed(3)
    known = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 3:7] = 1
    denoise = model_denoiser(lambda x, t: torch.zeros_like(x), ABAR)
    chain = respace(SCHEDULE, 10)
    out = inpaint(denoise, ddpm_step(chain, generator=g), known, mask, chain, ABAR, generator=g)
    keep = (mask == 0).expand_as(known)
    assert out.dtype == torch.float32 and torch.equal(out[keep], known[keep])


def test_replacement_feeds_the_inner_denoiser_a_fresh_q_sample_of_the_known_region():
    """N = 40 000 rows at t = 600: known pixels ~ N(√ᾱ x_k, 1−ᾱ) (±5 SE); masked pixels untouched;
    x̂₀ reports the known image there."""
    seen = []

    def inner(x_t, t):
        seen.append(x_t)
        return Prediction.from_eps(x_t, abar_at(ABAR, t, x_t), torch.zeros_like(x_t))

    n, t = 40_000, 600
    x_t = torch.full((n, 1, 1, 4), 3.0, dtype=torch.float64)
    pred = replace_known(inner, KNOWN_IMAGE, MASK, ABAR, torch.Generator().manual_seed(0))(
        x_t, torch.full((n,), t))
    a = float(ABAR[t])
    known_t = flat(seen[0])[:, KNOWN]
    assert (known_t.mean(0) - a**0.5 * X_K).abs().max() < 5 * ((1 - a) / n) ** 0.5
    assert (known_t.var(0) - (1 - a)).abs().max() < 5 * (1 - a) * (2 / n) ** 0.5
    assert torch.equal(flat(seen[0])[:, UNKNOWN], flat(x_t)[:, UNKNOWN])
    assert torch.equal(flat(pred.x0)[:, KNOWN], X_K.expand(n, -1))
    assert torch.equal(pred.x_t, seen[0])  # samplers step from the replaced x_t


# ---- the regenerated pixels against N(μ_u|k, Σ_u|k) -------------------------------------------

def test_resampling_approaches_the_analytic_conditional():
    """K = 50 DDPM steps, jump length 5, N = 8000, seed 0. KL(fit ‖ target) in nats, measured:
    no conditioning at all 2.25; resample 1 (plain replacement) 0.31, 3 → 0.098, 10 → 0.060
    (seeds 0–4 give 0.050–0.060 at 10). Replacement is biased whatever K (0.30 at K = 230): its masked
    pixels learn about the known ones only through x_t. At resample 10 the mean is 0.076 from μ_u|k
    (conditional stds 0.27 and 0.34; SE of a sample mean ≈ 0.004) and the covariance 0.029 from Σ_u|k
    (Frobenius; its entries are 0.07–0.12): what is left is mostly K = 50 discretisation — the plain
    unmasked chain's own KL to the data is 0.037 here."""
    assert kl(DATA.marginal(UNKNOWN), TARGET) > 2.0
    kls = [kl(fit(inpainted(50, 5, r)), TARGET) for r in (1, 3, 10)]
    assert kls[0] < 0.45 and kls[1] < 0.5 * kls[0] and kls[2] < kls[1] and kls[2] < 0.25 * kls[0], kls
    best = fit(inpainted(50, 5, 10))
    assert (best.mean - TARGET.mean).norm() < 0.12
    assert (best.cov - TARGET.cov).norm() < 0.05


def test_repaint_lands_measurably_closer_than_replacement_at_the_same_cost():
    """RePaint (K = 50, jump 5, resample 5: 230 denoiser calls) against replacement with K = 50 and
    with K = 230 (the same number of calls), N = 8000, seed 0. Measured KL(fit ‖ target): 0.308 and
    0.297 against 0.076; distance of the means 0.206 and 0.199 against 0.100. Over seeds 0–4 RePaint's
    KL stays in 0.070–0.078 and replacement's in 0.28–0.31."""
    assert len(repaint_positions(49, 5, 5)) == 230
    replaced = [fit(inpainted(steps, 1, 1)) for steps in (50, 230)]
    repainted = fit(inpainted(50, 5, 5))
    kl_replaced = min(kl(f, TARGET) for f in replaced)
    kl_repainted = kl(repainted, TARGET)
    assert kl_repainted < 0.4 * kl_replaced, (kl_repainted, kl_replaced)
    mean_error_replaced = min(float((f.mean - TARGET.mean).norm()) for f in replaced)
    assert float((repainted.mean - TARGET.mean).norm()) < 0.7 * mean_error_replaced


# ---- RePaint's plan and jumps -----------------------------------------------------------------

def test_repaint_positions_descend_with_jumps_back_up_from_a_grid_counted_from_zero():
    assert repaint_positions(5, 1, 1) == [5, 4, 3, 2, 1, 0]
    assert repaint_positions(5, 2, 1) == [5, 4, 3, 2, 1, 0]  # resample 1: plain descent
    # Jump points j = 0, 2 (j + 2 ≤ 5): reaching 2 climbs back to 4, reaching 0 climbs back to 2.
    assert repaint_positions(5, 2, 2) == [5, 4, 3, 4, 3, 2, 1, 2, 1, 0]
    assert repaint_positions(4, 2, 3) == [4, 3, 4, 3, 4, 3, 2, 1, 2, 1, 2, 1, 0]
    assert repaint_positions(2, 5, 4) == [2, 1, 0]  # no stretch of length 5 fits
    assert repaint_positions(-1, 2, 2) == []
    # start + 1 + (resample − 1)·L·(number of jump points), as RePaint's get_schedule_jump(250, 10, 10).
    assert len(repaint_positions(249, 10, 10)) == 250 + 9 * 10 * 24
    # The climbs (from, to) sit on the grid 0, L, 2L, … whatever the start; the last one ends at x₀'s side.
    assert climbs(repaint_positions(11, 3, 2)) == [(6, 9), (3, 6), (0, 3)]
    assert climbs(repaint_positions(10, 3, 2)) == [(6, 9), (3, 6), (0, 3)]
    assert climbs(repaint_positions(7, 3, 2)) == [(3, 6), (0, 3)]
    with pytest.raises(ValueError):
        repaint_positions(5, 0, 2)


def climbs(plan: list[int]) -> list[tuple[int, int]]:
    """The forward jumps of a plan: (position reached, position climbed to)."""
    return [(i - 1, j) for i, j in zip(plan, plan[1:], strict=False) if j > i - 1]


def test_the_forward_jump_has_the_forward_process_statistics():
    """q(x_hi | x_lo) for x_lo = 0.5, N = 100 000: mean √(ᾱ_hi/ᾱ_lo)·0.5, variance 1 − ᾱ_hi/ᾱ_lo (±5 SE)."""
    chain = respace(SCHEDULE, 50)
    n = 100_000
    x = torch.full((n, 1, 1, 1), 0.5, dtype=torch.float64)
    jump = forward_jump(chain, torch.Generator().manual_seed(0))
    for lo, hi in ((10, 20), (-1, 5)):
        ratio = float(chain.alphas_cumprod[hi]) / (1.0 if lo < 0 else float(chain.alphas_cumprod[lo]))
        up = jump(x, lo, hi)
        assert abs(up.mean().item() - ratio**0.5 * 0.5) < 5 * ((1 - ratio) / n) ** 0.5
        assert abs(up.var().item() - (1 - ratio)) < 5 * (1 - ratio) * (2 / n) ** 0.5
    with pytest.raises(ValueError):
        jump(x, 20, 10)


def test_the_callback_gets_one_step_state_per_denoiser_call_including_resamples():
    chain = respace(SCHEDULE, 12)
    plan = repaint_positions(11, 4, 3)
    states: list[StepState] = []
    denoise = ExactDenoiser(DATA, ABAR)
    g = torch.Generator().manual_seed(0)
    inpaint(denoise, ddpm_step(chain, generator=g), KNOWN_IMAGE.expand(8, -1, -1, -1), MASK, chain, ABAR,
            jump_length=4, resample_count=3, generator=g, callback=states.append)
    assert len(plan) == 12 + 2 * 4 * 2 == len(states) == len(denoise.calls)
    assert [s.step for s in states] == list(range(len(plan)))
    assert {s.total for s in states} == {len(plan)}
    assert [s.index for s in states] == plan
    assert [s.t for s in states] == denoise.calls == [int(chain.timesteps[i]) for i in plan]
    assert all(torch.equal(flat(s.x0)[:, KNOWN], X_K.expand(8, -1)) for s in states)  # previews show x_k


def test_cancel_stops_before_the_next_denoiser_call():
    class AfterThree:
        def __init__(self):
            self.calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > 3

    denoise = ExactDenoiser(DATA, ABAR)
    with pytest.raises(SamplingCancelled) as stopped:
        g, chain = torch.Generator().manual_seed(0), respace(SCHEDULE, 10)
        inpaint(denoise, ddpm_step(chain, generator=g), KNOWN_IMAGE, MASK, chain, ABAR, jump_length=2,
                resample_count=2, generator=g, cancel=AfterThree())
    assert stopped.value.step == 3 and len(denoise.calls) == 3


# ---- models with mask channels ------------------------------------------------------------------

def test_mask_channels_come_as_mask_then_masked_image():
    known = torch.rand(2, 3, 4, 4) * 2 - 1
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    extra = mask_channels(known, mask)
    assert extra.shape == (2, 4, 4, 4)
    assert torch.equal(extra[:, :1], mask.expand(2, 1, 4, 4))
    assert torch.equal(extra[:, 1:, 2:], known[:, :, 2:]) and not extra[:, 1:, :2].any()


class Recorder:
    """A stand-in network `network(x_t, t, *, extra)` that concatenates [x_t, extra] as the U-Net
    does, records that input and predicts ε = 0."""

    def __init__(self):
        self.inputs: list[torch.Tensor] = []

    def __call__(self, x_t, t, *, extra):
        self.inputs.append(torch.cat([x_t, extra], dim=1))
        return torch.zeros_like(x_t)


def test_a_mask_channel_model_gets_x_t_mask_and_masked_image_in_that_order():
    known = torch.rand(2, 3, 4, 4) * 2 - 1
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 1:3, 1:3] = 1
    net = Recorder()
    denoise = mask_channel_denoiser(net, known, mask, ABAR, PredictionType.EPSILON)
    g = torch.Generator().manual_seed(0)
    chain = respace(SCHEDULE, 4)
    out = inpaint(denoise, ddpm_step(chain, generator=g), known, mask, chain, ABAR, mask_conditioned=True, generator=g)
    first = net.inputs[0]
    assert len(net.inputs) == 4 and first.shape == (2, 3 + 1 + 3, 4, 4)
    x_T = torch.randn(known.shape, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first[:, :3], x_T)  # x_t itself, not replaced: the model sees the mask instead
    assert torch.equal(first[:, 3:4], mask.expand(2, 1, 4, 4))
    assert torch.equal(first[:, 4:], known * (1 - mask))
    keep = (mask == 0).expand_as(known)
    assert torch.equal(out[keep], known[keep])


def test_classifier_free_guidance_doubles_the_mask_channels_with_the_batch():
    known = torch.rand(2, 3, 4, 4) * 2 - 1
    mask = torch.ones(1, 1, 4, 4)
    net = Recorder()
    paired = mask_channel_denoiser(net, known, mask, ABAR)
    classifier_free_guidance(paired, 3.0)(torch.randn(2, 3, 4, 4), torch.full((2,), 500))
    extra = net.inputs[0][:, 3:]
    assert extra.shape[0] == 4 and torch.equal(extra, torch.cat([mask_channels(known, mask)] * 2))


def test_composite_copies_known_pixels_and_blends_a_soft_edge():
    x = torch.full((1, 1, 1, 3), 1.0)
    known = torch.tensor([[[[0.1, 0.2, 0.3]]]])
    mask = torch.tensor([[[[0.0, 0.25, 1.0]]]])
    out = composite(x, known, mask)
    assert out[0, 0, 0, 0] == known[0, 0, 0, 0] and out[0, 0, 0, 2] == 1.0
    assert torch.isclose(out[0, 0, 0, 1], torch.tensor(0.25 + 0.75 * 0.2))


def test_forcing_the_known_pixels_into_x0_happens_before_clipping_and_moves_eps_with_it():
    """GLIDE's denoised_fn inside thresholding: x̂₀ = mask·x̂₀ + (1−mask)·known, then clipped; ε̂ follows x̂₀."""
    from studio.core.enums import Thresholding
    from studio.diffusion.thresholding import thresholded

    abar = torch.tensor(0.5)

    def denoise(x_t, t):
        return Prediction.from_x0(x_t, abar, torch.full_like(x_t, 3.0))

    known = torch.tensor([[[[0.25, -2.0]]]])
    mask = torch.tensor([[[[0.0, 1.0]]]])  # 1 = regenerate
    x_t = torch.zeros(1, 1, 1, 2)
    pred = thresholded(force_known_x0(denoise, known, mask), Thresholding.STATIC)(x_t, torch.tensor([5]))
    assert pred.x0.flatten().tolist() == [0.25, 1.0]
    assert torch.allclose(pred.eps, -pred.x0)  # ε̂ = (x_t − √ᾱ x̂₀)/√(1−ᾱ) at x_t = 0, ᾱ = ½
