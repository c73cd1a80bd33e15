"""Exact decodes on scrub: a latent run's frame gets the worker's exact decode once the timeline rests on it,
once per frame, and a pixel-space run asks for nothing (the fake engine: tests/app/fakes.py)."""

import threading

import numpy as np
import pytest

from studio.app.exact_frames import SETTLE_MS
from tests.app.fakes import EXACT, FakeRunner

TIMEOUT = 10_000


@pytest.fixture()
def ran(opened, qtbot):
    """Run one job (base 4 steps + SR 2) and return the session once its last frame is decoded (or not)."""

    def run(runner):
        with qtbot.waitSignal(opened.runner.finished, timeout=TIMEOUT):
            opened.generate()
        qtbot.wait(SETTLE_MS + 100)
        if runner.latent:
            qtbot.waitUntil(lambda: 5 in opened.timeline.exact, timeout=TIMEOUT)
        return opened

    return run


def _rest_on(session, qtbot, index):
    session.timeline.index = index
    qtbot.waitUntil(lambda: index in session.timeline.exact, timeout=TIMEOUT)


@pytest.mark.parametrize("fake_runner", [FakeRunner(steps=4, sr_steps=2, latent=True)])
def test_the_frame_the_timeline_rests_on_gets_its_exact_decode_once(ran, fake_runner, qtbot):
    session = ran(fake_runner)
    timeline = session.timeline
    assert fake_runner.decoded == [(session.model_path, 1)]  # the run ended on the SR stage's step 2
    assert timeline.current().x0_preview.max() == EXACT and timeline.current().x_t_preview.min() == EXACT
    _rest_on(session, qtbot, 2)
    _rest_on(session, qtbot, 0)
    timeline.index = 2  # back to a decoded frame: shown from the cache
    qtbot.wait(SETTLE_MS + 100)
    assert [step for _, step in fake_runner.decoded] == [1, 2, 0]
    assert timeline.current().x0_preview.min() == EXACT
    assert timeline.frames[1].x0_preview.max() == 20  # a frame never rested on keeps its quick preview


@pytest.mark.parametrize("fake_runner", [FakeRunner(steps=4, sr_steps=2, latent=True)])
def test_a_quick_scrub_asks_only_for_the_frame_it_stops_on(ran, fake_runner, qtbot):
    session = ran(fake_runner)
    for index in range(5):  # dragging the slider across the base stage
        session.timeline.index = index
    _rest_on(session, qtbot, 4)
    qtbot.wait(SETTLE_MS + 100)
    assert [step for _, step in fake_runner.decoded] == [1, 0]  # the last frame, then SR step 1 (index 4)


@pytest.mark.parametrize("fake_runner", [FakeRunner(steps=4, sr_steps=2, latent=True)])
def test_an_answer_for_a_frame_no_longer_shown_is_kept_but_not_shown(ran, fake_runner, qtbot):
    session = ran(fake_runner)
    timeline, gate = session.timeline, threading.Event()
    fake_runner.decode_gate = gate
    timeline.index = 1
    qtbot.waitUntil(lambda: len(fake_runner.decoded) == 2, timeout=TIMEOUT)  # frame 1's decode is under way
    timeline.index = 3  # the user moved on before it came back
    gate.set()
    qtbot.waitUntil(lambda: 3 in timeline.exact, timeout=TIMEOUT)  # then frame 3's is asked for and shown
    assert 1 in timeline.exact and timeline.index == 3
    assert [step for _, step in fake_runner.decoded] == [1, 1, 3]


@pytest.mark.parametrize("fake_runner", [FakeRunner(steps=4, sr_steps=2, latent=True)])
def test_an_answer_for_an_earlier_run_is_dropped(ran, fake_runner, qtbot):
    session = ran(fake_runner)
    gate = threading.Event()
    fake_runner.decode_gate = gate
    session.timeline.index = 0
    qtbot.waitUntil(lambda: len(fake_runner.decoded) == 2, timeout=TIMEOUT)
    with qtbot.waitSignal(session.runner.finished, timeout=TIMEOUT):
        session.generate()  # queued behind the decode under way
        gate.set()
    fresh = session.timeline.frames[0]
    assert fresh.x0_preview.max() == 10  # the new run's step 1 still shows its own quick preview


@pytest.mark.parametrize("fake_runner", [FakeRunner(steps=4, sr_steps=2, latent=True, decode_fail="out of memory")])
def test_a_failed_decode_is_one_line_and_the_quick_preview_stays(opened, fake_runner, qtbot):
    errors = []
    opened.error.connect(errors.append)
    with qtbot.waitSignal(opened.runner.finished, timeout=TIMEOUT):
        opened.generate()
    qtbot.waitUntil(lambda: errors != [], timeout=TIMEOUT)
    assert errors == ["the exact decode of sr step 2 failed: out of memory"]
    opened.timeline.index = 4
    opened.timeline.index = 5  # back to the failed frame: not asked again
    qtbot.wait(2 * SETTLE_MS + 100)
    assert fake_runner.decoded == [(opened.model_path, 1)] and errors == [errors[0]]
    assert opened.timeline.current().x0_preview.max() == 20 and not opened.timeline.exact


def test_a_pixel_space_run_asks_for_no_decode(ran, fake_runner, qtbot):
    session = ran(fake_runner)
    session.timeline.index = 2
    qtbot.wait(SETTLE_MS + 100)
    assert fake_runner.decoded == [] and not session.timeline.exact
    assert np.array_equal(session.timeline.current().x0_preview, np.full((1, 8, 8, 3), 30, np.uint8))
