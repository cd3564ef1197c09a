"""The tenant work calendar: admins set holidays and make-up working days per year; the
digest's quiet days, goal pace and report compliance count working days by it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from chalicelib.services.org import org, workcalendar
from chalicelib.services.performance import digest, goals


def test_admin_sets_a_year_and_reads_it_back(api):
    body = {"holidays": ["2030-10-01", "2030-10-02"], "workdays": ["2030-10-12"]}
    status, out = api.put("/v1/admin/work-calendar/2030", body, as_="admin")
    assert status == 200, out
    assert (out["year"], out["holidays"], out["workdays"]) == (2030, body["holidays"], body["workdays"])
    assert api.get("/v1/admin/work-calendar/2030", as_="admin")[1]["holidays"] == body["holidays"]
    assert api.get("/v1/admin/work-calendar/2031", as_="admin")[1]["holidays"] == []
    assert api.put("/v1/admin/work-calendar/2030", body, as_="mgr_east")[0] == 403


def test_bad_calendars_are_422_and_write_nothing(api):
    api.put("/v1/admin/work-calendar/2030", {"holidays": ["2030-05-01"]}, as_="admin")
    for body, code in (
        ({"holidays": ["2031-01-01"]}, "date_outside_year"),
        ({"workdays": ["2030-10-14"]}, "workday_not_weekend"),  # a Monday
        ({"holidays": ["2030-10-12"], "workdays": ["2030-10-12"]}, "holiday_is_workday"),
        ({"holidays": ["2030-02-30"]}, "invalid_date"),
    ):
        status, out = api.put("/v1/admin/work-calendar/2030", body, as_="admin")
        assert (status, out["error"]["code"]) == (422, code), body
    assert api.get("/v1/admin/work-calendar/2030", as_="admin")[1]["holidays"] == ["2030-05-01"]


def test_working_days_follow_weekdays_holidays_and_make_up_days(api):
    workcalendar.put_year("acme", 2030, ["2030-10-01"], ["2030-10-12"])
    days = workcalendar.working_days("acme", date(2030, 9, 30), date(2030, 10, 13))
    assert [d.isoformat() for d in days] == [
        "2030-09-30",
        "2030-10-02",
        "2030-10-03",
        "2030-10-04",
        "2030-10-07",
        "2030-10-08",
        "2030-10-09",
        "2030-10-10",
        "2030-10-11",
        "2030-10-12",
    ]
    assert not workcalendar.is_working_day("globex", date(2030, 10, 12))  # another tenant's calendar
    # the digest's quiet days skip the holiday: 3 working days before Thursday 3rd
    assert digest.working_days_before(date(2030, 10, 3), 3, "acme") == date(2030, 9, 27)
    assert digest.working_days_before(date(2030, 10, 3), 3) == date(2030, 9, 30)


def test_goal_pace_counts_working_days_of_the_month(api):
    zone = org.tenant_zone("acme")
    # April 2030: 22 weekdays; with the 1st..5th as holidays, the 8th starts at 0 of 17
    assert goals.elapsed_share("2030-04", "acme", datetime(2030, 4, 8, tzinfo=zone)) == Decimal(5) / 22
    workcalendar.put_year("acme", 2030, [f"2030-04-0{d}" for d in range(1, 6)], [])
    assert goals.elapsed_share("2030-04", "acme", datetime(2030, 4, 8, tzinfo=zone)) == 0
    assert goals.elapsed_share("2030-04", "acme", datetime(2030, 4, 9, 12, tzinfo=zone)) == Decimal("1.5") / 17
