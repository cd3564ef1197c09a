"""Mileage claims: a draft expense for the distance of a day's sign-ins.

The distance is the great-circle path (``geo.path_m``) through the caller's sign-ins of a
tenant-local day in the order they were made (client time); sign-ins flagged
``mock_location``, ``low_accuracy`` or ``photo_location_mismatch``, and any reached faster
than the tenant's ``max_speed_kmh`` (default 150) from the last one counted
(``implausible_speed``: 1,068 km in 60 s is no drive), are left out and named in the claim.
The claim's amount, currency, category and date are the server's from then on
(services/expenses/money.py: a PATCH of them is 422 ``mileage_fixed``). The amount is
``distance_km x mileage_rate`` (the tenant setting), half-even to cents with exact
decimals; the unit is the caller's department. One claim per user and day: the expense and
a ``MileageClaim`` marker commit together, the marker conditional on its absence (409).

Cost: a fixed number of requests whatever the history (8 in ``bench/bench_money.py``: the
settings, the user, the day's sign-ins, the draft's unit and reference checks, one transaction).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

from chalicelib.auth import Principal
from chalicelib.errors import Conflict, ServiceUnavailable, Unprocessable
from chalicelib.geo import distance_m, path_m
from chalicelib.models.base import Cancelled, Tx
from chalicelib.models.expenses import Expense, MileageClaim
from chalicelib.models.signins import SignIn
from chalicelib.observability import count
from chalicelib.services.access import context
from chalicelib.services.expenses import expenses
from chalicelib.services.org import org
from chalicelib.timeutil import iso, local_day_bounds, parse_date, parse_timestamp

UNTRUSTED = frozenset({"mock_location", "low_accuracy", "photo_location_mismatch"})
TOO_FAST = "implausible_speed"
KM = Decimal("0.001")
CENT = Decimal("0.01")
MAX_SIGNINS = 500


def _day_signins(principal: Principal, day: str) -> list[SignIn]:
    zone = context.of(principal).zone
    start, end = (iso(t) for t in local_day_bounds(day, zone))
    found = SignIn.gsi1.query(
        SignIn.user_pk(principal.tenant_id, principal.user_id), SignIn.GSI1SK.between(start, end), limit=MAX_SIGNINS
    )
    return sorted((s for s in found if start <= s.client_time < end), key=lambda s: (s.client_time, s.signin_id))


def _flags(s: SignIn) -> set[str]:
    return set(s.base_flags or ()) | set(s.photo_flags or ())


def plausible(signins: list[SignIn], max_speed_kmh: int) -> tuple[list[SignIn], list[tuple[SignIn, list[str]]]]:
    """The sign-ins a claim counts (in time order), and those left out with why: a flag
    that makes its location untrustworthy, or reached from the last counted one faster
    than ``max_speed_kmh`` (any distance in no time)."""
    used: list[SignIn] = []
    excluded: list[tuple[SignIn, list[str]]] = []
    for s in signins:
        flags = sorted(_flags(s) & UNTRUSTED)
        if not flags and used and _kmh(used[-1], s) > max_speed_kmh:
            flags = [TOO_FAST]
        if flags:
            excluded.append((s, flags))
        else:
            used.append(s)
    return used, excluded


def _kmh(a: SignIn, b: SignIn) -> float:
    metres = distance_m((float(a.lat), float(a.lng)), (float(b.lat), float(b.lng)))
    seconds = (parse_timestamp(b.client_time) - parse_timestamp(a.client_time)).total_seconds()
    if metres < 1:
        return 0.0
    return math.inf if seconds <= 0 else metres / seconds * 3.6


def claim(principal: Principal, day: str) -> Expense:
    parse_date(day)
    settings = context.of(principal).settings
    rate = settings.mileage_rate
    if not rate:
        raise Unprocessable("the tenant has no mileage_rate set", code="no_mileage_rate")
    used, excluded = plausible(_day_signins(principal, day), int(settings.max_speed_kmh))
    if not used:
        raise Unprocessable(f"no usable sign-ins on {day}", code="no_signins")
    km = (Decimal(str(path_m([(float(s.lat), float(s.lng)) for s in used]))) / 1000).quantize(KM, ROUND_HALF_EVEN)
    amount = (km * Decimal(rate)).quantize(CENT, ROUND_HALF_EVEN)
    if amount <= 0:
        raise Unprocessable(f"the sign-ins of {day} cover no distance", code="no_distance")
    user = org.require_user(principal.tenant_id, principal.user_id)
    e = expenses.new_draft(
        principal,
        {
            "amount": f"{amount}",
            "category": "mileage",
            "occurred_on": day,
            "unit": {"type": "department", "id": user.department_id},
            "description": f"Mileage {km} km x {rate}",
        },
        by_claim=True,
    )
    e.mileage = {
        "date": day,
        "distance_km": f"{km}",
        "rate": rate,
        "signin_ids": [s.signin_id for s in used],
        "excluded": [{"signin_id": s.signin_id, "flags": flags} for s, flags in excluded],
    }
    marker = MileageClaim(tenant_id=principal.tenant_id, user_id=principal.user_id, day=day, expense_id=e.expense_id)
    tx = Tx().put("claim", marker, condition=MileageClaim.PK.does_not_exist())
    tx.put("expense", e, condition=Expense.PK.does_not_exist())
    try:
        tx.commit()
    except Cancelled as exc:
        if "claim" in exc.failed:
            raise Conflict(f"mileage for {day} is already claimed", code="mileage_already_claimed") from None
        raise ServiceUnavailable("the claim met a concurrent write; retry", code="retry_later") from exc
    count("MileageClaimed")
    return e
