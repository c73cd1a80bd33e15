"""Keep Python's full garbage collections short enough not to stall the window.

Once torch, Qt and a model are loaded the heap holds ~300k long-lived container objects
(modules, functions, classes, sympy's tables that torch's meta tensors pull in). A full
(generation-2) collection walks all of them while holding the GIL — 50–200 ms here — and
whichever thread triggers it, the worker and the background pool included, freezes the event
loop for that long. Moving what exists at start-up into the permanent generation (`gc.freeze`)
leaves later full collections only the objects made since: none took 10 ms in `bench/ui_stall.py`.

Start-up ends in the background: reading the last model imports ~800 modules (sympy, mpmath, parts
of torch) the first time a network is built on the meta device. Full collections wait until that is
done (`settle_when_idle`); then what survived is frozen too.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from studio.app.background import Background

DEFERRED = 10**9  # generation-1 collections before a full one: never, in practice


def settle_startup_heap() -> None:
    """Collect once, then exempt every surviving object from future collections.

    Call when the window is built, before it shows (the collection itself takes a moment). Nearly all
    that survives then lives as long as the process; what does not is still freed by reference counting,
    and only a frozen object caught in a reference cycle stays (a one-time, bounded cost). Cyclic garbage
    made later is collected as usual.
    """
    gc.collect()
    gc.freeze()


def defer_full_collections() -> Callable[[], None]:
    """No automatic full collection until the returned `release` is called; `release` freezes what exists
    then (constant time, no collection: the window is showing) and restores the thresholds. Young
    collections go on, so short-lived cyclic garbage is still freed meanwhile."""
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, DEFERRED)

    def release() -> None:
        gc.freeze()
        gc.set_threshold(young, middle, full)

    return release


def settle_when_idle(background: Background) -> None:
    """Defer full collections while start-up's background work (reading the last model, drawing its
    schedule) runs, and settle the heap once it is done. Should that work never end (a file on a hung
    network drive), full collections simply stay off: the young ones still free cyclic garbage."""
    release = defer_full_collections()
    if not background.busy:
        release()
        return
    connection = None

    def on_busy(busy: bool) -> None:
        if not busy:
            background.busy_changed.disconnect(connection)
            release()

    connection = background.busy_changed.connect(on_busy)
