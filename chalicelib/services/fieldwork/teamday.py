"""The leader's view of a tenant-local day: each subordinate's sign-ins, visits, first
check-in, last location, flagged count and distance travelled.

Requests per page of up to 100 subordinates, whatever the tenant's size:
1 Query (the caller's team listing, every depth, nearest first) + 1 BatchGetItem of the
page's ``UserDay`` items (keys known from user and date) + ceil(sign-ins / 100)
BatchGetItem of the sign-ins + ceil(visits / 100) of their visits. With at most k
sign-ins per person and day that is at most 2 + 2 * ceil(k * people / 100) (k = 10:
22 for 100 people); it never depends on users outside the caller's team.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Optional

from chalicelib.auth import Principal
from chalicelib.errors import Unprocessable
from chalicelib.models.org import DirectoryEntry
from chalicelib.models.signins import SignIn, UserDay, Visit
from chalicelib.services.fieldwork.signins import distance_m, to_dict, visit_to_dict
from chalicelib.services.org import org


def _batch_get(model: Any, keys: list[tuple[str, str]]) -> list[Any]:
    return list(model.batch_get(keys)) if keys else []


def _summary(entry: DirectoryEntry, signins: list[SignIn], visits: dict[str, Visit]) -> dict[str, Any]:
    signins = sorted(signins, key=lambda s: s.timeline_sk)
    check_ins = [s.client_time for s in signins if s.kind == "check_in"]
    path = [(float(s.lat), float(s.lng)) for s in signins]
    metres = sum(distance_m(a, b) for a, b in zip(path, path[1:], strict=False))
    visit_ids = list(dict.fromkeys(s.visit_id for s in signins if s.visit_id))
    last = signins[-1] if signins else None
    return {
        "user_id": entry.user_id,
        "name": entry.name,
        "depth": int(entry.depth or 1),
        "signins": [to_dict(s) for s in signins],
        "visits": [visit_to_dict(visits[v]) for v in visit_ids if v in visits],
        "first_check_in_at": min(check_ins) if check_ins else None,
        "last_location": {"lat": last.lat, "lng": last.lng, "at": last.client_time} if last else None,
        "flagged_count": sum(1 for s in signins if s.flags),
        "distance_km": round(metres / 1000, 3),
    }


def team_day(
    principal: Principal, day: str, limit: int, cursor: Optional[str]
) -> tuple[list[dict[str, Any]], Optional[str]]:
    try:
        date.fromisoformat(day)
    except ValueError:
        raise Unprocessable(f"{day!r} is not a calendar date", code="invalid_date") from None
    if not ("1970-01-01" <= day <= "2200-12-31"):
        raise Unprocessable("date must be within 1970..2200", code="out_of_range")
    t = principal.tenant_id
    scope = f"teamday:{t}:{principal.user_id}:{day}"
    people, next_cursor = org.team_page(t, principal.user_id, False, limit, cursor, scope)
    days = _batch_get(UserDay, [UserDay.key_of(t, p.user_id, day) for p in people])
    wanted = [sid for u in days for sid in u.signin_ids]
    signins = _batch_get(SignIn, [SignIn.key_of(t, sid) for sid in wanted])
    visit_ids = sorted({s.visit_id for s in signins if s.visit_id})
    visits = {v.visit_id: v for v in _batch_get(Visit, [Visit.key_of(t, v) for v in visit_ids])}
    by_user: dict[str, list[SignIn]] = {}
    for s in signins:
        by_user.setdefault(s.user_id, []).append(s)
    return [_summary(p, by_user.get(p.user_id, []), visits) for p in people], next_cursor
