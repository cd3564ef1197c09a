"""Write pacing per partition for background steps (re-index jobs).

DynamoDB takes at most 1,000 writes a second on one partition key; a re-index that pours
its writes into one partition (a tenant-wide ``all`` scene or list, the CEO's or a head's
partitions) would throttle every live write to it. A job step therefore runs under a
:class:`Pacer`: every projection write reports its partition keys (:func:`charge`, a no-op
outside a step, e.g. on the live stream), counted per key and per second of the step's
clock; once one key has had ``budget`` writes in the current second (``SHARE`` of the
limit) the step ends after its page and its continuation is queued with a delay
(``DELAY_S``, SQS ``DelaySeconds``) instead of sleeping.

A page may pass the budget by what it writes to one key (a feed page: one entry per
activity), so ``BUDGET`` leaves room for it below ``SHARE``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Optional

PARTITION_LIMIT = 1_000  # DynamoDB's writes per second on one partition key
SHARE = 0.5  # of it a job may take
PAGE_ROOM = 50  # the most one page writes to one key (25 activities, 8 list filters x 2 ...)
BUDGET = int(PARTITION_LIMIT * SHARE) - PAGE_ROOM  # writes per key per second before a step yields
DELAY_S = 1  # the continuation of a step that yielded waits this long (DelaySeconds)


class Pacer:
    """Writes per partition key in the current second of ``clock_ms`` (the step's clock)."""

    def __init__(self, clock_ms: Callable[[], int], budget: Optional[int] = None) -> None:
        self.clock_ms = clock_ms
        self.budget = BUDGET if budget is None else budget
        self.second = -1
        self.counts: Counter[str] = Counter()

    def _roll(self) -> None:
        second = self.clock_ms() // 1000
        if second != self.second:
            self.second, self.counts = second, Counter()

    def charge(self, keys: Iterable[str]) -> None:
        self._roll()
        self.counts.update(keys)

    def exhausted(self) -> bool:
        """Has a key reached its budget in the current second?"""
        self._roll()
        return bool(self.counts) and max(self.counts.values()) >= self.budget


_current: ContextVar[Optional[Pacer]] = ContextVar("pacer", default=None)


@contextmanager
def pacing(pacer: Pacer) -> Iterator[Pacer]:
    """Run a step under ``pacer`` (writes reported by :func:`charge` are counted on it)."""
    token = _current.set(pacer)
    try:
        yield pacer
    finally:
        _current.reset(token)


def charge(keys: Iterable[str]) -> None:
    """Report writes (one per key, repeated keys counted each time) to the running step's
    pacer; nothing outside a step."""
    pacer = _current.get()
    if pacer is not None:
        pacer.charge(keys)
