"""The cyclic garbage collector, tuned for the processes that hold a stand-in AWS: the
local moto server and each test process (tests/conftest.py). Nothing here ships."""

from __future__ import annotations

import gc


def quiet_gc(moto_patched: bool) -> None:
    """Python's cyclic collector, tuned for a process that holds a whole stand-in AWS.

    moto keeps every item, stream record and queue message as long-lived Python objects
    (hundreds of thousands once a stack or a test world is seeded), and the default
    thresholds (700, 10, 10) walk all of them on each full collection, which the
    allocations of every request, deep copy and JSON parse keep triggering. Measured on
    tests/integration/test_expenses.py + test_budgets.py (user CPU, two runs each): 30.5 s
    and 30.0 s with the defaults, 29.6 s and 28.7 s with these (3-4%). Collections stay
    on, only rarer; what is alive now (the modules, the built world) is moved out of the
    collector's sight.

    Only with the stand-in's speed-ups (``moto_patched``): moto as shipped deep-copies
    every table a transaction names, and each copy is a cycle (a table and its stream
    shard refer to each other) that the tuned collector almost never reaches; without the
    speed-ups the collector keeps Python's defaults. (What made a worker of the whole suite
    grow to 18 GB without them was moto's own record of every instance it made:
    ``local.motoserver.forget_tracked_instances``.)
    """
    if not moto_patched:
        return
    gc.set_threshold(100_000, 50, 1000)
    gc.freeze()
