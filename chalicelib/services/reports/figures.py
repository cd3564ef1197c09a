"""Figures kept on write: what each user did on each tenant-local day, counted from the
table stream, so a report's ``auto`` fields are one BatchGet of the period's days (at most
31 keys) and never a scan. Same style as goal actuals (services/performance/actuals.py),
per user and *day* rather than month:

- sign-in ``check_in``: ``checkins`` on the day of its server time;
- visit, once closed: ``visits_seconds`` (its duration) on the day it started;
- plan: ``plans_total`` (not cancelled) and ``plans_done`` on its date;
- work log: ``logs`` on its date;
- expense (submitted or approved): ``expenses_cents`` on its ``occurred_on``;
- opportunity: ``new_opportunities`` on its creation day; once won, ``won_amount_cents``
  (tenant currency at that day's rate) on the day it closed.

A record's effect is the new image's contribution minus the old one's. Exactly once: the
deltas and a mark named by the record's event id commit in one transaction conditional on
the mark's absence.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any, Optional

from chalicelib.models.base import BaseItem, Cancelled, Tx
from chalicelib.models.crm import Opportunity
from chalicelib.models.expenses import Expense
from chalicelib.models.goals import MARK_TTL_S, AggregateMark
from chalicelib.models.reports import FIGURE_COUNTERS, DayFigures
from chalicelib.models.schedule import Plan, WorkLog
from chalicelib.models.signins import SignIn, Visit
from chalicelib.observability import count
from chalicelib.services.expenses import budgets, fx
from chalicelib.services.org import org, pipeline
from chalicelib.services.platform.counters import difference
from chalicelib.services.platform.projections import Change, Projection, reads
from chalicelib.timeutil import local_date

ENTITIES = frozenset({"SignIn", "Visit", "Plan", "WorkLog", "Expense", "Opportunity"})
LIVE_EXPENSE = ("submitted", "approved")
MARK_PREFIX = "dayfig:"  # beside the actuals' marks of the same stream record

Key = tuple[str, str]  # (user_id, YYYY-MM-DD)


def contribution(item: Optional[BaseItem], settings: Any) -> dict[Key, Counter]:
    """What one stored entity counts for, by (user, day)."""
    out: dict[Key, Counter] = {}
    if item is None:
        return out
    zone = org.tenant_zone(item.tenant_id, settings)

    def add(user: str, day: str, **deltas: int) -> None:
        out.setdefault((user, day), Counter()).update(deltas)

    if isinstance(item, SignIn) and item.kind == "check_in":
        add(item.user_id, local_date(item.server_time, zone), checkins=1)
    elif isinstance(item, Visit) and item.duration_s is not None:
        add(item.user_id, local_date(item.started_at, zone), visits_seconds=int(item.duration_s))
    elif isinstance(item, Plan) and item.status != "cancelled":
        add(item.user_id, item.date, plans_total=1, plans_done=int(item.status == "done"))
    elif isinstance(item, WorkLog):
        add(item.user_id, item.date, logs=1)
    elif isinstance(item, Expense) and item.status in LIVE_EXPENSE:
        add(item.user_id, item.occurred_on, expenses_cents=item.booked_cents)
    elif isinstance(item, Opportunity):
        add(item.owner_id, local_date(item.created_at, zone), new_opportunities=1)
        if item.closed_at and pipeline.of(settings).outcome(item.stage) == "won":
            add(
                item.owner_id,
                local_date(item.closed_at, zone),
                won_amount_cents=fx.won_cents(item, settings.currency, zone),
            )
    return out


def deltas(old: Optional[BaseItem], new: Optional[BaseItem], settings: Any) -> dict[Key, dict[str, int]]:
    """New contribution minus old, zero entries dropped."""
    return difference(contribution(old, settings), contribution(new, settings))


def apply(tenant_id: str, event_id: str, changes: dict[Key, dict[str, int]]) -> bool:
    """Commit the deltas once per event id; False when this event was already counted."""
    if not changes:
        return False
    tx = Tx("dayfigures")
    mark = AggregateMark(tenant_id=tenant_id, event_id=MARK_PREFIX + event_id)
    mark.ttl = timedelta(seconds=MARK_TTL_S)
    tx.put("mark", mark, condition=AggregateMark.PK.does_not_exist())
    for (user_id, day), counters in sorted(changes.items()):
        item = DayFigures(tenant_id=tenant_id, user_id=user_id, day=day)
        item.set_keys()
        tx.update(f"{user_id}:{day}", item, DayFigures.add_actions(tenant_id, user_id, day, counters))
    try:
        tx.commit()
    except Cancelled as exc:
        if "mark" in exc.failed:
            count("DayFiguresDuplicateSkipped")
            return False
        raise
    return True


def handle_change(change: Change) -> bool:
    """One stream record: count its entity's change once."""
    new, old = change.new, change.old
    item = new or old
    if item is None:
        return False
    settings = org.settings_of_change(change)
    return apply(item.tenant_id, change.event_id, deltas(old, new, settings))


PROJECTION = Projection(
    name="report_figures",
    reads=(reads(*ENTITIES),),
    kept="after_commit",
    writes=("DayFigures", "AggregateMark (report figures)"),
    apply=handle_change,
    doc="per-user-and-day figures that reports' auto fields sum: each stream event counted once",
)


# ---------------------------------------------------------------- reading
def totals(tenant_id: str, user_id: str, start: date, end: date) -> dict[str, Any]:
    """The user's figures from ``start`` to ``end`` (at most 100 days: one BatchGet), by
    ``auto`` source: counts as integers, money as decimal strings in the tenant currency."""
    keys = [
        DayFigures.key_of(tenant_id, user_id, (start + timedelta(days=n)).isoformat())
        for n in range((end - start).days + 1)
    ]
    summed: Counter = Counter()
    for item in BaseItem.batch_get(keys):
        if isinstance(item, DayFigures):
            summed.update({name: int(getattr(item, name) or 0) for name in FIGURE_COUNTERS})
    return {
        "checkins": summed["checkins"],
        "visits_minutes": summed["visits_seconds"] // 60,
        "plans_done": summed["plans_done"],
        "plans_total": summed["plans_total"],
        "logs": summed["logs"],
        "expenses_total": budgets.money(summed["expenses_cents"]),
        "won_amount": budgets.money(summed["won_amount_cents"]),
        "new_opportunities": summed["new_opportunities"],
    }
