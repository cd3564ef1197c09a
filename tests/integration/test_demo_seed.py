"""The demo seed (`make run`) gives a manager a queue to work and a team day to look at."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support import today_local


@pytest.fixture
def demo(chalice_client: Any) -> Api:
    from local.seed import seed_demo

    seed_demo()
    return Api(chalice_client)


def test_demo_has_an_approvals_queue_and_a_team_day(demo):
    assert demo.get("/v1/approvals", as_="mgr_east")[1]["items"] == []  # delegated to the VP
    assert demo.get("/v1/me/delegate", as_="mgr_east")[1]["delegation"]["delegate_id"] == "vp"
    status, page = demo.get("/v1/approvals", as_="vp")
    assert status == 200 and len(page["items"]) == 5  # with seed_money's USD expense
    assert [e["submitted_at"] for e in page["items"]] == sorted(e["submitted_at"] for e in page["items"])
    status, day = demo.get(f"/v1/team/day?date={today_local()}", as_="vp")
    assert status == 200
    rows = {r["user_id"]: r for r in day["items"]}
    assert len(rows["rep_a"]["signins"]) == 3 and rows["rep_c"]["flagged_count"] == 1
    assert demo.get("/v1/users?q=zh", as_="rep_a")[1]["items"][0]["id"] in {"rep_a", "fin"}
    # work reports (seed_reports): two templates, rep_c's report read by mgr_west, rep_b's in the feed
    assert {t["id"] for t in demo.get("/v1/report-templates", as_="rep_a")[1]["items"]} == {"daily", "weekly"}
    received = demo.get("/v1/reports?role=received", as_="mgr_west")[1]["items"]
    assert [r["user_id"] for r in received[0]["read_by"]] == ["mgr_west"]
    assert any(a["type"] == "report" for a in demo.get("/v1/feed?limit=100", as_="mgr_east")[1]["items"])


def test_demo_has_tasks_an_instruction_and_a_leave_request(demo):
    status, assigned = demo.get("/v1/tasks?role=assigned", as_="rep_a")
    assert status == 200 and len(assigned["items"]) == 2
    assert assigned["items"][0]["related"] and assigned["items"][0]["remind_minutes_before"] == 60
    status, sent = demo.get("/v1/instructions?role=sent", as_="mgr_east")
    assert status == 200 and sent["items"][0]["pending_ids"] == ["rep_b"]
    status, waiting = demo.get("/v1/approval-requests?role=waiting", as_="vp")  # mgr_east's delegate
    assert status == 200 and [r["kind"] for r in waiting["items"]] == ["leave"]
