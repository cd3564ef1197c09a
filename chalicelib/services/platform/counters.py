"""Counters kept on write from stream images: the change one record makes is the new image's
contribution minus the old one's (goal actuals, report day figures)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any


def difference(before: Mapping[Any, Counter[str]], after: Mapping[Any, Counter[str]]) -> dict[Any, dict[str, int]]:
    """``after - before`` per key and counter, zero entries dropped."""
    out: dict[Any, dict[str, int]] = {}
    for key in set(before) | set(after):
        diff = Counter(after.get(key, Counter()))
        diff.subtract(before.get(key, Counter()))
        kept = {name: value for name, value in diff.items() if value}
        if kept:
            out[key] = kept
    return out
