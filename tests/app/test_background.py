"""run_in_background: the task on a pool thread, its outcome on the main thread, the newest of a kind wins."""

import threading

import pytest
from PySide6.QtCore import QCoreApplication

from studio.app.background import Background


@pytest.fixture()
def background(qtbot):
    runner = Background()
    yield runner
    runner.shutdown()


def _wait_idle(qtbot, background):
    qtbot.waitUntil(lambda: not background.busy, timeout=10_000)


def test_the_task_runs_on_another_thread_and_its_result_arrives_on_the_main_thread(background, qtbot):
    threads, results = [], []

    def task():
        threads.append(threading.current_thread())
        return 6 * 7

    def done(value):
        results.append((value, threading.current_thread()))

    with qtbot.waitSignal(background.busy_changed, timeout=10_000):  # busy at once…
        background.run_in_background(task, done, pytest.fail)
    assert background.busy
    _wait_idle(qtbot, background)  # …until the outcome is delivered
    assert threads[0] is not threading.main_thread()
    assert results == [(42, threading.main_thread())]


def test_an_error_comes_back_as_one_line_and_the_pool_keeps_working(background, qtbot):
    errors, results = [], []

    def fails():
        raise ValueError("model.safetensors:   bad\n  header")

    background.run_in_background(fails, pytest.fail, errors.append)
    background.run_in_background(lambda: "still here", results.append, pytest.fail)
    _wait_idle(qtbot, background)
    assert errors == ["model.safetensors: bad header"] and results == ["still here"]


def test_an_error_without_words_is_named_by_its_type(background, qtbot):
    errors = []
    background.run_in_background(lambda: 1 / 0, pytest.fail, errors.append)
    _wait_idle(qtbot, background)
    assert errors == ["division by zero"]

    def raises_bare():
        raise KeyError

    background.run_in_background(raises_bare, pytest.fail, errors.append)
    _wait_idle(qtbot, background)
    assert errors[-1] == "KeyError"


def test_of_tasks_with_one_key_only_the_newest_outcome_is_delivered(background, qtbot):
    release, results = threading.Event(), []

    def slow():
        release.wait(10)
        return "old"

    background.run_in_background(slow, results.append, pytest.fail, key="model")
    background.run_in_background(lambda: "new", results.append, pytest.fail, key="model")
    qtbot.waitUntil(lambda: results == ["new"], timeout=10_000)
    release.set()  # the superseded task finishes after the newer one: its outcome is dropped
    _wait_idle(qtbot, background)
    assert results == ["new"]


def test_a_superseded_task_that_has_not_started_never_runs(qtbot):
    background = Background(threads=1)
    release, ran = threading.Event(), []
    try:
        background.run_in_background(lambda: release.wait(10), lambda _: None, pytest.fail)  # holds the thread
        background.run_in_background(lambda: ran.append("first curve"), pytest.fail, pytest.fail, key="curve")
        background.run_in_background(lambda: ran.append("second curve"), lambda _: None, pytest.fail, key="curve")
        release.set()
        _wait_idle(qtbot, background)
        assert ran == ["second curve"]
    finally:
        background.shutdown()


def test_tasks_without_a_key_all_deliver(background, qtbot):
    results = []
    for n in range(5):
        background.run_in_background(lambda n=n: n * n, results.append, pytest.fail)
    _wait_idle(qtbot, background)
    assert sorted(results) == [0, 1, 4, 9, 16]


def test_after_shutdown_nothing_is_delivered_and_nothing_new_starts(qtbot):
    background = Background()
    release, results = threading.Event(), []
    background.run_in_background(lambda: release.wait(10), results.append, results.append)
    background.shutdown()
    assert not background.busy
    release.set()
    background.shutdown(wait=True)  # the task has returned, and anything it posted is in the event queue
    QCoreApplication.processEvents()
    assert results == []
    with pytest.raises(RuntimeError, match="shut down"):
        background.run_in_background(lambda: 1, results.append, results.append)
