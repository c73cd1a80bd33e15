"""Respacing strings in the window's view models: both chains' strings are settings, checked against the
open model's T as they are typed; a model's authors' strings come with it; the step count they replace is
disabled; the schedule plot and a fork follow the respaced chain (the fake engine: tests/app/fakes.py)."""

from dataclasses import replace

from studio.app.generation import GenerationModel, Mode
from studio.app.session import Control, Opened
from studio.core.enums import SamplerKind
from studio.core.settings import JobKind, Recipe, Settings, Stage
from tests.app.fakes import frame, summary


def _idle(session, qtbot):
    qtbot.waitUntil(lambda: not session.background.busy, timeout=10_000)


def test_both_respacing_strings_reach_the_job_and_a_recipe_brings_them_back(qtbot):
    g = GenerationModel()
    g.respacing, g.sr_respacing = " 100 ", "fast27"
    settings = g.settings(with_classifier=False)
    assert (settings.respacing, settings.sr_respacing) == ("100", "fast27")
    g.apply(Recipe(JobKind.TEXT_TO_IMAGE, "m", "0" * 64, Settings(respacing="ddim25", sr_respacing=""), 8, 8))
    assert (g.respacing, g.sr_respacing) == ("ddim25", "")


def test_a_string_the_model_s_chain_cannot_take_is_named_at_once_and_a_good_one_clears_it(opened):
    g = opened.generation
    assert (opened.respacing_problem, opened.sr_respacing_problem) == ("", "")
    g.respacing = "fast2"
    assert opened.respacing_problem == "respacing 'fast2' is not a step count, a list of counts, ddimN or fast27"
    g.respacing = "1001"  # the fake model has T = 1000
    assert opened.respacing_problem == "respacing: cannot take 1001 steps from a section of 1000 ('1001' of 1000)"
    g.respacing, g.sr_respacing = "10,10", "ddim"
    assert opened.respacing_problem == ""
    assert opened.sr_respacing_problem.startswith("super-resolution respacing 'ddim' is not a step count")


def test_a_respacing_string_disables_the_step_count_it_replaces(opened):
    g = opened.generation
    assert opened.applies(Control.STEPS) and opened.applies(Control.SR_STEPS)
    g.respacing, g.sr_respacing = "25", "fast27"
    assert not opened.applies(Control.STEPS) and not opened.applies(Control.SR_STEPS)
    g.sr_respacing, g.cascade = "", False
    assert not opened.applies(Control.SR_STEPS)  # no SR stage runs
    g.mode = Mode.UPSCALE
    assert opened.applies(Control.SR_STEPS)


def test_a_newly_opened_model_brings_its_authors_strings_and_another_model_clears_them(make_session):
    session = make_session()
    glide = replace(summary("glide"), defaults=(("guidance_scale", 3.0), ("respacing", "100"),
                                                ("sr_respacing", "fast27")))
    session._opened(Opened("glide.safetensors", glide))
    g = session.generation
    assert (g.respacing, g.sr_respacing, g.guidance_scale) == ("100", "fast27", 3.0)
    g.respacing = "50"
    session._opened(Opened("glide.safetensors", glide))  # start-up reopens the last session's model: the user's
    assert g.respacing == "50"
    session._opened(Opened("ours.safetensors", summary("ours")))  # its chain is not GLIDE's: the step counts
    assert (g.respacing, g.sr_respacing, g.guidance_scale) == ("", "", 3.0)


def test_the_schedule_plot_draws_the_respaced_chain_and_none_while_the_string_is_wrong(opened, qtbot):
    errors = []
    opened.error.connect(errors.append)
    g, schedule = opened.generation, opened.schedule
    g.respacing = "7"
    _idle(opened, qtbot)
    assert len(schedule.curve.chain) == 7
    g.respacing = "7,"  # half typed
    _idle(opened, qtbot)
    assert schedule.curve is None and errors == []  # the line edit says what is wrong, not the status bar
    g.respacing = ""
    _idle(opened, qtbot)
    assert len(schedule.curve.chain) == g.steps == 30
    g.sr_respacing = "5"
    schedule.show_frame(frame(Stage.SR, 0, 5))
    _idle(opened, qtbot)
    assert schedule.curve.stage is Stage.SR and len(schedule.curve.chain) == 5


def test_a_fork_walks_the_chain_its_run_walked_with_the_run_s_strings(opened, fake_runner, qtbot):
    g = opened.generation
    g.respacing, g.sr_respacing, g.seed_locked = "3", "2", True
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.generate()
    g.respacing, g.steps = "", 12
    opened.timeline.index = 1
    point = opened.timeline.fork_point()
    assert point.steps == 30  # the fake frames do not say their chain's length: the parent's step count
    last = opened.last_result
    opened.timeline.set_result(replace(last, frames=tuple(replace(f, chain_length=3) for f in last.frames)))
    opened.timeline.index = 1
    assert opened.timeline.fork_point().steps == 3
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.fork_from_current_step()
    assert (g.respacing, g.sr_respacing) == ("3", "2")
    job = fake_runner.jobs[-1]
    assert (job.fork.steps, job.settings.respacing, job.settings.sr_respacing) == (3, "3", "2")


def test_a_malformed_sr_string_does_not_block_a_run_without_the_sr_stage(opened, fake_runner, qtbot):
    errors = []
    opened.error.connect(errors.append)
    g = opened.generation
    g.sr_respacing, g.cascade = "fast2", False  # half typed; the cascade is off, so no SR stage runs
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        assert opened.generate() is not None
    assert errors == [] and fake_runner.jobs[-1].settings.sr_respacing == ""
    g.cascade = True  # now the SR stage runs: the string is refused in one line
    assert opened.generate() is None
    assert errors == ["super-resolution respacing 'fast2' is not a step count, a list of counts, ddimN or fast27"]


def test_an_sr_sampler_comes_with_a_model_reaches_only_runs_with_the_sr_stage_and_enables_what_it_reads(
        make_session, fake_runner, qtbot):
    session = make_session()
    glide = replace(summary("glide"), defaults=(("sampler", SamplerKind.DDPM), ("sr_sampler", SamplerKind.DDIM)))
    session._opened(Opened("glide.safetensors", glide))
    g = session.generation
    assert (g.sampler, g.sr_sampler) == (SamplerKind.DDPM, SamplerKind.DDIM)
    assert session.applies(Control.SR_SAMPLER) and session.applies(Control.ETA)  # DDIM's η, for the SR stage
    g.cascade = False
    assert not session.applies(Control.SR_SAMPLER) and not session.applies(Control.ETA)  # DDPM alone reads no η
    with qtbot.waitSignal(session.runner.finished, timeout=10_000):
        session.generate()
    assert fake_runner.jobs[-1].settings.sr_sampler is None
    g.cascade = True
    with qtbot.waitSignal(session.runner.finished, timeout=10_000):
        session.generate()
    assert fake_runner.jobs[-1].settings.sr_sampler is SamplerKind.DDIM
    session._opened(Opened("ours.safetensors", summary("ours")))  # another model: the base's sampler again
    assert g.sr_sampler == ""


def test_the_sr_guidance_applies_and_reaches_the_job_only_when_the_sr_stage_runs(opened, fake_runner, qtbot):
    g = opened.generation
    g.sr_guidance_scale = 9.0
    assert opened.applies(Control.SR_GUIDANCE)
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.generate()
    assert fake_runner.jobs[-1].settings.sr_guidance_scale == 9.0
    g.cascade = False
    assert not opened.applies(Control.SR_GUIDANCE)
    with qtbot.waitSignal(opened.runner.finished, timeout=10_000):
        opened.generate()
    assert fake_runner.jobs[-1].settings.sr_guidance_scale == 1.0
