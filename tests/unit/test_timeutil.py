"""The one time module: parse, range-check (1970..2200) and format with a 4-digit year."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib import timeutil as tu
from chalicelib.errors import OutOfRange, Unprocessable

SHANGHAI = ZoneInfo("Asia/Shanghai")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # +14:00
PAGO = ZoneInfo("Pacific/Pago_Pago")  # -11:00


def test_format_always_writes_a_four_digit_year():
    assert tu.iso(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert tu.format_date(date(12, 3, 4)) == "0012-03-04"
    assert tu.format_month(date(999, 7, 1)) == "0999-07"
    assert tu.format_local(datetime(5, 6, 7, 8, 9, 10)) == "0005-06-07T08:09:10"
    assert tu.format_minute(datetime(2030, 1, 2, 3, 4, 59, tzinfo=UTC)) == "2030-01-02T03:04"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-22T09:30:00Z", "2026-11-22T09:30:00Z"),
        ("2026-11-22t09:30:00z", "2026-11-22T09:30:00Z"),
        ("2026-11-22T17:30:00+08:00", "2026-11-22T09:30:00Z"),
        ("2026-11-22T00:30:00-01:00", "2026-11-22T01:30:00Z"),
        ("2026-11-22T09:30:00.999999Z", "2026-11-22T09:30:00Z"),
        ("2028-02-29T23:59:59Z", "2028-02-29T23:59:59Z"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("2200-12-31T23:59:59Z", "2200-12-31T23:59:59Z"),
        ("1970-01-01T05:00:00+05:00", "1970-01-01T00:00:00Z"),
    ],
)
def test_normalize_round_trips_to_utc_seconds(value, expected):
    assert tu.normalize(value) == expected
    assert tu.normalize(expected) == expected
    assert tu.iso(tu.parse_timestamp(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-01:00",  # overflowed datetime on the way to UTC
        "0001-01-01T00:00:00+01:00",  # and the other way
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
        "1970-01-01T00:30:00+01:00",  # 1969 as an instant
        "2200-12-31T23:30:00-01:00",  # 2201 as an instant
    ],
)
def test_timestamp_outside_the_years_is_out_of_range_never_overflow(value):
    with pytest.raises(OutOfRange) as err:
        tu.parse_timestamp(value, "client_time")
    assert err.value.code == "out_of_range" and err.value.status == 422
    assert "client_time" in err.value.message


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30T00:00:00Z",
        "2027-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z",
        "2026-01-01T23:59:60Z",
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00",  # no offset
        "2026-01-01 00:00:00Z",
        "1-01-01T00:00:00Z",
        "",
        "now",
        "٢٠٢٦-01-01T00:00:00Z",  # non-ASCII digits
        None,
        20260101,
    ],
)
def test_impossible_or_malformed_timestamp_is_invalid_timestamp(value):
    with pytest.raises(Unprocessable) as err:
        tu.parse_timestamp(value)
    assert err.value.code == "invalid_timestamp"


def test_dates_and_months_parse_with_limits_and_leap_days():
    assert tu.parse_date("2028-02-29") == date(2028, 2, 29)
    assert tu.parse_date("1970-01-01") == date(1970, 1, 1)
    assert tu.parse_date("2200-12-31") == date(2200, 12, 31)
    assert tu.parse_month("2200-12") == date(2200, 12, 1)
    assert tu.format_date(tu.parse_date("2030-04-05")) == "2030-04-05"
    assert tu.format_month(tu.parse_month("2030-04")) == "2030-04"


@pytest.mark.parametrize("value", ["0000-01-01", "0001-01-01", "9999-12-31", "1969-12-31", "2201-01-01"])
def test_date_outside_the_years_is_out_of_range(value):
    with pytest.raises(OutOfRange):
        tu.parse_date(value, "from")
    with pytest.raises(OutOfRange):
        tu.parse_month(value[:7])


@pytest.mark.parametrize("value", ["2026-02-30", "2027-02-29", "2026-04-31", "2026-00-10", "26-01-01", "2026-1-1"])
def test_impossible_date_is_invalid_date(value):
    with pytest.raises(Unprocessable) as err:
        tu.parse_date(value)
    assert err.value.code == "invalid_date"


@pytest.mark.parametrize("value", ["2026-13", "2026-00", "2026-1", "2026-01-01", "", None])
def test_malformed_month_is_invalid_month(value):
    with pytest.raises(Unprocessable) as err:
        tu.parse_month(value)
    assert err.value.code == "invalid_month"


@pytest.mark.parametrize("zone", [SHANGHAI, KIRITIMATI, PAGO, ZoneInfo("UTC")])
@pytest.mark.parametrize("day", [date(1970, 1, 1), date(2200, 12, 31), date(2028, 2, 29)])
def test_local_day_bounds_at_the_limits_do_not_overflow(zone, day):
    start, end = tu.local_day_bounds(day, zone)
    assert start.tzinfo is UTC and end - start in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))
    assert tu.local_date(start, zone) == tu.format_date(day)
    assert tu.local_date(end - timedelta(seconds=1), zone) == tu.format_date(day)


def test_local_day_bounds_of_an_out_of_range_date_string_is_out_of_range():
    with pytest.raises(OutOfRange):
        tu.local_day_bounds("9999-12-31", KIRITIMATI)
    with pytest.raises(OutOfRange):
        tu.day_start_utc(date(9999, 12, 31), PAGO)


def test_end_of_local_day_at_the_upper_limit():
    last = tu.parse_timestamp("2200-12-31T23:59:59Z")
    assert tu.iso(tu.end_of_local_day(last, KIRITIMATI)) == "2201-01-01T10:00:00Z"
    with pytest.raises(OutOfRange):
        tu.end_of_local_day(datetime(9999, 12, 31, 23, tzinfo=UTC), PAGO)


def test_local_date_across_the_date_line():
    assert tu.local_date("2030-01-15T10:30:00Z", KIRITIMATI) == "2030-01-16"
    assert tu.local_date("2030-01-15T10:30:00Z", PAGO) == "2030-01-14"
    with pytest.raises(OutOfRange):
        tu.local_date(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), SHANGHAI)


def test_exif_and_wall_clock_times():
    taken = tu.parse_exif("2030:01:15 09:30:00\x00")
    assert taken == datetime(2030, 1, 15, 9, 30)
    assert tu.parse_exif("0000:00:00 00:00:00") is None
    assert tu.parse_exif("2030:02:30 09:30:00") is None
    assert tu.parse_exif("garbage") is None
    local = tu.format_local(taken)
    assert tu.parse_local(local, "+08:00") == datetime(2030, 1, 15, 1, 30, tzinfo=UTC)
    assert tu.parse_local(local, SHANGHAI) == datetime(2030, 1, 15, 1, 30, tzinfo=UTC)
    with pytest.raises(Unprocessable):
        tu.parse_local(local, "+99:00")
    with pytest.raises(Unprocessable):
        tu.parse_local("0001-01-01T00:00:00", "+01:00")


def test_a_trailing_newline_is_not_part_of_any_format():
    for parse, value in ((tu.parse_timestamp, "2026-01-01T00:00:00Z\n"), (tu.parse_date, "2026-01-01\n")):
        with pytest.raises(Unprocessable):
            parse(value)
    with pytest.raises(Unprocessable):
        tu.parse_month("2026-01\n")
