"""The tenant work calendar: which days are working days.

Working days are Monday..Friday, plus the year's ``workdays`` (make-up working days on
weekends), minus its ``holidays``. The one rule for everything that counts working days:
the team digest's quiet days, goal pace and report compliance. Reading a calendar costs
one BatchGet for the years it covers (a year never stored is the plain Monday..Friday).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chalicelib.errors import Unprocessable
from chalicelib.models.workcalendar import WorkCalendarYear
from chalicelib.timeutil import iso, parse_date, utcnow

MAX_LOOKBACK_DAYS = 3660  # working_days_before gives up after ten years without working days


@dataclass
class Calendar:
    """A tenant's calendar for the years it has read; a year it has not is read on first use.
    Without a tenant: plain Monday..Friday, nothing read."""

    tenant_id: str
    years: dict[int, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)

    def load(self, years: Iterable[int]) -> Calendar:
        missing = sorted({y for y in years if y not in self.years})
        if missing and not self.tenant_id:
            self.years.update({y: (frozenset(), frozenset()) for y in missing})
        elif missing:
            stored = {int(i.year): i for i in WorkCalendarYear.fetch_many(self.tenant_id, missing)}
            for year in missing:
                item = stored.get(year)
                self.years[year] = (
                    (frozenset(item.holidays or ()), frozenset(item.workdays or ()))
                    if item
                    else (frozenset(), frozenset())
                )
        return self

    def is_working_day(self, day: date) -> bool:
        holidays, workdays = self.load([day.year]).years[day.year]
        text = day.isoformat()
        if text in holidays:
            return False
        return day.weekday() < 5 or text in workdays

    def working_days(self, start: date, end: date) -> list[date]:
        """The working days from ``start`` to ``end``, both included."""
        self.load(range(start.year, end.year + 1))
        return [
            start + timedelta(days=n)
            for n in range((end - start).days + 1)
            if self.is_working_day(start + timedelta(days=n))
        ]

    def working_days_before(self, day: date, n: int) -> date:
        """The earliest of the ``n`` working days before ``day``."""
        current = day
        for _ in range(MAX_LOOKBACK_DAYS):
            if n <= 0:
                break
            current -= timedelta(days=1)
            if self.is_working_day(current):
                n -= 1
        return current


def calendar(tenant_id: str, years: Iterable[int] = ()) -> Calendar:
    """The tenant's calendar, with ``years`` read up front (one BatchGet)."""
    return Calendar(tenant_id).load(years)


def is_working_day(tenant_id: str, day: date) -> bool:
    return calendar(tenant_id, [day.year]).is_working_day(day)


def working_days(tenant_id: str, start: date, end: date) -> list[date]:
    return calendar(tenant_id, range(start.year, end.year + 1)).working_days(start, end)


# ---------------------------------------------------------------- the admin's year
def to_dict(item: WorkCalendarYear) -> dict[str, Any]:
    return {
        "year": int(item.year),
        "holidays": sorted(item.holidays or []),
        "workdays": sorted(item.workdays or []),
        "updated_at": item.updated_at,
    }


def _days(values: list[str], year: int, field_name: str) -> list[date]:
    days = [parse_date(v, field_name) for v in values]
    outside = [d.isoformat() for d in days if d.year != year]
    if outside:
        raise Unprocessable(f"{field_name} {outside} are not in {year}", code="date_outside_year")
    return sorted(set(days))


def put_year(tenant_id: str, year: int, holidays: list[str], workdays: list[str]) -> dict[str, Any]:
    """Replace the year's holidays and make-up working days. Every date must lie in the
    year; a make-up working day must be a Saturday or Sunday and no holiday (else 422)."""
    if not 1970 <= year <= 2200:
        raise Unprocessable("year must be within 1970..2200", code="out_of_range")
    off, on = _days(holidays, year, "holidays"), _days(workdays, year, "workdays")
    weekdays = [d.isoformat() for d in on if d.weekday() < 5]
    if weekdays:
        raise Unprocessable(f"workdays {weekdays} are not weekend days", code="workday_not_weekend")
    both = sorted(d.isoformat() for d in set(off) & set(on))
    if both:
        raise Unprocessable(f"{both} are both holidays and workdays", code="holiday_is_workday")
    item = WorkCalendarYear(
        tenant_id=tenant_id,
        year=year,
        holidays=[d.isoformat() for d in off] or None,
        workdays=[d.isoformat() for d in on] or None,
        updated_at=iso(utcnow()),
    )
    item.save()
    return to_dict(item)


def get_year(tenant_id: str, year: int) -> dict[str, Any]:
    """The year as stored, or an empty one (Monday..Friday) when never set."""
    if not 1970 <= year <= 2200:
        raise Unprocessable("year must be within 1970..2200", code="out_of_range")
    return to_dict(WorkCalendarYear.fetch(tenant_id, year) or WorkCalendarYear(tenant_id=tenant_id, year=year))
