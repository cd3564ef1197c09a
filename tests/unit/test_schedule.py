"""Pure schedule rules: time zones, reminder due times, minute buckets, completion rate."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import pytest

os.environ.setdefault("TABLE_NAME", "fieldsales-test")
os.environ.setdefault("BUCKET_NAME", "fieldsales-test-uploads")

from chalicelib.errors import Unprocessable  # noqa: E402
from chalicelib.models.schedule import Plan, remind_shard  # noqa: E402
from chalicelib.services.org.org import zone_named  # noqa: E402
from chalicelib.services.schedule import reminders  # noqa: E402
from chalicelib.services.schedule import schedule as svc  # noqa: E402

SHANGHAI = zone_named("Asia/Shanghai")
NOW = datetime(2030, 1, 15, 0, 0, tzinfo=UTC)


def plan(**fields) -> Plan:
    base = {
        "tenant_id": "acme",
        "plan_id": "pln_1",
        "user_id": "rep_a",
        "date": "2030-01-15",
        "title": "t",
        "status": "planned",
        "created_at": "x",
        "updated_at": "x",
    }
    return Plan(**{**base, **fields})


def test_local_date_at_2330_shanghai_is_that_day_though_utc_is_earlier():
    assert svc.local_date("2030-01-15T23:30:00+08:00", SHANGHAI) == "2030-01-15"
    assert svc.local_date("2030-01-15T15:30:00Z", SHANGHAI) == "2030-01-15"
    assert svc.local_date("2030-01-15T16:00:00Z", SHANGHAI) == "2030-01-16"


def test_day_start_utc_in_shanghai_is_previous_utc_evening():
    assert svc.day_start_utc(date(2030, 1, 15), SHANGHAI) == datetime(2030, 1, 14, 16, 0, tzinfo=UTC)


def test_day_start_utc_across_dst_change_in_new_york():
    ny = zone_named("America/New_York")
    assert svc.day_start_utc(date(2030, 3, 10), ny).hour == 5  # EST
    assert svc.day_start_utc(date(2030, 3, 11), ny).hour == 4  # EDT


def test_unknown_time_zone_falls_back_to_shanghai():
    assert zone_named("Mars/Olympus") == SHANGHAI


def test_compute_reminder_is_start_minus_lead_in_utc():
    p = plan(start_time="2030-01-15T01:30:00Z", remind_minutes_before=30)
    svc._compute_reminder(p, NOW)
    assert p.remind_at == "2030-01-15T01:00:00Z"
    p.set_keys()
    shard = remind_shard(p.plan_id)  # the minute's partition, spread by plan id (shard 0: the unsharded key)
    assert "T#~system#REMIND#2030-01-15T01:00" + (f"#{shard}" if shard else "") == p.GSI2PK
    assert p.GSI2SK.startswith("2030-01-15T01:00:00Z#acme#")


def test_compute_reminder_already_past_but_not_started_is_due_now():
    p = plan(start_time="2030-01-15T00:10:00Z", remind_minutes_before=30)
    svc._compute_reminder(p, NOW)
    assert p.remind_at == "2030-01-15T00:00:00Z"


def test_compute_reminder_for_started_plan_is_none_and_unindexed():
    p = plan(start_time="2030-01-14T23:00:00Z", remind_minutes_before=30)
    svc._compute_reminder(p, NOW)
    p.set_keys()
    assert p.remind_at is None and p.GSI2PK is None


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_plan_not_planned_leaves_the_due_index(status):
    p = plan(start_time="2030-01-15T01:30:00Z", remind_minutes_before=30, status=status)
    svc._compute_reminder(p, NOW)
    p.set_keys()
    assert p.GSI2PK is None


def test_validate_plan_start_on_other_local_day_is_422():
    p = plan(date="2030-01-16", start_time="2030-01-15T15:30:00Z")
    with pytest.raises(Unprocessable) as err:
        svc._validate_plan(p, SHANGHAI)
    assert err.value.code == "date_mismatch"


def test_check_range_caps_at_92_days():
    svc.check_range(date(2030, 1, 1), date(2030, 4, 2))  # 92 days inclusive
    with pytest.raises(Unprocessable):
        svc.check_range(date(2030, 1, 1), date(2030, 4, 3))


def test_minutes_cover_every_bucket_of_the_window():
    since = datetime(2030, 1, 15, 0, 58, 50, tzinfo=UTC)
    until = datetime(2030, 1, 15, 1, 0, 20, tzinfo=UTC)
    assert reminders._minutes(since, until) == ["2030-01-15T00:58", "2030-01-15T00:59", "2030-01-15T01:00"]


def test_completion_rate_is_null_without_plans_and_rounded():
    assert svc._rate(0, 0) is None
    assert svc._rate(2, 3) == 0.6667


def test_to_dict_of_plan_hides_remind_at_when_disarmed():
    p = plan(start_time="2030-01-15T01:30:00Z", remind_minutes_before=30, remind_at="2030-01-15T01:00:00Z")
    assert svc.to_dict(p)["remind_at"] == "2030-01-15T01:00:00Z"
    p.status = "cancelled"
    assert svc.to_dict(p)["remind_at"] is None
