"""Work reports: templates, auto-filled figures (kept on write, never from the client),
one report per author, template and period, recipients and read receipts, edits until the
first read, lists, the leaders' compliance view and its cost."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.services.org import org, workcalendar
from chalicelib.services.reports import compliance
from tests.support import Stream

NOW = datetime.now(UTC)  # each test's start (the now_at_start fixture)
pytestmark = pytest.mark.usefixtures("now_at_start")
DAILY = {
    "name": "Daily report",
    "period": "daily",
    "due_time": "23:59",
    "fields": [
        {"key": "visits", "label": "Visits", "type": "auto", "source": "checkins"},
        {"key": "plans", "label": "Plans done", "type": "auto", "source": "plans_done"},
        {"key": "summary", "label": "Summary", "type": "text"},
        {"key": "calls", "label": "Calls", "type": "number"},
    ],
}


def today() -> str:
    return NOW.astimezone(org.tenant_zone("acme")).date().isoformat()


@pytest.fixture
def stream(api, chalice_client):
    return Stream(chalice_client)


@pytest.fixture
def daily(api):
    """The daily template, today a working day (a make-up day when it is a weekend)."""
    day = NOW.astimezone(org.tenant_zone("acme")).date()
    if day.weekday() >= 5:
        workcalendar.put_year("acme", day.year, [], [day.isoformat()])
    status, out = api.put("/v1/admin/report-templates/daily", DAILY, as_="admin")
    assert status == 200, out
    return out


def at_local(hour: int, days: int = 0) -> datetime:
    zone = org.tenant_zone("acme")
    day = NOW.astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def compliance_of(api, monkeypatch, when: datetime, as_: str = "mgr_east") -> dict[str, dict]:
    monkeypatch.setattr(compliance, "utcnow", lambda: when)
    status, page = api.get(f"/v1/report-compliance?template_id=daily&period_start={today()}", as_=as_)
    assert status == 200, page
    return {row["user_id"]: row for row in page["items"]}


def submit(api, values: dict, as_: str = "rep_a", **extra) -> tuple[int, dict]:
    return api.post(
        "/v1/reports", {"template_id": "daily", "period_start": today(), "values": values, **extra}, as_=as_
    )


def work_a_day(api, stream) -> None:
    for _ in range(2):
        body = {
            "kind": "check_in",
            "location": {"lat": 31.2, "lng": 121.4, "accuracy_m": 10},
            "client_time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        assert api.post("/v1/signins", body)[0] == 201
    _, done = api.post("/v1/plans", {"date": today(), "title": "Visit Jing'an"})
    api.post("/v1/plans", {"date": today(), "title": "Not done"})
    assert api.patch(f"/v1/plans/{done['id']}", {"status": "done"})[0] == 200
    stream.pump()


def test_acceptance_auto_fields_compliance_and_no_edit_after_the_managers_read(api, stream, daily, monkeypatch):
    work_a_day(api, stream)
    status, report = submit(api, {"visits": 99, "plans": 42, "summary": "Two stores", "calls": 5})
    assert status == 201, report
    assert report["values"] == {"visits": 2, "plans": 1, "summary": "Two stores", "calls": 5}
    assert (report["recipient_ids"], report["late"], report["read_by"]) == (["mgr_east"], False, [])

    _, page = api.get(f"/v1/report-compliance?template_id=daily&period_start={today()}", as_="mgr_east")
    rows = {row["user_id"]: row for row in page["items"]}
    assert rows == {
        "rep_a": {"user_id": "rep_a", "name": "Zhang Min (rep)", "status": "submitted", "report_id": report["id"]},
        "rep_b": {"user_id": "rep_b", "name": "Liu Yang (rep)", "status": "missing"},
    }
    assert compliance_of(api, monkeypatch, at_local(0) - timedelta(seconds=1))["rep_b"]["status"] == "not_due"
    assert compliance_of(api, monkeypatch, at_local(0, days=1))["rep_a"]["status"] == "submitted"

    status, edited = api.patch(f"/v1/reports/{report['id']}", {"values": {"visits": 7, "summary": "Three stores"}})
    assert status == 200, edited
    assert edited["values"] == {"visits": 2, "plans": 1, "summary": "Three stores", "calls": None}

    _, inbox = api.get("/v1/messages", as_="mgr_east")
    assert [m["kind"] for m in inbox["items"]].count("report_received") == 1
    status, read = api.get(f"/v1/reports/{report['id']}", as_="mgr_east")
    assert status == 200 and [r["user_id"] for r in read["read_by"]] == ["mgr_east"]
    assert api.get(f"/v1/reports/{report['id']}", as_="mgr_east")[1]["read_by"] == read["read_by"]  # once
    status, out = api.patch(f"/v1/reports/{report['id']}", {"values": {"summary": "late edit"}})
    assert (status, out["error"]["code"]) == (409, "report_read")


def test_one_report_per_author_template_and_period(api, daily):
    assert submit(api, {})[0] == 201
    status, out = submit(api, {"summary": "again"})
    assert (status, out["error"]["code"]) == (409, "report_exists")
    assert len(api.get("/v1/reports?role=mine")[1]["items"]) == 1


def test_bad_submissions_are_422_and_write_nothing(api, daily):
    tomorrow = (NOW.astimezone(org.tenant_zone("acme")).date() + timedelta(days=1)).isoformat()
    for body, code in (
        ({"template_id": "nope", "period_start": today(), "values": {}}, "unknown_template"),
        ({"template_id": "daily", "period_start": tomorrow, "values": {}}, "period_not_started"),
        ({"template_id": "daily", "period_start": today(), "values": {"bogus": 1}}, "unknown_field"),
        ({"template_id": "daily", "period_start": today(), "values": {"calls": "six"}}, "invalid_value"),
        ({"template_id": "daily", "period_start": today(), "values": {}, "recipient_ids": ["ghost"]}, "unknown_user"),
        (
            {
                "template_id": "daily",
                "period_start": today(),
                "values": {},
                "related": [{"type": "account", "id": "x"}],
            },
            "unknown_account",
        ),
    ):
        status, out = api.post("/v1/reports", body)
        assert (status, out["error"]["code"]) == (422, code), body
    assert api.get("/v1/reports?role=mine")[1]["items"] == []
    assert submit(api, {})[0] == 201  # nothing of the refused ones took the slot


def test_template_rules(api):
    bad_auto = {**DAILY, "fields": [{"key": "v", "label": "V", "type": "auto"}]}
    assert api.put("/v1/admin/report-templates/t1", bad_auto, as_="admin")[1]["error"]["code"] == "source_required"
    twice = {**DAILY, "fields": [DAILY["fields"][2], DAILY["fields"][2]]}
    assert api.put("/v1/admin/report-templates/t1", twice, as_="admin")[1]["error"]["code"] == "duplicate_field_key"
    assert api.put("/v1/admin/report-templates/t1", DAILY, as_="mgr_east")[0] == 403
    weekly = {**DAILY, "period": "weekly"}
    assert api.put("/v1/admin/report-templates/weekly", weekly, as_="admin")[0] == 200
    _, page = api.get("/v1/report-templates", as_="rep_a")
    assert [t["id"] for t in page["items"]] == ["weekly"]
    monday = NOW.astimezone(org.tenant_zone("acme")).date()
    monday -= timedelta(days=monday.weekday())
    body = {"template_id": "weekly", "period_start": (monday + timedelta(days=1)).isoformat(), "values": {}}
    assert api.post("/v1/reports", body)[1]["error"]["code"] == "invalid_period_start"
    status, out = api.post("/v1/reports", {**body, "period_start": monday.isoformat()})
    assert status == 201 and out["period_end"] == (monday + timedelta(days=6)).isoformat()


def test_readers_lists_and_the_feed(api, daily, stream):
    _, acc = api.post("/v1/accounts", {"name": "Jing'an"})
    status, report = submit(api, {}, recipient_ids=["vp", "rep_c"], related=[{"type": "account", "id": acc["id"]}])
    assert status == 201 and report["recipient_ids"] == ["mgr_east", "vp", "rep_c"]
    for who, code in (("rep_a", 200), ("mgr_east", 200), ("vp", 200), ("ceo", 200), ("rep_c", 200), ("rep_b", 404)):
        assert api.get(f"/v1/reports/{report['id']}", as_=who)[0] == code, who
    assert [r["user_id"] for r in api.get(f"/v1/reports/{report['id']}")[1]["read_by"]] == [
        "mgr_east",
        "vp",
        "rep_c",
    ]  # not ceo
    assert api.patch(f"/v1/reports/{report['id']}", {"values": {}}, as_="vp")[1]["error"]["code"] == "not_author"
    assert [r["id"] for r in api.get("/v1/reports?role=received", as_="rep_c")[1]["items"]] == [report["id"]]
    assert api.get("/v1/reports?role=received&template_id=other", as_="rep_c")[1]["items"] == []
    assert api.get(f"/v1/reports?role=mine&period_start={today()}")[1]["items"][0]["id"] == report["id"]
    assert api.get("/v1/reports?role=mine&period_start=2020-01-01")[1]["items"] == []
    _, feed = api.get("/v1/feed?limit=100", as_="mgr_east")
    assert [a["id"] for a in feed["items"] if a["type"] == "report"] == [f"act_{report['id']}"]
    stream.pump()  # the re-drive of the INSERT sends nothing twice
    _, inbox = api.get("/v1/messages", as_="vp")
    assert [m["kind"] for m in inbox["items"]] == ["report_received"]


def test_compliance_is_for_managers_and_department_heads(api, daily):
    status, out = api.get(f"/v1/report-compliance?template_id=daily&period_start={today()}", as_="rep_a")
    assert (status, out["error"]["code"]) == (403, "not_a_leader")
    org.put_user("acme", org.NewUser("kam", "Key Account Head", "sales", "vp", None, None))
    org.put_department("acme", "east_key", "Key accounts East", "east", "kam")
    org.put_user("acme", org.NewUser("key_rep", "Key Rep", "east_key", "rep_b", None, None))
    _, page = api.get(f"/v1/report-compliance?template_id=daily&period_start={today()}", as_="kam")
    assert [r["user_id"] for r in page["items"]] == ["key_rep"]


def add_reps(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        org.put_user("acme", org.NewUser(f"extra{i:03d}", f"Extra {i:03d}", "east", "mgr_east", None, None))


def test_compliance_costs_the_same_per_page_at_10_and_more_people(api, daily, ddb_requests):
    def measured() -> tuple[list[str], int]:
        ddb_requests.reset()
        status, page = api.get(
            f"/v1/report-compliance?template_id=daily&period_start={today()}&limit=100", as_="mgr_east"
        )
        assert status == 200
        return sorted(ddb_requests.calls), len(page["items"])

    add_reps(8)
    small, people = measured()
    assert people == 10
    add_reps(110, start=8)
    large, people = measured()
    assert people == 100
    assert large == small


def test_report_lists_cost_the_same_per_page_at_10_and_more_reports(api, daily, ddb_requests):
    from chalicelib.auth import Principal
    from chalicelib.services.reports import reports

    day = NOW.astimezone(org.tenant_zone("acme")).date()

    def send(first: int, last: int) -> None:  # rep_a's and rep_b's daily reports of past days
        for n in range(first, last):
            author = Principal(("rep_a", "rep_b")[n % 2], "acme", frozenset())
            reports.submit(author, reports.NewReport("daily", (day - timedelta(days=n)).isoformat(), {}))

    def measured(role: str, as_: str) -> tuple[list[str], int]:
        ddb_requests.reset()
        status, page = api.get(f"/v1/reports?role={role}&limit=20", as_=as_)
        assert status == 200
        return sorted(ddb_requests.calls), len(page["items"])

    send(0, 10)
    small = measured("received", "mgr_east"), measured("mine", "rep_a")
    send(10, 50)
    large = measured("received", "mgr_east"), measured("mine", "rep_a")
    assert [count for _, count in small] == [10, 5] and [count for _, count in large] == [20, 20]
    assert [calls for calls, _ in large] == [calls for calls, _ in small]


def test_the_team_digest_lists_reports_missing_on_the_last_working_day(api, daily):
    from datetime import date

    from chalicelib.services.performance import digest

    weekly = {**DAILY, "name": "Weekly report", "period": "weekly"}
    assert api.put("/v1/admin/report-templates/weekly", weekly, as_="admin")[0] == 200
    # Thursday 2026-03-12's digest: Wednesday's daily reports are due, the week's are not
    body = {"template_id": "daily", "period_start": "2026-03-11", "values": {}}
    status, late = api.post("/v1/reports", body, as_="rep_a")
    assert status == 201 and late["late"] is True
    found = digest.reports("acme", date(2026, 3, 12))
    assert found["mgr_east"].missing_reports == ["Liu Yang (rep) (Daily report 2026-03-11)"]
    assert "Zhang Min (rep) (Daily report 2026-03-11)" not in found["vp"].missing_reports
    assert "Sun Li (rep) (Daily report 2026-03-11)" in found["vp"].missing_reports
    # Wednesday a holiday: Thursday's digest looks back to Tuesday, whose reports are missing
    workcalendar.put_year("acme", 2026, ["2026-03-11"], [])
    assert found["mgr_east"].missing_reports != digest.reports("acme", date(2026, 3, 12))["mgr_east"].missing_reports
    assert digest.reports("acme", date(2026, 3, 12))["mgr_east"].missing_reports == [
        "Zhang Min (rep) (Daily report 2026-03-10)",
        "Liu Yang (rep) (Daily report 2026-03-10)",
    ]


def test_day_figures_count_each_source_once_from_the_stream(api, stream):
    from datetime import date

    from chalicelib.services.reports import figures

    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    location = {"lat": 31.2, "lng": 121.4, "accuracy_m": 10}
    assert api.post("/v1/signins", {"kind": "check_in", "location": location, "client_time": now})[0] == 201
    assert api.post("/v1/signins", {"kind": "check_out", "location": location, "client_time": now})[0] == 201
    assert api.post("/v1/logs", {"date": today(), "content": "Restock agreed"})[0] == 201
    _, acc = api.post("/v1/accounts", {"name": "Acct"})
    body = {"name": "Deal", "account_id": acc["id"], "stage": "won", "amount": "1200.50"}
    assert api.post("/v1/opportunities", body)[0] == 201
    unit = {"type": "person", "id": "rep_a"}
    expense = {"amount": "88.50", "category": "travel", "occurred_on": today(), "unit": unit}
    _, exp = api.post("/v1/expenses", expense)
    assert api.post(f"/v1/expenses/{exp['id']}/submit")[0] == 200
    records = stream.pump()
    stream.deliver(records)  # redelivered: counted once
    day = date.fromisoformat(today())
    assert figures.totals("acme", "rep_a", day, day) == {
        "checkins": 1,
        "visits_minutes": 0,  # same minute in and out
        "plans_done": 0,
        "plans_total": 0,
        "logs": 1,
        "expenses_total": "88.50",
        "won_amount": "1200.50",
        "new_opportunities": 1,
    }
    assert figures.totals("acme", "rep_b", day, day)["checkins"] == 0


def test_compliance_pages_through_a_team_and_a_heads_departments(api, daily):
    def all_pages(as_: str) -> list[str]:
        seen, cursor = [], None
        for _ in range(20):
            query = f"template_id=daily&period_start={today()}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, page = api.get(f"/v1/report-compliance?{query}", as_=as_)
            assert status == 200, page
            seen += [r["user_id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return seen
        raise AssertionError("no last page")

    assert sorted(all_pages("vp")) == ["mgr_east", "mgr_west", "rep_a", "rep_b", "rep_c"]
    org.put_user("acme", org.NewUser("kam", "Key Account Head", "sales", "vp", None, None))
    org.put_department("acme", "east_key", "Key accounts East", "east", "kam")
    org.put_department("acme", "east_key_2", "Key accounts 2", "east_key", None)
    for n, dept in enumerate(("east_key", "east_key", "east_key_2")):
        org.put_user("acme", org.NewUser(f"key{n}", f"Key {n}", dept, "rep_b", None, None))
    assert sorted(all_pages("kam")) == ["key0", "key1", "key2"]


def test_late_missing_and_not_due_follow_the_work_calendar(api, daily):
    workcalendar.put_year("acme", 2026, ["2026-03-10"], [])

    def statuses(day: str) -> dict[str, str]:
        _, page = api.get(f"/v1/report-compliance?template_id=daily&period_start={day}", as_="mgr_east")
        return {row["user_id"]: row["status"] for row in page["items"]}

    status, report = api.post("/v1/reports", {"template_id": "daily", "period_start": "2026-03-11", "values": {}})
    assert status == 201 and report["late"] is True
    assert statuses("2026-03-11") == {"rep_a": "late", "rep_b": "missing"}
    assert statuses("2026-03-10") == {"rep_a": "not_due", "rep_b": "not_due"}  # a holiday
    assert statuses("2026-03-08") == {"rep_a": "not_due", "rep_b": "not_due"}  # a Sunday
    tomorrow = (NOW.astimezone(org.tenant_zone("acme")).date() + timedelta(days=2)).isoformat()
    assert set(statuses(tomorrow).values()) == {"not_due"}
