"""Expense statistics, kept as aggregates on write.

Every submission adds the expense to six aggregate items (category, stage and unit, for
the whole tenant and for the expense's unit) in the same transaction that changes its
state; a rejection takes it out again; an approval changes nothing (statistics cover
submitted and approved expenses). Reading statistics is then one query whose cost depends
on the number of groups (times the tenant's shards), never on the number of expenses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.models.expenses import Expense, StatsAggregate
from chalicelib.models.shards import pick
from chalicelib.services.platform.projections import Projection, reads

DIMENSIONS = ("category", "stage", "unit")
ALL = "ALL"
NO_STAGE = "none"


def unit_scope(unit_type: str, unit_id: str) -> str:
    return f"{unit_type}#{unit_id}"


def _key(expense: Expense, dimension: str) -> str:
    if dimension == "category":
        return expense.category
    if dimension == "stage":
        return expense.stage or NO_STAGE
    return f"{expense.unit_type}:{expense.unit_id}"


def aggregate_updates(expense: Expense, sign: int, shards: int = 1) -> list[tuple[StatsAggregate, list[Any]]]:
    """(item, actions) pairs adding (sign=1) or removing (sign=-1) one expense, each to one
    of the tenant's ``shards`` (a removal need not hit the shard its addition did: reads sum)."""
    out = []
    for scope in (ALL, unit_scope(expense.unit_type, expense.unit_id)):
        for dimension in DIMENSIONS:
            item = StatsAggregate(
                tenant_id=expense.tenant_id,
                period=expense.period,
                scope=scope,
                dimension=dimension,
                key=_key(expense, dimension),
                currency=expense.booked_currency,
                shard=pick(shards),
            )
            item.set_keys()
            actions = [
                StatsAggregate.entity.set(StatsAggregate),
                StatsAggregate.tenant_id.set(item.tenant_id),
                StatsAggregate.period.set(item.period),
                StatsAggregate.scope.set(scope),
                StatsAggregate.dimension.set(dimension),
                StatsAggregate.key.set(item.key),
                StatsAggregate.currency.set(item.currency),
                StatsAggregate.shard.set(item.shard),
                StatsAggregate.total_cents.add(sign * expense.booked_cents),
                StatsAggregate.count.add(sign),
            ]
            out.append((item, actions))
    return out


@dataclass(frozen=True)
class Group:
    key: str
    currency: str
    total_cents: int
    count: int


def groups(tenant_id: str, period: str, group_by: str, unit_type: str | None, unit_id: str | None) -> list[Group]:
    """One query: the aggregates of one month, scope and dimension."""
    scope = unit_scope(unit_type, unit_id) if unit_type and unit_id else ALL
    sums: dict[tuple[str, str], list[int]] = {}
    for item in StatsAggregate.query(
        StatsAggregate.pk(tenant_id, period, scope),
        StatsAggregate.SK.startswith(StatsAggregate.dimension_prefix(group_by)),
    ):
        total = sums.setdefault((item.key, item.currency), [0, 0])  # every shard of the group
        total[0] += int(item.total_cents)
        total[1] += int(item.count)
    found = [Group(key, currency, cents, n) for (key, currency), (cents, n) in sums.items() if n > 0]
    return sorted(found, key=lambda g: (-g.total_cents, g.key, g.currency))


PROJECTION = Projection(
    name="expense_stats",
    reads=(reads("Expense"),),
    kept="in_transaction",
    writes=("StatsAggregate",),
    doc="expense statistics by category, stage and unit, kept in the transaction that changes an expense's state",
)
