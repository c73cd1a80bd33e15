"""The timeline of the last run: scrubbing, playing, and the fork point of the selected step."""

import numpy as np

from studio.app.timeline import Timeline
from studio.core.events import Result
from studio.core.settings import JobKind, Recipe, Settings, Stage
from tests.app.fakes import frame


def _result(base=4, sr=2):
    frames = tuple(frame(Stage.BASE, i, base) for i in range(base)) + tuple(frame(Stage.SR, i, sr) for i in range(sr))
    recipe = Recipe(JobKind.TEXT_TO_IMAGE, "fake", "0" * 64, Settings(steps=base, sr_steps=max(sr, 1)), 16, 16)
    return Result(frames[-1].x0_preview, recipe, frames, 1.0, base_output=np.ones((1, 3, 8, 8), np.float32))


def test_a_result_shows_its_last_step_and_clear_empties_it(qtbot):
    timeline = Timeline()
    timeline.set_result(_result())
    assert (timeline.length, timeline.index) == (6, 5)
    assert timeline.current().stage is Stage.SR and timeline.current().step == 1
    timeline.clear()
    assert (timeline.length, timeline.index, timeline.current(), timeline.fork_point()) == (0, 0, None, None)


def test_the_fork_point_of_a_base_step_keeps_the_parents_chain(qtbot):
    timeline = Timeline()
    timeline.set_result(_result(base=4))
    timeline.index = 2
    point = timeline.fork_point()
    assert (point.stage, point.index, point.steps, point.step) == (Stage.BASE, 1, 4, 3)
    assert np.array_equal(point.x_t, np.full((1, 3, 8, 8), 2, np.float32)) and point.low_res is None


def test_the_fork_point_of_an_sr_step_carries_the_base_image_it_refines(qtbot):
    timeline = Timeline()
    timeline.set_result(_result(base=4, sr=2))
    timeline.index = 4  # sr step 1 of 2
    point = timeline.fork_point()
    assert (point.stage, point.steps, point.step) == (Stage.SR, 2, 1)
    assert np.array_equal(point.low_res, np.ones((1, 3, 8, 8), np.float32))


def test_play_runs_from_the_first_step_to_the_last_and_stops(qtbot):
    timeline = Timeline()
    timeline.set_result(_result(base=3, sr=0))
    seen = []
    timeline.index_changed.connect(seen.append)
    with qtbot.waitSignal(timeline.playing_changed, timeout=10_000, check_params_cb=lambda p: p is False):
        timeline.play()  # at the last step, play starts over
    assert seen == [0, 1, 2] and not timeline.playing
