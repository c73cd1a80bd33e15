"""The contract every sampler of the table keeps, parametrised over the table (as diffusers' shared
scheduler tests are): a sampler added to `SAMPLERS` runs through all of it.

Data: Gaussians with their exact ε* (oracles.py), for which `chain_reference` gives the exact output
distribution of each sampler's discrete chain; the linear schedule, T = 1000.
"""

import dataclasses
import math
import threading

import pytest
import torch

from studio.core.enums import SamplerKind, VarianceType
from studio.diffusion.chain import SamplingCancelled, StepState
from studio.diffusion.samplers import SAMPLERS, SamplerOptions, sample, sampler_kinds, sampler_spec
from studio.diffusion.schedule import linear_schedule, respace
from tests.diffusion.chain_reference import chain_moments, reference_for
from tests.diffusion.oracles import (
    F64,
    Gaussian,
    Mixture,
    assert_moments_match,
    classifier,
    correlated_gaussian,
    denoiser,
    flat,
    image,
    isotropic,
    one_thread,  # noqa: F401  (autouse fixture)
)

LINEAR = linear_schedule()
AB = LINEAR.alphas_cumprod
FULL = correlated_gaussian(3)  # full covariance, eigenvalues 0.07, 0.46, 2.63
DIAGONAL = Gaussian(torch.tensor([0.5, -1.0], dtype=F64), torch.diag(torch.tensor([0.3, 1.2], dtype=F64) ** 2))
DATA = {"full": (FULL, 20_000), "diagonal": (DIAGONAL, 10_000)}  # (data, samples per run)
SMALL = respace(LINEAR, 10)
# The values each sampler option is checked at; a sampler that reads an option not named here fails
# `test_every_option_a_sampler_reads_has_values_to_check_it_at` until it gets values.
OPTION_VALUES = {"eta": (0.0, 1.0), "churn": (0.0, 20.0), "snr": (0.0, 0.16)}


def _option_variants(kind: SamplerKind) -> list[SamplerOptions]:
    variants = [SamplerOptions(snr=0.0)]
    for name in sampler_spec(kind).options:
        variants = [dataclasses.replace(o, **{name: v}) for o in variants for v in OPTION_VALUES.get(name, ())]
    return variants


# (kind, the model's variance type, options): every sampler under both fixed variance types a model can
# declare (a sampler that does not use it must give the same chain under both), at each option value.
CASES = [(kind, variance, options) for kind in sampler_kinds()
         for variance in (VarianceType.POSTERIOR, VarianceType.BETA) for options in _option_variants(kind)]
IDS = [f"{k.value}-model_{v.value}" + "".join(f"-{n}{getattr(o, n):g}" for n in sampler_spec(k).options)
       for k, v, o in CASES]


def _x(n: int, dim: int = 3, seed: int = 0) -> torch.Tensor:
    return image(torch.randn(n, dim, dtype=F64, generator=torch.Generator().manual_seed(seed)))


def _run(kind, x, chain, *, data=FULL, seed=1, variance=VarianceType.POSTERIOR, options=SamplerOptions(),  # noqa: B008
         **kw):
    return sample(kind, denoiser(data.eps, AB), x, chain, variance=variance, options=options,
                  generator=torch.Generator().manual_seed(seed), **kw)


# --- the table itself ---------------------------------------------------------------------------


def test_the_table_has_one_entry_per_sampler_kind_in_the_enums_order():
    """The window's list and the CLI's choices are the enum's members; the table must hold exactly those."""
    assert tuple(SAMPLERS) == sampler_kinds() == tuple(SamplerKind)
    for kind, spec in SAMPLERS.items():
        assert spec.kind is kind and spec.network_calls >= 1 and spec.label
        reference_for(spec)  # every sampler has an exact reference to be checked against


def test_every_option_a_sampler_reads_has_values_to_check_it_at():
    fields = {f.name for f in dataclasses.fields(SamplerOptions)}
    for spec in SAMPLERS.values():
        assert set(spec.options) <= fields and set(spec.options) <= set(OPTION_VALUES), spec.kind


def test_an_unknown_sampler_name_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="no sampler 'no-such-sampler'.*ddpm"):
        sampler_spec("no-such-sampler")


# --- the exact discrete chain -------------------------------------------------------------------


@pytest.mark.parametrize("data_name", ["full", "diagonal"])
@pytest.mark.parametrize(("kind", "variance", "options"), CASES, ids=IDS)
def test_output_has_the_exact_mean_and_covariance_of_its_discrete_chain(kind, variance, options, data_name):
    """50 linear steps, N = 20 000 (full) / 10 000 (diagonal): every mean and covariance entry within 4.5 SE
    of the exact chain's (SE of a covariance entry √((S_ii S_jj + S_ij²)/N))."""
    data, n = DATA[data_name]
    chain = respace(LINEAR, 50)
    samples = _run(kind, _x(n, data.dim), chain, data=data, variance=variance, options=options)
    mean, cov = chain_moments(data, chain.alphas_cumprod.tolist(), sampler_spec(kind), options=options,
                              variance=variance, chain=chain)
    assert_moments_match(samples, mean, cov, z=4.5)


@pytest.mark.parametrize("kind", sampler_kinds())
def test_samples_approach_the_data_as_steps_grow(kind):
    """The same x_T and seed at 25 and 400 linear steps (N = 20 000): the covariance error (relative
    Frobenius) falls, and at 400 steps the samples match the data — mean within 4.5 SE, covariance within
    3 % (exact chains at 400 steps: 0.3 %–1.8 %; sampling error of this N ≈ 1 %)."""
    errors = []
    for steps in (25, 400):
        samples = _run(kind, _x(20_000), respace(LINEAR, steps))
        m_hat, s_hat = flat(samples).mean(0), torch.cov(flat(samples).T)
        errors.append(float((s_hat - FULL.cov).norm() / FULL.cov.norm()))
    assert errors[1] < errors[0] and errors[1] < 0.03, errors
    assert ((m_hat - FULL.mean).abs() <= 4.5 * (FULL.cov.diagonal() / 20_000).sqrt()).all()


# --- steps, callback, network calls -------------------------------------------------------------


@pytest.mark.parametrize("kind", sampler_kinds())
def test_the_callback_fires_once_per_step_with_the_x0_predicted_from_that_steps_x_t(kind):
    """10 steps from position 9 to 0: steps numbered 0…9, descending positions and timesteps; each step calls
    the denoiser at least once and at most `network_calls` times, first at the x_t it reports; the reported x̂₀
    is the exact denoiser's prediction there (to 1e-12); the output is the last step's x̂₀ (σ = 0 at the end)."""
    spec, seen, inputs, calls_before = sampler_spec(kind), [], [], [0]
    exact = denoiser(FULL.eps, AB)

    def recording(x_t, t):
        inputs.append(x_t)
        return exact(x_t, t)

    def callback(state: StepState) -> None:
        seen.append(state)
        calls_before.append(len(inputs))

    x = _x(4)
    out = sample(kind, recording, x, SMALL, generator=torch.Generator().manual_seed(0), callback=callback)
    assert [s.step for s in seen] == list(range(10)) and {s.total for s in seen} == {10}
    assert [s.index for s in seen] == list(range(9, -1, -1))
    assert [s.t for s in seen] == SMALL.timesteps.flip(0).tolist()
    assert torch.equal(seen[0].x_t, x)
    for n, state in enumerate(seen):
        assert 1 <= calls_before[n + 1] - calls_before[n] <= spec.network_calls
        assert torch.equal(inputs[calls_before[n]], state.x_t)
        predicted = exact(state.x_t, torch.full((4,), state.t))
        assert torch.allclose(state.x0, predicted.x0, rtol=0, atol=1e-12)
    assert torch.allclose(seen[-1].x0, out, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", sampler_kinds())
@pytest.mark.parametrize("k", [1, 4, 9])
def test_cancel_set_after_step_k_stops_before_the_next_call_with_the_last_prediction(kind, k):
    token, seen, calls, calls_at_cancel = threading.Event(), [], [], []

    def callback(state: StepState) -> None:
        seen.append(state)
        if state.step == k - 1:
            token.set()
            calls_at_cancel.append(len(calls))

    with pytest.raises(SamplingCancelled) as info:
        sample(kind, denoiser(FULL.eps, AB, calls), _x(4), SMALL, generator=torch.Generator().manual_seed(0),
               callback=callback, cancel=token)
    assert info.value.step == k and len(seen) == k and calls_at_cancel == [len(calls)]
    assert k <= len(calls) <= k * sampler_spec(kind).network_calls
    assert torch.equal(info.value.x0, seen[-1].x0)


@pytest.mark.parametrize("kind", sampler_kinds())
def test_cancel_before_the_first_step_carries_no_prediction_and_calls_nothing(kind):
    token, calls = threading.Event(), []
    token.set()
    with pytest.raises(SamplingCancelled) as info:
        sample(kind, denoiser(FULL.eps, AB, calls), _x(4), SMALL, cancel=token)
    assert info.value.step == 0 and info.value.x0 is None and calls == []


# --- start position and determinism -------------------------------------------------------------


@pytest.mark.parametrize("kind", sampler_kinds())
def test_a_run_started_at_position_3_continues_the_same_chain_exactly(kind):
    """Resuming from the x_t a full run had at position 3, with a generator seeded as the run's was (not in
    the state the run left it: each step's noise is keyed by its position), gives the full run's output bit
    for bit: four steps, numbered 0…3, at positions 3…0. A multistep sampler has no history at the resumed
    start, so its first step is first order: the output is close (on this coarse 10-step chain within 25 %
    of the data's largest std; measured 19 %) but not equal — and another resume gives it again bit for
    bit."""
    g = torch.Generator().manual_seed(7)
    states = []
    full = sample(kind, denoiser(FULL.eps, AB), _x(64), SMALL, generator=g, callback=states.append)
    x_at_3 = next(s.x_t for s in states if s.index == 3)
    resumed_g = torch.Generator().manual_seed(7)
    seen = []
    resumed = sample(kind, denoiser(FULL.eps, AB), x_at_3, SMALL, start=3, generator=resumed_g, callback=seen.append)
    assert [s.index for s in seen] == [3, 2, 1, 0] and [s.step for s in seen] == [0, 1, 2, 3]
    assert {s.total for s in seen} == {4}
    if not sampler_spec(kind).multistep:
        assert torch.equal(resumed, full)
        return
    assert not torch.equal(resumed, full) and (resumed - full).abs().max() < 0.25 * FULL.cov.diagonal().max().sqrt()
    resumed_g.manual_seed(7)
    assert torch.equal(sample(kind, denoiser(FULL.eps, AB), x_at_3, SMALL, start=3, generator=resumed_g), resumed)


@pytest.mark.parametrize("kind", sampler_kinds())
@pytest.mark.parametrize("start", [-1, 10])
def test_a_start_outside_the_chain_is_refused(kind, start):
    with pytest.raises(ValueError, match="outside the chain"):
        sample(kind, denoiser(FULL.eps, AB), _x(4), SMALL, start=start)


@pytest.mark.parametrize(("kind", "variance", "options"), CASES, ids=IDS)
def test_a_seed_gives_the_same_samples_and_another_seed_other_samples_if_any_noise_is_drawn(kind, variance,
                                                                                           options):
    """Same seed: identical. A sampler that draws noise (without a generator it follows torch's global
    seed) gives a different value everywhere for another seed; one that draws none (DDIM at η = 0) ignores
    the generator."""
    def run(seed, generator=True):
        g = torch.Generator().manual_seed(seed)
        if not generator:
            torch.manual_seed(seed)
        x = _x(64)
        return sample(kind, denoiser(FULL.eps, AB), x, SMALL, variance=variance, options=options,
                      generator=g if generator else None)

    a, b, c = run(5), run(5), run(6)
    drew = not torch.equal(run(5, generator=False), run(6, generator=False))
    assert torch.equal(a, b)
    if drew:
        assert (a - c).abs().min() > 0
    else:
        assert torch.equal(a, c)


# --- classifier guidance ------------------------------------------------------------------------

# Overlapping 1-D modes N(∓1, 0.8²) with weights 0.7 / 0.3: p(x > 0) = 0.342 without guidance.
OVERLAP = Mixture(torch.tensor([0.7, 0.3], dtype=F64), (isotropic([-1.0], 0.8), isotropic([1.0], 0.8)))


@pytest.mark.parametrize("kind", sampler_kinds())
def test_each_samplers_classifier_guidance_raises_the_probability_of_the_class(kind):
    """N = 4000, 100 steps, guided toward the minority class y = 1 in this sampler's own guidance form:
    scale 0 changes nothing (bit for bit); the share of class-1 samples rises from ≈ 0.34 (s = 0) past
    0.80 at s = 1 (the conditional p(x | y = 1) has 0.894) and past 0.97 at s = 3."""
    spec, chain, n = sampler_spec(kind), respace(LINEAR, 100), 4000
    x_T = image(torch.randn(n, 1, dtype=F64, generator=torch.Generator().manual_seed(7)))

    def share(scale):
        guided = spec.with_classifier_guidance(denoiser(OVERLAP.eps, AB), classifier(OVERLAP, 1, AB), scale, chain,
                                               VarianceType.POSTERIOR)
        out = sample(kind, guided, x_T, chain, generator=torch.Generator().manual_seed(8))
        return out, float((OVERLAP.nearest(flat(out)) == 1).to(F64).mean())

    plain = sample(kind, denoiser(OVERLAP.eps, AB), x_T, chain, generator=torch.Generator().manual_seed(8))
    unguided, p0 = share(0.0)
    assert torch.equal(unguided, plain)
    _, p1 = share(1.0)
    _, p3 = share(3.0)
    se = math.sqrt(0.342 * 0.658 / n)
    assert abs(p0 - 0.342) < 4 * se and p1 > 0.80 and p3 > 0.97, (p0, p1, p3)
