"""The time rule of every background step (the org jobs' step runner, ``jobs.py``, and the
schedules' fan-out tasks, ``fanout.py``): a step runs units of work while the invocation
keeps ``share`` of the time it had at the start, read from the Lambda context's clock
(``get_remaining_time_in_millis``), so a step never runs past half its deployed timeout
and a benchmark's modelled clock drives it the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional


class Deadline:
    """``expired(next_ms)``: would a unit of ``next_ms`` more end past ``share`` of the
    time left at the start (or within ``reserve_ms`` of the end)? Never, without a clock."""

    def __init__(self, remaining_ms: Optional[Callable[[], int]] = None, share: float = 0.4, reserve_ms: int = 0):
        self.remaining_ms = remaining_ms
        self.initial_ms = remaining_ms() if remaining_ms is not None else 0
        budget_ms = min(self.initial_ms * share, self.initial_ms - reserve_ms)
        self.budget_s = budget_ms / 1000 if remaining_ms is not None else float("inf")

    @classmethod
    def of(cls, context: Any, share: float = 0.4) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return cls(remaining if callable(remaining) else None, share)

    def elapsed_ms(self) -> int:
        return self.initial_ms - self.remaining_ms() if self.remaining_ms is not None else 0

    def expired(self, next_ms: int = 0) -> bool:
        return self.elapsed_ms() + next_ms >= self.budget_s * 1000
