"""Keep Python's full garbage collections short enough not to stall the window.

Once torch, Qt and a model are loaded the heap holds ~300k long-lived container objects
(modules, functions, classes, sympy's tables that torch's meta tensors pull in). A full
(generation-2) collection walks all of them while holding the GIL — 100–200 ms here — and
whichever thread triggers it, the worker included, freezes the event loop for that long.
Moving what exists at start-up into the permanent generation (`gc.freeze`) leaves later
full collections only the objects made since: none took 10 ms in `bench/ui_stall.py`.
"""

from __future__ import annotations

import gc


def settle_startup_heap() -> None:
    """Collect once, then exempt every surviving object from future collections.

    Call when start-up is over (window built, model summary read). Nearly all that survives
    then lives as long as the process; what does not is still freed by reference counting, and
    only a frozen object caught in a reference cycle stays (a one-time, bounded cost). Cyclic
    garbage made later is collected as usual.
    """
    gc.collect()
    gc.freeze()
