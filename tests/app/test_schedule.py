"""The schedule plot's view model on a fake schedule (log SNR(t) = −t/100, evenly spaced steps): its curve
follows the model, the steps and the stage on show; in strokes mode the strength moves SDEdit's start t₀,
rounded as the run rounds it, and noises the painting to x_t₀ for a moment."""

import math

import numpy as np
import pytest

from studio.app.generation import Mode
from studio.core.settings import Stage
from studio.engine.forward_preview import noised_preview
from tests.app.fakes import frame


def _idle(session, qtbot):
    qtbot.waitUntil(lambda: not session.background.busy, timeout=10_000)


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_opening_a_model_draws_its_base_chain_for_the_steps_set(opened):
    curve = opened.schedule.curve
    assert curve.stage is Stage.BASE and len(curve.log_snr) == 1000
    assert len(curve.chain) == opened.generation.steps == 30 and curve.chain[:3] == (0, 34, 69)


def test_changing_the_steps_redraws_the_chain(opened, qtbot):
    with qtbot.waitSignal(opened.schedule.curve_changed, timeout=10_000) as blocker:
        opened.generation.steps = 10
    assert blocker.args[0].chain == (0, 111, 222, 333, 444, 555, 666, 777, 888, 999)


def test_a_step_of_the_sr_stage_switches_the_plot_to_the_sr_chain_and_marks_it(opened, qtbot):
    opened.generation.sr_steps = 4
    with qtbot.waitSignal(opened.schedule.curve_changed, timeout=10_000) as blocker:
        opened.schedule.show_frame(frame(Stage.SR, 1, 4))
    assert blocker.args[0].stage is Stage.SR and blocker.args[0].chain == (0, 333, 666, 999)
    assert opened.schedule.current == frame(Stage.SR, 1, 4).t
    opened.schedule.show_frame(None)
    assert opened.schedule.current is None


@pytest.mark.parametrize(("strength", "t0"), [(0.44, 333), (0.45, 444), (0.5, 444), (1.0, 999), (0.01, None)])
def test_the_start_line_is_where_the_run_starts_halves_rounding_up(opened, qtbot, strength, t0):
    g = opened.generation
    g.steps = 10
    _idle(opened, qtbot)
    g.mode, g.strength = Mode.STROKES, strength
    # 0.45·10 = 4.5 steps: the run takes 5, so t₀ is the 5th timestep; 0.01·10 rounds to no step at all
    assert opened.schedule.start == t0


def test_no_start_line_outside_strokes_mode(opened):
    g = opened.generation
    g.mode, g.strength = Mode.STROKES, 0.5
    assert opened.schedule.start is not None
    g.mode = Mode.TEXT
    assert opened.schedule.start is None


def test_moving_the_strength_shows_the_painting_noised_to_x_t0_then_hides_it(opened, qtbot):
    g = opened.generation
    g.steps, g.seed = 10, 4
    _idle(opened, qtbot)
    opened.canvas.paint[:] = (0, 0, 255)
    g.mode = Mode.STROKES
    g.strength = 0.3  # 3 of 10 steps: t₀ = 222, ᾱ = sigmoid(−2.22) ≈ 0.098
    expected = noised_preview(opened.canvas.paint, _sigmoid(-2.22), seed=4)
    assert np.array_equal(opened.schedule.noised, expected)
    low = np.abs(opened.schedule.noised.astype(float) - (0, 0, 255)).mean()
    g.strength = 0.9
    high = np.abs(opened.schedule.noised.astype(float) - (0, 0, 255)).mean()
    assert low < high  # more strength, more noise
    with qtbot.waitSignal(opened.schedule.noised_changed, timeout=5_000) as blocker:
        pass  # shown for a moment only
    assert blocker.args == [None] and opened.schedule.noised is None


def test_a_schedule_that_cannot_be_computed_is_an_error_line_not_a_wrong_plot(make_session, path_of, qtbot):
    session = make_session()

    def broken(model, steps, stage, spacing, respacing):
        raise ValueError(f"steps must be between 1 and {model.timesteps}, got {steps}")

    session.schedule._curve_of = broken
    with qtbot.waitSignal(session.error, timeout=10_000) as blocker:
        session.open_model(path_of("first"))
    assert blocker.args == ["the schedule plot could not be drawn: steps must be between 1 and 1000, got 30"]
    assert session.schedule.curve is None and session.model.name == "first"
