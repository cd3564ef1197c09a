"""The calendar feed: a secret ICS URL without Authorization, parsed by two independent
iCalendar parsers (icalendar and vobject), following plan moves and cancellations;
replaced by a new POST, revoked by DELETE, 404 for a deactivated user."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import vobject

from chalicelib.timeutil import iso, utcnow

ZONE = ZoneInfo("Asia/Shanghai")


def feed_path(api, user: str = "rep_a") -> str:
    status, out = api.post("/v1/me/calendar-feed", as_=user)
    assert status == 201, out
    path = out["url"][out["url"].index("/v1/") :]
    assert path.startswith("/v1/calendar-feed/") and path.endswith(".ics")
    return path


def fetch(api, path: str) -> str:
    response = api.client.http.get(path)  # no Authorization header at all
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/calendar")
    return response.body.decode() if isinstance(response.body, bytes) else response.body


def events_by_icalendar(text: str) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(text)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def events_by_vobject(text: str) -> dict[str, object]:
    cal = vobject.readOne(text)
    return {e.uid.value: e for e in cal.contents.get("vevent", [])}


def plan(api, title: str, start: datetime) -> str:
    body = {"title": title, "start_time": iso(start), "end_time": iso(start + timedelta(hours=1))}
    status, out = api.post("/v1/plans", body)
    assert status == 201, out
    return out["id"]


def test_feed_lists_plans_in_both_parsers_and_follows_moves_and_cancellations(api):
    soon = (utcnow() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    moved, cancelled = plan(api, "Visit Acme", soon), plan(api, "Call Globex", soon + timedelta(hours=3))
    plan(api, "Far future", utcnow() + timedelta(days=200))  # outside the 90 days ahead
    status, _ = api.post("/v1/plans", {"title": "Someone else's", "date": "2030-01-01"}, as_="rep_b")
    path = feed_path(api)

    first = fetch(api, path)
    by_ical, by_vobject = events_by_icalendar(first), events_by_vobject(first)
    uids = {f"{moved}@fieldsales", f"{cancelled}@fieldsales"}
    assert set(by_ical) == set(by_vobject) == uids
    assert by_ical[f"{moved}@fieldsales"].decoded("DTSTART") == soon.astimezone(ZONE)
    assert by_vobject[f"{moved}@fieldsales"].dtstart.value == soon.astimezone(ZONE)
    assert str(by_ical[f"{moved}@fieldsales"]["SUMMARY"]) == "Visit Acme"

    later = soon + timedelta(days=1, hours=2)
    assert (
        api.patch(f"/v1/plans/{moved}", {"start_time": iso(later), "end_time": iso(later + timedelta(hours=1))})[0]
        == 200
    )
    assert api.patch(f"/v1/plans/{cancelled}", {"status": "cancelled"})[0] == 200

    second = fetch(api, path)
    by_ical, by_vobject = events_by_icalendar(second), events_by_vobject(second)
    assert set(by_ical) == set(by_vobject) == uids  # stable UIDs: the same events, updated
    assert by_ical[f"{moved}@fieldsales"].decoded("DTSTART") == later.astimezone(ZONE)
    assert by_vobject[f"{moved}@fieldsales"].dtstart.value == later.astimezone(ZONE)
    assert int(by_ical[f"{moved}@fieldsales"]["SEQUENCE"]) > 0
    assert str(by_ical[f"{cancelled}@fieldsales"]["STATUS"]) == "CANCELLED"
    assert by_vobject[f"{cancelled}@fieldsales"].status.value == "CANCELLED"
    assert str(by_ical[f"{moved}@fieldsales"]["STATUS"]) == "CONFIRMED"


def task(api, title: str, due: datetime, assignees: list[str], as_: str = "mgr_east") -> str:
    status, out = api.post("/v1/tasks", {"title": title, "due_at": iso(due), "assignee_ids": assignees}, as_=as_)
    assert status == 201, out
    return out["id"]


def test_feed_lists_the_callers_tasks_and_cancels_done_and_cancelled_ones(api):
    due = (utcnow() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    done, dropped = task(api, "Send the quote", due, ["rep_a"]), task(api, "Call back", due, ["rep_a"])
    mine = task(api, "My own note", due + timedelta(hours=1), ["rep_a"], as_="rep_a")
    task(api, "Not mine", due, ["rep_b"])
    task(api, "Too far", utcnow() + timedelta(days=120), ["rep_a"])
    status, undated = api.post("/v1/tasks", {"title": "No due time", "assignee_ids": ["rep_a"]}, as_="mgr_east")
    assert status == 201
    path = feed_path(api)
    uids = {f"{t}@fieldsales" for t in (done, dropped, mine)}

    first = fetch(api, path)
    by_ical, by_vobject = events_by_icalendar(first), events_by_vobject(first)
    assert set(by_ical) == set(by_vobject) == uids
    assert by_ical[f"{done}@fieldsales"].decoded("DTSTART") == due.astimezone(ZONE)
    assert by_vobject[f"{done}@fieldsales"].dtstart.value == due.astimezone(ZONE)
    assert {str(e["STATUS"]) for e in by_ical.values()} == {"CONFIRMED"}

    assert api.post(f"/v1/tasks/{done}/complete", as_="rep_a")[0] == 200
    assert api.patch(f"/v1/tasks/{dropped}", {"status": "cancelled"}, as_="mgr_east")[0] == 200

    second = fetch(api, path)
    by_ical, by_vobject = events_by_icalendar(second), events_by_vobject(second)
    assert set(by_ical) == set(by_vobject) == uids  # the same UIDs, now cancelled
    for uid in (f"{done}@fieldsales", f"{dropped}@fieldsales"):
        assert str(by_ical[uid]["STATUS"]) == "CANCELLED" and by_vobject[uid].status.value == "CANCELLED"
        assert int(by_ical[uid]["SEQUENCE"]) > int(events_by_icalendar(first)[uid]["SEQUENCE"])
    assert str(by_ical[f"{mine}@fieldsales"]["STATUS"]) == "CONFIRMED"
    assert f"{undated['id']}@fieldsales" not in by_ical


def test_a_new_url_replaces_the_old_and_delete_revokes_it(api):
    old = feed_path(api)
    new = feed_path(api)
    assert old != new
    assert api.client.http.get(old).status_code == 404
    fetch(api, new)
    assert api.delete("/v1/me/calendar-feed")[0] == 200
    assert api.client.http.get(new).status_code == 404
    assert api.delete("/v1/me/calendar-feed")[0] == 200  # idempotent


def test_a_deactivated_users_feed_is_404_and_bad_tokens_are_refused(api):
    path = feed_path(api, "rep_b")
    fetch(api, path)
    status, _ = api.post("/v1/admin/users/rep_b/deactivate", {"handover_to": "mgr_east"}, as_="admin")
    assert status == 200
    assert api.client.http.get(path).status_code == 404
    assert api.client.http.get("/v1/calendar-feed/" + "A" * 43 + ".ics").status_code == 404
    assert api.client.http.get("/v1/calendar-feed/short.ics").status_code == 400
    assert api.post("/v1/me/calendar-feed", as_=None)[0] == 401
