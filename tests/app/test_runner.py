"""JobRunner: engine events from the worker thread become progress, status and result signals."""

import threading

import pytest

from studio.app.runner import JobRunner
from studio.core.jobs import TextToImage
from studio.core.settings import Settings
from tests.app.fakes import FakeRunner


@pytest.fixture()
def make_runner(qtbot):
    runners = []

    def make(fake):
        runner = JobRunner(fake)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.shutdown()


def _job(seed=7, cascade=True):
    return TextToImage("fake", Settings(prompt="red apple", seed=seed, steps=3, cascade=cascade))


def test_progress_and_status_follow_each_step_over_both_stages(make_runner, qtbot):
    runner = make_runner(FakeRunner(steps=3, sr_steps=2))
    progress, statuses = [], []
    runner.progress_changed.connect(progress.append)
    runner.status_changed.connect(statuses.append)
    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        runner.submit(_job(seed=7))
    assert progress == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert statuses[0] == "seed 7 · starting…"
    assert statuses[1] == "base step 1/3 · 0.25 s/step · ETA 1.0 s"
    assert statuses[4] == "sr step 1/2 · 0.25 s/step · ETA 0.2 s"
    assert statuses[-1] == "seed 7 · done in 1.5 s"
    assert len(blocker.args[0].frames) == 5 and not runner.running


def test_running_is_true_from_submit_until_the_job_ends(make_runner, qtbot):
    gate = threading.Event()
    runner = make_runner(FakeRunner(gate=gate))
    runner.submit(_job())
    assert runner.running
    with qtbot.waitSignal(runner.running_changed, timeout=10_000) as blocker:
        gate.set()
    assert blocker.args == [False]


def test_a_failing_job_ends_with_one_line_and_the_worker_takes_the_next(make_runner, qtbot):
    fake = FakeRunner(fail="CUDA out of memory")
    runner = make_runner(fake)
    with qtbot.waitSignal(runner.failed, timeout=10_000) as blocker:
        runner.submit(_job())
    assert blocker.args == ["CUDA out of memory"] and runner.status == "failed: CUDA out of memory"
    fake.fail = None
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.submit(_job())


def test_a_note_from_the_engine_reaches_the_window(make_runner, qtbot):
    runner = make_runner(FakeRunner(note="the painting was resized to 8×8"))
    with qtbot.waitSignal(runner.note, timeout=10_000) as blocker:
        runner.submit(_job())
    assert blocker.args == ["the painting was resized to 8×8"]


def test_cancel_stops_the_running_job_with_its_last_prediction(make_runner, qtbot):
    runner = make_runner(FakeRunner(steps=40, hold_after=4))
    runner.step.connect(lambda e: runner.cancel() if e.frame.step == 4 else None)
    with qtbot.waitSignal(runner.cancelled, timeout=10_000) as blocker:
        runner.submit(_job(cascade=False))
    event = blocker.args[0]
    assert (event.last_x0 == 50).all() and event.stage.value == "base"
    assert runner.status == "cancelled" and not runner.running
