"""The team digest and collaboration: overdue open tasks reach the assignees' managers, and a
rep on approved leave is not reported as quiet."""

from __future__ import annotations

from datetime import date

from chalicelib.models.digest import LastCheckIn
from chalicelib.services.performance import digest

DAY = date(2030, 3, 14)  # a Thursday: 3 working days back is Monday the 11th


def test_overdue_open_tasks_are_listed_for_the_assignees_managers_only(api):
    late = api.post(
        "/v1/tasks",
        {"title": "Chase the PO", "assignee_ids": ["rep_a"], "due_at": "2030-03-13T09:00:00Z"},
        as_="mgr_east",
    )[1]
    done = api.post(
        "/v1/tasks", {"title": "Done one", "assignee_ids": ["rep_a"], "due_at": "2030-03-13T09:00:00Z"}, as_="mgr_east"
    )[1]
    api.post(
        "/v1/tasks", {"title": "Not yet", "assignee_ids": ["rep_a"], "due_at": "2030-03-15T09:00:00Z"}, as_="mgr_east"
    )
    api.post(f"/v1/tasks/{done['id']}/complete")
    found = digest.reports("acme", DAY)
    assert found["mgr_east"].overdue == [(late["id"], "Chase the PO")] == found["vp"].overdue
    assert "mgr_west" not in found and "rep_a" not in found
    assert "Overdue tasks: Chase the PO" in digest._body(found["mgr_east"], {})


def test_a_rep_on_approved_leave_is_not_quiet_until_enough_working_days_pass_without_leave(api):
    LastCheckIn(tenant_id="acme", user_id="rep_a", day="2030-03-08").save()  # quiet since Friday
    for user in ("rep_b", "rep_c", "mgr_east", "mgr_west", "vp", "fin", "ceo", "admin"):
        LastCheckIn(tenant_id="acme", user_id=user, day="2030-03-13").save()
    assert digest.reports("acme", DAY)["mgr_east"].inactive == ["rep_a"]
    leave = {"kind": "leave", "title": "Leave", "from_date": "2030-03-11", "to_date": "2030-03-12"}
    made = api.post("/v1/approval-requests", leave)[1]
    assert digest.reports("acme", DAY)["mgr_east"].inactive == ["rep_a"]  # not approved yet
    api.post(f"/v1/approval-requests/{made['id']}/approve", {}, as_="mgr_east")
    assert "mgr_east" not in digest.reports("acme", DAY)  # Mon and Tue on leave: only Wed counts
    assert digest.reports("acme", date(2030, 3, 16))["mgr_east"].inactive == ["rep_a"]  # Wed, Thu, Fri
