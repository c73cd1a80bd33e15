import gc
import weakref

import pytest

from studio.app.heap import settle_startup_heap


class Node:
    def __init__(self) -> None:
        self.other = self


@pytest.fixture
def restore_gc():
    yield
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
