"""`make run`'s stack over HTTP (issue 27's acceptance): a rep with two check-ins and a
completed plan submits a daily report whose auto fields say 2 and 1 whatever the client
sent; the manager's compliance shows the rep submitted and the other reps missing; after
the manager reads it the rep's PATCH is 409."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.e2e

TEMPLATE = {
    "name": "E2E daily",
    "period": "daily",
    "due_time": "23:59",
    "fields": [
        {"key": "visits", "label": "Visits", "type": "auto", "source": "checkins"},
        {"key": "plans", "label": "Plans done", "type": "auto", "source": "plans_done"},
        {"key": "summary", "label": "Summary", "type": "text"},
    ],
}


def test_daily_report_auto_fields_compliance_and_edit_until_read(stack):
    now = datetime.now(UTC)
    day = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    ok = stack.call("PUT", "/v1/admin/report-templates/e2e_daily", TEMPLATE, as_="admin")
    assert ok.status_code == 200, ok.text
    if day.weekday() >= 5:  # a weekend day: made a working day, so a report is expected
        calendar = {"holidays": [], "workdays": [day.isoformat()]}
        assert stack.call("PUT", f"/v1/admin/work-calendar/{day.year}", calendar, as_="admin").status_code == 200
    rep = {"name": "E2E Rep", "department_id": "east", "manager_id": "mgr_east"}
    assert stack.call("PUT", "/v1/admin/users/e2e_rep", rep, as_="admin").status_code == 200
    location = {"lat": 31.2286, "lng": 121.4479, "accuracy_m": 10}
    for _ in range(2):
        body = {"kind": "check_in", "location": location, "client_time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert stack.call("POST", "/v1/signins", body, as_="e2e_rep").status_code == 201
    plan = stack.call("POST", "/v1/plans", {"date": day.isoformat(), "title": "Jing'an"}, as_="e2e_rep").json()
    assert stack.call("PATCH", f"/v1/plans/{plan['id']}", {"status": "done"}, as_="e2e_rep").status_code == 200
    stack.drain()

    body = {"template_id": "e2e_daily", "period_start": day.isoformat(), "values": {"visits": 9, "plans": 9}}
    response = stack.call("POST", "/v1/reports", body, as_="e2e_rep")
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["values"]["visits"], report["values"]["plans"]) == (2, 1)

    query = f"/v1/report-compliance?template_id=e2e_daily&period_start={day.isoformat()}&limit=100"
    rows = {r["user_id"]: r["status"] for r in stack.call("GET", query, as_="mgr_east").json()["items"]}
    assert rows["e2e_rep"] == "submitted"
    assert rows["rep_a"] == rows["rep_b"] == "missing"

    assert stack.call("GET", f"/v1/reports/{report['id']}", as_="mgr_east").status_code == 200
    edit = stack.call("PATCH", f"/v1/reports/{report['id']}", {"values": {"summary": "more"}}, as_="e2e_rep")
    assert edit.status_code == 409 and edit.json()["error"]["code"] == "report_read"
