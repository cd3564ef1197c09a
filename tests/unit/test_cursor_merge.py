"""``cursor.merge``: one page from several ordered streams (feed types, index shards, a
list's live and archived partitions), each stream's position kept, nothing twice."""

from __future__ import annotations

from typing import Optional

import pytest

from chalicelib import cursor
from chalicelib.errors import Unprocessable


def stream(keys: list[str]):
    """A stream of ``keys`` read newest first, strictly below ``after``."""

    def read(after: Optional[str], n: int) -> list[str]:
        return [k for k in sorted(keys, reverse=True) if after is None or k < after][:n]

    return read


def pages(streams: dict, limit: int) -> list[list[str]]:
    out, position = [], {}
    while True:
        merged = cursor.merge(streams, position, limit, lambda k: k, descending=True)
        out.append([k for _, k in merged.items])
        if not merged.more:
            return out
        position = merged.position


def test_merged_pages_are_full_in_order_with_no_gaps_or_duplicates():
    streams = {"a": stream(["1", "4", "7", "8"]), "b": stream(["2", "3"]), "c": stream(["5", "6", "9"])}
    got = pages(streams, 2)
    assert got == [["9", "8"], ["7", "6"], ["5", "4"], ["3", "2"], ["1"]]


def test_an_item_in_two_streams_is_answered_once_and_moves_both_on():
    streams = {"old": stream(["3", "2", "1"]), "new": stream(["3", "1"])}  # an entry moving between shards
    assert pages(streams, 2) == [["3", "2"], ["1"]]


def test_a_position_that_is_not_a_string_is_an_invalid_cursor():
    with pytest.raises(Unprocessable):
        cursor.merge({"a": stream(["1"])}, {"a": 5}, 2, lambda k: k, descending=True)
