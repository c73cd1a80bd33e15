import gc
import threading
import weakref

import pytest

from studio.app.background import Background
from studio.app.heap import defer_full_collections, settle_startup_heap, settle_when_idle


class Node:
    def __init__(self) -> None:
        self.other = self


@pytest.fixture
def restore_gc():
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_objects_alive_at_startup_leave_the_collected_generations(restore_gc):
    survivor = Node()
    settle_startup_heap()
    assert gc.get_freeze_count() >= 1000  # every module imported so far, at the least
    assert not any(obj is survivor for obj in gc.get_objects())


def test_cyclic_garbage_made_after_startup_is_still_collected(restore_gc):
    settle_startup_heap()
    cycle = Node()
    alive = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert alive() is None


def test_full_collections_wait_until_released_and_then_what_exists_is_frozen(restore_gc):
    thresholds = gc.get_threshold()
    frozen = gc.get_freeze_count()
    release = defer_full_collections()
    assert gc.get_threshold()[:2] == thresholds[:2] and gc.get_threshold()[2] >= 10**9
    made_meanwhile = [Node() for _ in range(100)]
    release()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() >= frozen + len(made_meanwhile)


def test_the_heap_settles_when_the_background_work_of_start_up_is_done(restore_gc, qtbot):
    background, gate = Background(), threading.Event()
    thresholds = gc.get_threshold()
    try:
        background.run_in_background(lambda: gate.wait(10), lambda _: None, pytest.fail)  # the model being read
        settle_when_idle(background)
        assert gc.get_threshold()[2] >= 10**9  # no full collection while it reads
        with qtbot.waitSignal(background.busy_changed, timeout=10_000):
            gate.set()
        assert gc.get_threshold() == thresholds
    finally:
        background.shutdown()


def test_with_nothing_in_the_background_the_heap_settles_at_once(restore_gc, qtbot):
    background = Background()
    thresholds = gc.get_threshold()
    try:
        settle_when_idle(background)
        assert gc.get_threshold() == thresholds
    finally:
        background.shutdown()
