"""Ordering a day's stops to shorten the trip: an open path from a start point.

Pure computation over a distance matrix (no I/O). Up to ``EXACT_MAX`` stops the order is
optimal (Held-Karp dynamic programming, O(n^2 2^n): 10 stops is ~100k steps); beyond it,
nearest neighbour and the given (start-time) order are each improved by 2-opt and Or-opt
until no move helps, and the shorter wins, so the answer is never longer than the
start-time order nor than nearest neighbour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from chalicelib.geo import Point, distance_m

EXACT_MAX = 10
MAX_STOPS = 25
EPSILON = 1e-9

Matrix = list[list[float]]


def matrix(start: Point, stops: Sequence[Point]) -> Matrix:
    """Distances between the start (index 0) and the stops (1..n), in metres."""
    points = [start, *stops]
    return [[distance_m(p, q) for q in points] for p in points]


def length(d: Matrix, order: Sequence[int]) -> float:
    """Length of the open path 0 -> order[0] -> order[1] ... (stops numbered 1..n)."""
    total, here = 0.0, 0
    for stop in order:
        total += d[here][stop]
        here = stop
    return total


def held_karp(d: Matrix) -> list[int]:
    """The optimal open path from 0 through every stop (n <= EXACT_MAX)."""
    n = len(d) - 1
    if n == 0:
        return []
    full = (1 << n) - 1
    # best[mask][j]: shortest path from 0 visiting exactly mask's stops, ending at stop j+1.
    best = [[float("inf")] * n for _ in range(1 << n)]
    parent = [[-1] * n for _ in range(1 << n)]
    for j in range(n):
        best[1 << j][j] = d[0][j + 1]
    for mask in range(1, full + 1):
        for j in range(n):
            here = best[mask][j]
            if here == float("inf") or not mask & (1 << j):
                continue
            for k in range(n):
                if mask & (1 << k):
                    continue
                nxt, cost = mask | (1 << k), here + d[j + 1][k + 1]
                if cost < best[nxt][k] - EPSILON:
                    best[nxt][k], parent[nxt][k] = cost, j
    end = min(range(n), key=lambda j: best[full][j])
    order, mask = [], full
    while end != -1:
        order.append(end + 1)
        mask, end = mask ^ (1 << end), parent[mask][end]
    return order[::-1]


def nearest_neighbour(d: Matrix) -> list[int]:
    left, here, order = set(range(1, len(d))), 0, []
    while left:
        here = min(left, key=lambda s: (d[here][s], s))
        order.append(here)
        left.remove(here)
    return order


def _two_opt_pass(d: Matrix, path: list[int]) -> bool:
    """Reverse one segment if that shortens the open path; True if it did."""
    n = len(path)
    for i in range(n - 1):
        a = path[i - 1] if i else 0
        for j in range(i + 1, n):
            b, c = path[i], path[j]
            after = path[j + 1] if j + 1 < n else None
            old = d[a][b] + (d[c][after] if after is not None else 0.0)
            new = d[a][c] + (d[b][after] if after is not None else 0.0)
            if new < old - EPSILON:
                path[i : j + 1] = path[i : j + 1][::-1]
                return True
    return False


def _link(d: Matrix, a: int, b: Optional[int]) -> float:
    """The leg a -> b, or nothing when a is the path's end (b is None)."""
    return d[a][b] if b is not None else 0.0


def _or_opt_pass(d: Matrix, path: list[int]) -> bool:
    """Move a run of 1..3 stops (either way round) elsewhere if that shortens the path."""
    n = len(path)
    for run in (1, 2, 3):
        for i in range(n - run + 1):
            moved = path[i : i + run]
            before = path[i - 1] if i else 0
            after = path[i + run] if i + run < n else None
            gain = d[before][moved[0]] + _link(d, moved[-1], after) - _link(d, before, after)
            rest = path[:i] + path[i + run :]
            for k in range(len(rest) + 1):
                if k == i:
                    continue
                a, b = (rest[k - 1] if k else 0), (rest[k] if k < len(rest) else None)
                for piece in (moved, moved[::-1]):
                    added = d[a][piece[0]] + _link(d, piece[-1], b) - _link(d, a, b)
                    if added < gain - EPSILON:
                        path[:] = rest[:k] + piece + rest[k:]
                        return True
    return False


def improve(d: Matrix, order: Sequence[int]) -> list[int]:
    """Local search from ``order`` until neither 2-opt nor Or-opt shortens it."""
    path = list(order)
    while _two_opt_pass(d, path) or _or_opt_pass(d, path):
        pass
    return path


def shortest_order(d: Matrix, given: Sequence[int]) -> list[int]:
    """The stops (1..n) in the order to visit them: optimal up to EXACT_MAX stops, else the
    shorter of the improved nearest-neighbour and improved ``given`` orders."""
    if len(d) - 1 <= EXACT_MAX:
        return held_karp(d)
    candidates = [improve(d, nearest_neighbour(d)), improve(d, given)]
    return min(candidates, key=lambda order: length(d, order))
