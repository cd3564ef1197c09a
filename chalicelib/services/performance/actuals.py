"""Actuals kept on write: what each user and department did in a month, counted from the
table stream.

Each entity change contributes to ``(user, month)`` counters; a record's effect is the new
image's contribution minus the old one's, so a creation counts, an edit moves the count
(a plan moved to another month, an opportunity reopened) and a no-op adds nothing.

- sign-in ``check_in``: ``visits`` in the month of its server time (tenant zone);
- opportunity: ``new_opportunities`` for its owner in its creation month; once on a
  ``won`` stage, ``won_count`` and ``won_amount`` in the month it closed (an amount in
  another currency converted at the rate in effect that day; without one it adds 0 and a
  warning is logged);
- plan: ``plans_total`` (not cancelled) and ``plans_done`` in its date's month;
- expense: ``expenses`` (submitted or approved) in its ``occurred_on`` month.

Every counter also adds to each department on the user's department path *at the time the
record is counted*, so a department includes its sub-departments, and a reorg or a move
to another department moves future counting while past months keep what they counted.

Exactly once: the deltas and a mark named by the stream record's event id commit in one
transaction conditional on the mark's absence; a redelivered record is cancelled whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Optional
from zoneinfo import ZoneInfo

from pynamodb.exceptions import UpdateError

from chalicelib.models.base import BaseItem, Cancelled, Tx, condition_failed
from chalicelib.models.crm import Opportunity
from chalicelib.models.expenses import Expense
from chalicelib.models.goals import MARK_TTL_S, Actuals, AggregateMark, Goal, month_of_scope, sharded
from chalicelib.models.schedule import Plan
from chalicelib.models.shards import MAX_SHARDS, count_of, pick
from chalicelib.models.signins import SignIn
from chalicelib.observability import count
from chalicelib.services.access.visibility import dept_ids
from chalicelib.services.expenses import fx
from chalicelib.services.inbox import messages
from chalicelib.services.org import org, pipeline
from chalicelib.services.performance import goals
from chalicelib.services.platform.counters import difference
from chalicelib.services.platform.projections import Change, Projection, reads
from chalicelib.timeutil import format_month, parse_timestamp

ENTITIES = frozenset({"SignIn", "Opportunity", "Plan", "Expense"})
LIVE_EXPENSE = ("submitted", "approved")

Key = tuple[str, str]  # (user_id, YYYY-MM)


def _month(timestamp: str, zone: ZoneInfo) -> str:
    return format_month(parse_timestamp(timestamp).astimezone(zone).date())


def contribution(item: Optional[BaseItem], settings: Any) -> dict[Key, Counter]:
    """What one stored entity counts for, by (user, month)."""
    out: dict[Key, Counter] = {}
    if item is None:
        return out
    zone = org.tenant_zone(item.tenant_id, settings)

    def add(user: str, month: str, **deltas: int) -> None:
        out.setdefault((user, month), Counter()).update(deltas)

    if isinstance(item, SignIn) and item.kind == "check_in":
        add(item.user_id, _month(item.server_time, zone), visits=1)
    elif isinstance(item, Opportunity):
        add(item.owner_id, _month(item.created_at, zone), new_opportunities=1)
        if item.closed_at and pipeline.of(settings).outcome(item.stage) == "won":
            cents = fx.won_cents(item, settings.currency, zone)
            add(item.owner_id, _month(item.closed_at, zone), won_count=1, won_amount_cents=cents)
    elif isinstance(item, Plan) and item.status != "cancelled":
        add(item.user_id, item.date[:7], plans_total=1, plans_done=int(item.status == "done"))
    elif isinstance(item, Expense) and item.status in LIVE_EXPENSE:
        add(item.user_id, item.occurred_on[:7], expenses_cents=item.booked_cents)
    return out


def deltas(old: Optional[BaseItem], new: Optional[BaseItem], settings: Any) -> dict[Key, dict[str, int]]:
    """New contribution minus old, zero entries dropped."""
    return difference(contribution(old, settings), contribution(new, settings))


def scopes(tenant_id: str, user_id: str) -> list[tuple[str, str]]:
    """The user and every department on its current department path."""
    user = org.get_user(tenant_id, user_id)
    return [("user", user_id)] + [("department", d) for d in dept_ids(user.dept_path if user else "")]


def per_scope(
    changes: dict[Key, dict[str, int]], scopes_of: Callable[[str], list[tuple[str, str]]]
) -> dict[tuple[str, str, str], Counter]:
    """The deltas by (scope type, scope id, month): each user's go to the user and each of
    ``scopes_of(user)``'s departments."""
    out: dict[tuple[str, str, str], Counter] = {}
    for (user_id, period), counters in changes.items():
        for scope_type, scope_id in scopes_of(user_id):
            out.setdefault((scope_type, scope_id, period), Counter()).update(counters)
    return out


def apply(tenant_id: str, event_id: str, changes: dict[Key, dict[str, int]], shards: int = 1) -> bool:
    """Commit the deltas once per event id; False when this event was already counted.
    A department's deltas go to one of its ``shards`` actuals items (summed on read); a
    transaction that lost to a concurrent one raises the tenant's shard count first."""
    if not changes:
        return False
    tx = Tx()
    mark = AggregateMark(tenant_id=tenant_id, event_id=event_id)
    mark.ttl = timedelta(seconds=MARK_TTL_S)
    tx.put("mark", mark, condition=AggregateMark.PK.does_not_exist())
    scoped = per_scope(changes, lambda user_id: scopes(tenant_id, user_id))
    for (scope_type, scope_id, period), counters in sorted(scoped.items()):
        kept = {name: value for name, value in counters.items() if value}
        if not kept:
            continue  # e.g. a transfer between two people of one department
        shard = pick(shards) if sharded(scope_type) else 0
        item = Actuals(tenant_id=tenant_id, scope_type=scope_type, scope_id=scope_id, period=period, shard=shard)
        item.set_keys()
        tx.update(
            f"{scope_type}:{scope_id}:{period}",
            item,
            Actuals.add_actions(tenant_id, scope_type, scope_id, period, kept),
        )
    try:
        tx.commit()
    except Cancelled as exc:
        if "mark" in exc.failed:
            count("ActualsDuplicateSkipped")
            return False
        if exc.conflict and shards < MAX_SHARDS and org.raise_aggregate_shards(tenant_id, shards * 2):
            count("AggregateShardsRaised")  # the stream's retry writes with more shards
        raise
    for scope_type, scope_id, period in sorted(scoped):
        alert_met_goals(tenant_id, scope_type, scope_id, period)
    return True


def alert_met_goals(tenant_id: str, scope_type: str, scope_id: str, period: str) -> int:
    """A ``goal_alert`` to the person (or the department's head) for each target reached,
    once per goal, month and metric (1 Query; a GetItem for a department)."""
    found = {type(i).__name__: i for i in month_of_scope(tenant_id, scope_type, scope_id, period)}
    goal = found.get("Goal")
    if not isinstance(goal, Goal):
        return 0
    view = goals.view(Decimal(1), goal, found.get("Actuals"))  # type: ignore[arg-type]
    met = [m for m, percent in view["progress"].items() if m != "expense_limit" and percent >= 100]
    met = [m for m in met if m not in (goal.alerted or set())]  # already sent: not attempted again
    if not met:
        return 0
    recipient: Optional[str] = scope_id
    if scope_type == "department":
        dept = org.get_department(tenant_id, scope_id)
        recipient = dept.head_user_id if dept else None
    if recipient is None:
        return 0  # a department without a head: sent once it has one
    sent = _send_alerts(tenant_id, scope_type, scope_id, period, met, recipient)
    _mark_alerted(goal, met)
    return sent


def _mark_alerted(goal: Goal, metrics: list[str]) -> None:
    """Record the alerts as sent on the goal, so later records never attempt them again."""
    try:
        goal.update(actions=[Goal.alerted.add(set(metrics))], condition=Goal.PK.exists())
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def _send_alerts(tenant_id: str, scope_type: str, scope_id: str, period: str, met: list[str], recipient: str) -> int:
    sent = 0
    for metric in met:
        key = f"goal_alert#{scope_type}#{scope_id}#{period}#{metric}"
        title = f"Goal met: {metric.replace('_', ' ')} ({period})"
        body = f"{scope_type} {scope_id} reached its {metric.replace('_', ' ')} target for {period}"
        sent += bool(
            messages.send(
                messages.NewMessage(
                    tenant_id,
                    recipient,
                    "goal_alert",
                    title,
                    body,
                    "goal",
                    f"{scope_type}:{scope_id}:{period}",
                    dedupe_key=key,
                )
            )
        )
    return sent


def handle_change(change: Change) -> bool:
    """One stream record: count its entity's change once (a mark per stream event id).
    Unreadable data (a corrupt timestamp) raises a 4xx domain error, which the stream
    consumer skips and counts."""
    new, old = change.new, change.old
    item = new or old
    if item is None:
        return False
    tenant_id = item.tenant_id
    settings = org.settings_of_change(change)
    return apply(tenant_id, change.event_id, deltas(old, new, settings), count_of(settings))


PROJECTION = Projection(
    name="actuals",
    reads=(reads(*ENTITIES),),
    kept="after_commit",
    writes=("Actuals", "AggregateMark (goal actuals)"),
    apply=handle_change,
    doc=(
        "monthly goal actuals per user and unit: each stream event counted once "
        "(not backfilled: old items beside live deltas would count twice)"
    ),
)
