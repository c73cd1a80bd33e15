"""The plan of a job: one place decides each stage's task, chain, start, steps and network calls — and the
runs, the progress total and the window's strength preview all agree with it.

Models: the tiny cascade of conftest (16 px base, 16 → 32 SR, classifier), linear schedule T = 1000.
"""

import math
import threading

import numpy as np
import pytest
import torch

from studio.core.enums import SamplerKind
from studio.core.events import JobStarted, StepEvent
from studio.core.jobs import ForkPoint, Inpaint, StrokesToImage, TextToImage, Upscale
from studio.core.settings import Settings, Stage
from studio.diffusion.inpaint import repaint_positions
from studio.diffusion.samplers import sampler_kinds, sampler_spec
from studio.engine.cache import ModelCache
from studio.engine.conditioning import training_schedule
from studio.engine.device import choose_device
from studio.engine.forward_preview import alpha_bar_at_strength
from studio.engine.models import load_cascade
from studio.engine.pipeline import Pipeline
from studio.engine.plan import Task, plan_job

FAST = Settings(prompt="red apple", steps=5, sr_steps=3, seed=11, guidance_scale=2.0)
PAINTING = np.full((16, 16, 3), 180, np.uint8)
MASK = np.zeros((16, 16), np.uint8)
MASK[4:12, 4:12] = 255


@pytest.fixture(scope="module")
def models(tiny_cascade):
    return load_cascade(ModelCache(choose_device("cpu")), tiny_cascade)


def test_text_to_image_plans_the_base_chain_from_x_T_then_the_sr_chain(models, tiny_cascade):
    plan = plan_job(TextToImage(str(tiny_cascade), FAST), models)
    base, sr = plan.stages
    assert (base.stage, base.task, base.start, base.steps) == (Stage.BASE, Task.SAMPLE, 4, 5)
    assert base.positions == (4, 3, 2, 1, 0) and len(base.chain) == 5 and base.model is models.base
    assert (sr.stage, sr.task, sr.positions, sr.model) == (Stage.SR, Task.SUPER_RESOLVE, (2, 1, 0), models.sr)
    assert plan.totals == ((Stage.BASE, 5), (Stage.SR, 3))
    assert plan_job(TextToImage(str(tiny_cascade), FAST.with_(cascade=False)), models).totals == ((Stage.BASE, 5),)


def test_strokes_start_where_the_window_preview_says_for_every_strength_and_step_count(models, tiny_cascade):
    """Strength 0.00 … 1.00 by 0.01 × steps 1 … 100: the timestep the plan starts SDEdit at is the t₀ the
    strength preview draws, and the preview's ᾱ is the chain's there (strength 0 runs no step; the preview
    then shows the painting, ᾱ = 1)."""
    log_snr = training_schedule(models.base).log_snr.tolist()
    mismatches = []
    for steps in range(1, 101):
        for hundredths in range(101):
            settings = FAST.with_(steps=steps, strength=hundredths / 100, cascade=False)
            stage = plan_job(StrokesToImage(str(tiny_cascade), settings, PAINTING), models).stages[0]
            timesteps = stage.chain.timesteps.tolist()
            preview_t0, abar = alpha_bar_at_strength(log_snr, timesteps, settings.strength)
            run = (timesteps[stage.start], float(stage.chain.alphas_cumprod[stage.start])) if stage.steps else (0, 1.0)
            if stage.task is not Task.SDEDIT or preview_t0 != run[0] or not math.isclose(abar, run[1], rel_tol=1e-6):
                mismatches.append((steps, settings.strength, preview_t0, run))
    assert mismatches == []


def test_inpainting_plans_repaints_positions_and_a_mask_channel_model_is_told_apart(models, tiny_cascade):
    settings = FAST.with_(repaint_jump=2, repaint_resample=3)
    base, sr = plan_job(Inpaint(str(tiny_cascade), settings, PAINTING, MASK), models).stages
    assert base.task is Task.INPAINT and base.positions == tuple(repaint_positions(4, 2, 3))
    assert base.steps == 5 + 2 * 2 * 2 and not base.mask_channels
    assert base.image is PAINTING and base.mask is MASK
    assert sr.task is Task.SUPER_RESOLVE and sr.image is PAINTING and sr.mask is MASK  # its output keeps them


def test_an_upscale_plans_only_the_sr_stage_on_the_image(models, tiny_cascade):
    (sr,) = plan_job(Upscale(str(tiny_cascade), FAST, PAINTING), models).stages
    assert (sr.stage, sr.task, sr.positions, sr.low_res is PAINTING, sr.mask) == (
        Stage.SR, Task.SUPER_RESOLVE, (2, 1, 0), True, None)


def test_forks_start_at_the_stored_position_of_their_own_stage(models, tiny_cascade):
    x_t = np.zeros((1, 3, 16, 16), np.float32)
    base_fork = ForkPoint(Stage.BASE, 2, 5, x_t, step=3)
    (base, sr) = plan_job(Inpaint(str(tiny_cascade), FAST, PAINTING, MASK, fork=base_fork), models).stages
    assert base.task is Task.INPAINT and base.positions == (2, 1, 0) and base.fork is base_fork
    assert sr.fork is None
    (strokes,) = plan_job(StrokesToImage(str(tiny_cascade), FAST.with_(cascade=False), PAINTING, fork=base_fork),
                          models).stages
    assert strokes.task is Task.SAMPLE and strokes.positions == (2, 1, 0)  # the painting only mattered at the start
    sr_fork = ForkPoint(Stage.SR, 1, 3, np.zeros((1, 3, 32, 32), np.float32), np.zeros((1, 3, 16, 16), np.float32))
    assert plan_job(TextToImage(str(tiny_cascade), FAST, fork=sr_fork), models).totals == ((Stage.SR, 2),)


@pytest.mark.parametrize(("job", "message"), [
    (lambda p: TextToImage(p, FAST, fork=ForkPoint(Stage.BASE, 1, 9, np.zeros(1, np.float32))), "same number of steps"),
    (lambda p: TextToImage(p, FAST, fork=ForkPoint(Stage.SR, 1, 3, np.zeros(1, np.float32))), "base image it refined"),
])
def test_a_plan_that_cannot_run_is_refused_before_anything_runs(models, tiny_cascade, job, message):
    with pytest.raises(ValueError, match=message):
        plan_job(job(str(tiny_cascade)), models)


def test_a_lone_sr_model_can_only_upscale(tiny_cascade):
    from dataclasses import replace

    cache = ModelCache(choose_device("cpu"))
    models = load_cascade(cache, tiny_cascade)
    sr_only = replace(models, base=None)
    with pytest.raises(ValueError, match="only upscale"):
        plan_job(TextToImage(str(tiny_cascade), FAST), sr_only)
    no_sr = replace(models, sr=None)
    with pytest.raises(ValueError, match="no super-resolution stage"):
        plan_job(Upscale(str(tiny_cascade), FAST, PAINTING), no_sr)


@pytest.mark.parametrize("kind", sampler_kinds())
def test_network_calls_are_steps_times_the_samplers_calls_per_step(models, tiny_cascade, kind):
    plan = plan_job(TextToImage(str(tiny_cascade), FAST.with_(sampler=kind)), models)
    assert plan.network_calls == (5 + 3) * sampler_spec(kind).network_calls


@pytest.mark.parametrize("make", [
    lambda p: TextToImage(p, FAST),
    lambda p: StrokesToImage(p, FAST.with_(strength=0.5, steps=7), PAINTING),
    lambda p: StrokesToImage(p, FAST.with_(strength=0.0), PAINTING),
    lambda p: Inpaint(p, FAST.with_(repaint_jump=2, repaint_resample=2, sampler=SamplerKind.DDPM), PAINTING, MASK),
    lambda p: Upscale(p, FAST, PAINTING),
], ids=["text", "strokes", "strokes-at-0", "inpaint-repaint", "upscale"])
def test_the_progress_total_is_the_number_of_steps_each_stage_reports(tiny_cascade, make):
    events = []
    Pipeline(ModelCache(choose_device("cpu"))).run(make(str(tiny_cascade)), 1, threading.Event(), events.append)
    started = next(e for e in events if isinstance(e, JobStarted))
    reported = [e.frame.stage for e in events if isinstance(e, StepEvent)]
    assert [(stage, reported.count(stage)) for stage, _ in started.stages] == list(started.stages)
    assert all(e.frame.total == dict(started.stages)[e.frame.stage] for e in events if isinstance(e, StepEvent))
    assert math.isclose(started.total_steps, len(reported))


def test_karras_spacing_plans_the_karras_chain_and_the_strength_preview_follows_it(models, tiny_cascade):
    """Spacing is a setting: both stages walk `karras_respace` of their model's schedule, and the window's
    schedule curve (which the strength preview reads) lists the same timesteps."""
    from studio.core.enums import Spacing
    from studio.diffusion.schedule import karras_respace
    from studio.engine.model_info import schedule_curve, summarize

    settings = FAST.with_(steps=12, spacing=Spacing.KARRAS)
    base, sr = plan_job(TextToImage(str(tiny_cascade), settings), models).stages
    assert torch.equal(base.chain.timesteps, karras_respace(training_schedule(models.base), 12).timesteps)
    assert torch.equal(sr.chain.timesteps, karras_respace(training_schedule(models.sr), 3).timesteps)
    uniform = plan_job(TextToImage(str(tiny_cascade), FAST.with_(steps=12)), models).stages[0]
    assert not torch.equal(base.chain.timesteps, uniform.chain.timesteps)
    curve = schedule_curve(summarize(str(tiny_cascade)), 12, Stage.BASE, Spacing.KARRAS)
    assert list(curve.chain) == base.chain.timesteps.tolist()


def test_a_respacing_string_picks_the_base_chain_s_timesteps_instead_of_the_step_count(models, tiny_cascade):
    T = models.base.config.diffusion.timesteps
    plan = plan_job(TextToImage(str(tiny_cascade), FAST.with_(respacing="2")), models)
    base, sr = plan.stages
    assert base.chain.timesteps.tolist() == [0, T - 1] and base.positions == (1, 0)
    assert len(sr.chain) == FAST.sr_steps  # the SR stage keeps its own step count
    sections = plan_job(TextToImage(str(tiny_cascade), FAST.with_(respacing="3,1")), models).stages[0]
    first = T // 2 + T % 2  # the first section's size; its 3 steps at round-half-to-even of i·(size−1)/2
    assert sections.chain.timesteps.tolist() == [0, round((first - 1) / 2), first - 1, first]
    with pytest.raises(ValueError, match=rf"^cannot take {T + 1} steps from a section of {T} "):
        plan_job(TextToImage(str(tiny_cascade), FAST.with_(respacing=str(T + 1))), models)


def test_the_sr_stage_walks_its_own_respacing_string_and_the_totals_and_curve_follow(models, tiny_cascade):
    from studio.engine.model_info import schedule_curve, summarize

    T = models.sr.config.diffusion.timesteps
    settings = FAST.with_(steps=4, respacing="2", sr_respacing="3")
    plan = plan_job(TextToImage(str(tiny_cascade), settings), models)
    base, sr = plan.stages
    assert len(base.chain) == 2 and len(sr.chain) == 3
    assert sr.chain.timesteps.tolist() == [0, round((T - 1) / 2), T - 1]
    assert plan.totals == ((Stage.BASE, 2), (Stage.SR, sr.steps))  # the progress bar's total
    summary = summarize(str(tiny_cascade))
    for stage, chain in ((Stage.BASE, base.chain), (Stage.SR, sr.chain)):
        curve = schedule_curve(summary, 4, stage, respacing="2" if stage is Stage.BASE else "3")
        assert list(curve.chain) == chain.timesteps.tolist()  # the plot shows the chain the run walks
    upscale = plan_job(Upscale(str(tiny_cascade), settings, np.zeros((16, 16, 3), np.uint8)), models).stages[0]
    assert len(upscale.chain) == 3


def test_a_respaced_run_s_frames_carry_its_chain_length_so_a_fork_walks_the_same_chain(tiny_cascade):
    pipeline = Pipeline(ModelCache(choose_device("cpu")))
    settings = FAST.with_(steps=30, respacing="4", cascade=False)
    run = pipeline.run(TextToImage(str(tiny_cascade), settings), 1, threading.Event(), lambda _: None)
    assert [f.chain_length for f in run.frames] == [4] * 4 and [f.total for f in run.frames] == [4] * 4
    frame = run.frames[1]
    fork = ForkPoint(Stage.BASE, frame.index, frame.chain_length, frame.x_t, step=frame.step + 1)
    forked = pipeline.run(TextToImage(str(tiny_cascade), settings, fork=fork), 2, threading.Event(), lambda _: None)
    assert len(forked.frames) == 3 and np.abs(forked.images.astype(int) - run.images.astype(int)).max() <= 1
