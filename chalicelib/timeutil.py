"""The one time module: parse, range-check and format every timestamp, date and month.

- Timestamps are RFC 3339 with an offset (``Z`` or ``+HH:MM``); they come back as aware
  UTC datetimes to the second and are written ``YYYY-MM-DDTHH:MM:SSZ``.
- Dates are ``YYYY-MM-DD``, months ``YYYY-MM``, always with a 4-digit year.
- Everything must lie in the years ``1970..2200`` (timestamps: as an instant in UTC):
  outside is :class:`OutOfRange` (422 ``out_of_range``). Well-formed but impossible
  values (``2026-02-30``, hour 25) are 422 ``invalid_timestamp`` / ``invalid_date``.

The range is checked on the written fields *before* any arithmetic, so converting a
value to UTC or to a tenant-local day can never overflow: ``9999-12-31T23:59:59-01:00``
is refused, not an ``OverflowError``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Optional
from zoneinfo import ZoneInfo

from chalicelib.errors import OutOfRange, Unprocessable

MIN_YEAR, MAX_YEAR = 1970, 2200
TIMESTAMP_RE = re.compile(
    r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?:\.[0-9]{1,9})?(?P<tz>[Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)
DATE_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{2})\Z")
EXIF_RE = re.compile(r"^([0-9]{4}):([0-9]{2}):([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")
LOCAL_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")


# ---------------------------------------------------------------- formatting
def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, 4-digit year). A naive datetime is taken as UTC."""
    u = dt.astimezone(UTC) if dt.tzinfo is not None else dt
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def format_local(dt: datetime) -> str:
    """A wall-clock time without offset: ``YYYY-MM-DDTHH:MM:SS`` (4-digit year)."""
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"


def format_date(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def format_month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def format_minute(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM`` in UTC: the key of a one-minute bucket."""
    return iso(dt)[:16]


# ---------------------------------------------------------------- range
def check_year(year: int, field: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise OutOfRange(f"{field} must lie in the years {MIN_YEAR}..{MAX_YEAR}")


def in_range(dt: datetime) -> datetime:
    """An aware datetime whose UTC instant lies in the range, else :class:`OutOfRange`."""
    check_year(dt.year, "the time")  # first, so the conversion below cannot overflow
    utc = dt.astimezone(UTC)
    check_year(utc.year, "the time")
    return utc


def _near_range(dt: datetime) -> datetime:
    """Arithmetic guard: a datetime within a year either side of the range (a day's
    bounds in a zone may reach 1969 or 2201), so converting it cannot overflow."""
    if not MIN_YEAR - 1 <= dt.year <= MAX_YEAR + 1:
        raise OutOfRange(f"times must lie in the years {MIN_YEAR}..{MAX_YEAR}")
    return dt


# ---------------------------------------------------------------- parsing
def parse_timestamp(value: str, field: str = "timestamp") -> datetime:
    """RFC 3339 with an offset -> aware UTC datetime, whole seconds."""
    m = TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if m is None:
        raise Unprocessable(f"{field} is not an RFC 3339 timestamp with an offset", code="invalid_timestamp")
    check_year(int(m["y"]), field)
    tz = m["tz"].upper()
    try:
        offset = UTC if tz == "Z" else _offset(tz)
        dt = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]), tzinfo=offset)
    except ValueError:
        raise Unprocessable(f"{field} is not a possible time", code="invalid_timestamp") from None
    utc = dt.astimezone(UTC)  # the local year is at most 2200: no overflow
    check_year(utc.year, field)
    return utc


def _offset(tz: str) -> timezone:
    """``+HH:MM`` / ``-HH:MM`` -> a fixed offset; ValueError beyond 23:59."""
    if not re.fullmatch(r"[+-][0-9]{2}:[0-9]{2}", tz):
        raise ValueError(tz)
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(tz)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if tz[0] == "-" else delta)


def normalize(value: Optional[str], field: str = "timestamp") -> Optional[str]:
    """RFC 3339 (any offset) -> ``YYYY-MM-DDTHH:MM:SSZ``, so stored keys sort by time."""
    return None if value is None else iso(parse_timestamp(value, field))


MAX_SKEW = timedelta(minutes=5)  # how far ahead of our clock a sender's stamp may be


def stated(value: Optional[str], field: str = "timestamp", now: Optional[datetime] = None) -> Optional[str]:
    """A timestamp a client or partner states about the past (an activity's ``occurred_at``,
    a webhook's ``timestamp``, ``paid_at``), normalised and never ahead of our clock: more
    than ``MAX_SKEW`` ahead is 422 ``future_timestamp`` (a stamp in 2199 pinned a feed's top
    and every "latest wins" for good); within it, clamped to now, so ordering and "latest
    wins" always run on a clock the sender cannot push ahead."""
    if value is None:
        return None
    at = parse_timestamp(value, field)
    current = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    if at > current + MAX_SKEW:
        raise Unprocessable(f"{field} {value} is in the future", code="future_timestamp")
    return iso(min(at, current))


def parse_date(value: str, field: str = "date") -> date:
    m = DATE_RE.match(value) if isinstance(value, str) else None
    if m is None:
        raise Unprocessable(f"{field} is not a YYYY-MM-DD date", code="invalid_date")
    check_year(int(m[1]), field)
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise Unprocessable(f"{field} is not a calendar date", code="invalid_date") from None


def parse_month(value: str, field: str = "month") -> date:
    """``YYYY-MM`` -> the first day of that month."""
    m = MONTH_RE.match(value) if isinstance(value, str) else None
    if m is None or not 1 <= int(m[2]) <= 12:
        raise Unprocessable(f"{field} is not a YYYY-MM month", code="invalid_month")
    check_year(int(m[1]), field)
    return date(int(m[1]), int(m[2]), 1)


def parse_local(value: str, zone: tzinfo | str) -> datetime:
    """A wall-clock ``YYYY-MM-DDTHH:MM:SS`` (as :func:`format_local` writes it) in a zone
    (a ``ZoneInfo`` or a ``+HH:MM`` offset) -> aware UTC datetime."""
    m = LOCAL_RE.match(value) if isinstance(value, str) else None
    if m is None:
        raise Unprocessable("not a local time", code="invalid_timestamp")
    try:
        tz = _offset(zone) if isinstance(zone, str) else zone
        return in_range(_build(m, tz))
    except ValueError:
        raise Unprocessable("not a possible local time", code="invalid_timestamp") from None


def parse_exif(raw: str) -> Optional[datetime]:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` -> a naive wall-clock datetime; None when unreadable
    or outside the range (cameras write zeros and garbage)."""
    m = EXIF_RE.match(raw.strip("\x00 ")) if isinstance(raw, str) else None
    if m is None or not MIN_YEAR <= int(m[1]) <= MAX_YEAR:
        return None
    try:
        return _build(m, None)
    except ValueError:
        return None


def _build(m: re.Match[str], tz: Optional[tzinfo]) -> datetime:
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    check_year(y, "the time")
    return datetime(y, mo, d, h, mi, s, tzinfo=tz)


# ---------------------------------------------------------------- tenant-local days
def local_date(instant: datetime | str, zone: ZoneInfo) -> str:
    """The calendar date (``YYYY-MM-DD``) of an instant in the zone."""
    dt = parse_timestamp(instant) if isinstance(instant, str) else _near_range(instant)
    return format_date(dt.astimezone(zone).date())


def day_start_utc(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of ``day`` in the zone, as UTC. ``day`` lies in the range (every
    parser checks it), so a day either side of it still fits a datetime."""
    _near_range(datetime(day.year, 1, 1))
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_day_bounds(day: date | str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of a tenant-local calendar day, in UTC."""
    d = parse_date(day) if isinstance(day, str) else day
    return day_start_utc(d, zone), day_start_utc(d + timedelta(days=1), zone)


def end_of_local_day(when: datetime, zone: ZoneInfo) -> datetime:
    """The next local midnight after ``when``, in UTC."""
    local = _near_range(when).astimezone(zone)
    return day_start_utc(local.date() + timedelta(days=1), zone)


def today(zone: ZoneInfo, now: Optional[datetime] = None) -> date:
    return (now or utcnow()).astimezone(zone).date()
