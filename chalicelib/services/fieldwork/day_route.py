"""The day's route: the caller's plans of a tenant-local day, in the order that shortens
the trip from a start point.

Cost: 1 Query (the day's plans, at most ``MAX_PLANS`` read) + at most 3 BatchGets (the
accounts, then their people and departments, to keep only accounts the caller may see now),
then pure computation (``routing``). Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.auth import Principal
from chalicelib.errors import Unprocessable
from chalicelib.geo import Point, path_m
from chalicelib.models.crm import Account
from chalicelib.models.schedule import Plan, dated_range
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.crm.crm import can_see
from chalicelib.services.fieldwork import routing
from chalicelib.timeutil import parse_date

MAX_PLANS = 100


@dataclass(frozen=True)
class Stop:
    plan: Plan
    account: Account

    @property
    def point(self) -> Point:
        loc = self.account.location
        return (float(loc.lat), float(loc.lng))


def _day_plans(principal: Principal, day: str) -> list[Plan]:
    """The caller's plans of the day that are not cancelled, in start-time order."""
    found = Plan.gsi1.query(
        Plan.user_pk(principal.tenant_id, principal.user_id),
        Plan.GSI1SK.between(*dated_range(day, day)),
        limit=MAX_PLANS,
        page_size=MAX_PLANS,
    )
    kept = [p for p in found if isinstance(p, Plan) and p.status != "cancelled"]
    return sorted(kept, key=lambda p: (p.start_time or "~", p.created_at, p.plan_id))


def _stops(principal: Principal, day_plans: list[Plan]) -> list[Stop]:
    """Plans whose account the caller may see now and that has a location."""
    resolver = Resolver(principal.tenant_id)
    accounts = resolver.load_objects(("account", p.account_id) for p in day_plans if p.account_id)
    out = []
    for plan in day_plans:
        account = accounts.get(("account", plan.account_id or ""))
        if isinstance(account, Account) and account.location is not None and can_see(principal, account, resolver):
            out.append(Stop(plan, account))
    return out


def day_route(principal: Principal, day: str, start: Point) -> dict[str, Any]:
    parse_date(day)
    day_plans = _day_plans(principal, day)
    stops = _stops(principal, day_plans)
    if len(stops) > routing.MAX_STOPS:
        raise Unprocessable(
            f"the day has {len(stops)} located plans; a route orders at most {routing.MAX_STOPS}",
            code="too_many_stops",
        )
    d = routing.matrix(start, [s.point for s in stops])
    given = list(range(1, len(stops) + 1))
    order = routing.shortest_order(d, given)
    legs, here = [], 0
    for index in order:
        stop = stops[index - 1]
        legs.append(
            {
                "plan_id": stop.plan.plan_id,
                "account_id": stop.account.object_id,
                "name": stop.account.name,
                "title": stop.plan.title,
                "start_time": stop.plan.start_time,
                "location": {"lat": stop.point[0], "lng": stop.point[1]},
                "distance_m": round(d[here][index]),
            }
        )
        here = index
    routed = {s.plan.plan_id for s in stops}
    return {
        "date": day,
        "start": {"lat": start[0], "lng": start[1]},
        "stops": legs,
        "total_distance_m": round(routing.length(d, order)),
        "naive_distance_m": round(path_m([start, *(s.point for s in stops)])),
        "unrouted_plan_ids": [p.plan_id for p in day_plans if p.plan_id not in routed],
    }
