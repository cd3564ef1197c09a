"""The change log's positions sort as time does, and a whole-range list entry names its viewer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.models.lists import ListEntry, list_pk
from chalicelib.models.sync import SyncChange, position_at, position_time


def test_positions_sort_by_time_and_after_every_entry_written_at_that_instant():
    t = datetime(2026, 12, 7, 3, 13, 14, 5, tzinfo=UTC)
    entry = SyncChange.make("acme", "rep_a", "account", "acc_zzzz", t)
    assert (
        entry.SK
        < position_at(t)
        < SyncChange.make("acme", "rep_a", "account", "acc_0", t + timedelta(microseconds=1)).SK
    )
    assert position_at(t) < position_at(t + timedelta(microseconds=1))
    assert position_time(position_at(t)) == t
    assert position_time(entry.SK) == t
    for junk in ("", "2026-12-07", "not a position", "2026-13-07T03:13:14.000005Z#~"):
        assert position_time(junk) is None


def test_only_the_whole_live_unfiltered_range_names_its_viewer():
    def entry(viewer: str, scope: str, state: str, filters: dict[str, str]) -> ListEntry:
        return ListEntry(
            tenant_id="acme",
            object_type="opportunity",
            object_id="opp_1",
            partition=list_pk("acme", viewer, "opportunity", scope, state, filters),
            updated_at="2026-12-07T03:13:14Z",
            name_key="x",
        )

    assert entry("mgr_east", "all", "L", {}).full_range_viewer() == "mgr_east"
    assert entry("*", "all", "L", {}).full_range_viewer() == "*"
    assert entry("mgr_east", "team", "L", {}).full_range_viewer() is None
    assert entry("mgr_east", "all", "X", {}).full_range_viewer() is None
    assert entry("mgr_east", "all", "L", {"stage": "qualify"}).full_range_viewer() is None
