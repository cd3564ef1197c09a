"""Goals and the actuals they are measured against, per user or department and month.

A scope's month is one partition pair: ``PK = T#<t>#GOAL#<scope_type>#<scope_id>``,
``SK = <period>#TARGETS`` (what was set) and ``<period>#ACTUALS`` (kept on write by the
table stream), so a goal read is one Query (``begins_with(SK, <period>#)``) and a
scoreboard one BatchGet of two keys per user. Amounts are integer cents in the tenant
currency.

A department's actuals take the counts of everyone in it (the root department: every
check-in, plan, expense and opportunity of the tenant), so they are written to one of up
to ``MAX_SHARDS`` shard items (shard 0 the item above, shard ``s`` its own partition
``T#<t>#GOALSHARD#department#<id>#<s>``, how many sized per tenant) and summed on read:
one BatchGet of the goal and every shard key, a constant number of requests.

``AggregateMark`` makes a stream record count once: the transaction that adds a record's
deltas also puts a mark named by the record's event id (conditional on its absence), so a
redelivered record is cancelled whole. Marks expire after a week (stream records live 24 h).
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.models.base import BaseItem, tkey
from chalicelib.models.shards import MAX_SHARDS

SCOPE_TYPES = ("user", "department")
COUNTERS: tuple[str, ...] = (
    "visits",
    "new_opportunities",
    "won_amount_cents",
    "won_count",
    "plans_total",
    "plans_done",
    "expenses_cents",
)
MARK_TTL_S = 7 * 24 * 3600


def scope_pk(tenant_id: str, scope_type: str, scope_id: str) -> str:
    return tkey(tenant_id, "GOAL", scope_type, scope_id)


def period_prefix(period: str) -> str:
    """The sort-key prefix of a scope's items of one month (its goal and its actuals)."""
    return f"{period}#"


def sharded(scope_type: str) -> bool:
    """Whether a scope's actuals are spread over shards (departments: many people count)."""
    return scope_type == "department"


def month_of_scope(tenant_id: str, scope_type: str, scope_id: str, period: str) -> list[BaseItem]:
    """The goal and the actuals (summed over their shards) of one scope and month, as far
    as they exist: one Query (a user) or one BatchGet of the goal and every shard (a
    department)."""
    if not sharded(scope_type):
        return list(
            BaseItem.query(scope_pk(tenant_id, scope_type, scope_id), BaseItem.SK.startswith(period_prefix(period)))
        )
    keys = [
        Goal.key_of(tenant_id, scope_type, scope_id, period),
        *Actuals.keys_of(tenant_id, scope_type, scope_id, period),
    ]
    found = list(BaseItem.batch_get(keys))
    goals = [i for i in found if isinstance(i, Goal)]
    total = Actuals.summed([i for i in found if isinstance(i, Actuals)])
    return [*goals, *([total] if total is not None else [])]


class Goal(BaseItem, discriminator="Goal"):
    scope_type = UnicodeAttribute()
    scope_id = UnicodeAttribute()
    period = UnicodeAttribute()  # YYYY-MM
    targets: MapAttribute = MapAttribute()  # metric -> number or decimal string, only those set
    updated_by = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    alerted = UnicodeSetAttribute(null=True)  # metrics whose goal_alert was sent (checked before sending)

    @staticmethod
    def sk(period: str) -> str:
        return period_prefix(period) + "TARGETS"

    @classmethod
    def key_of(cls, tenant_id: str, scope_type: str, scope_id: str, period: str) -> tuple[str, str]:
        return scope_pk(tenant_id, scope_type, scope_id), cls.sk(period)

    @classmethod
    def month_pk(cls, tenant_id: str, period: str) -> str:
        """Every goal of a tenant and month (GSI1): what the digest checks for pace."""
        return tkey(tenant_id, "GOALS", period)

    def set_keys(self) -> None:
        self.PK, self.SK = scope_pk(self.tenant_id, self.scope_type, self.scope_id), self.sk(self.period)
        self.GSI1PK, self.GSI1SK = self.month_pk(self.tenant_id, self.period), f"{self.scope_type}#{self.scope_id}"


class Actuals(BaseItem, discriminator="Actuals"):
    scope_type = UnicodeAttribute()
    scope_id = UnicodeAttribute()
    period = UnicodeAttribute()
    shard = NumberAttribute(default=0)
    visits = NumberAttribute(default=0)
    new_opportunities = NumberAttribute(default=0)
    won_amount_cents = NumberAttribute(default=0)
    won_count = NumberAttribute(default=0)
    plans_total = NumberAttribute(default=0)  # plans of the month not cancelled
    plans_done = NumberAttribute(default=0)
    expenses_cents = NumberAttribute(default=0)  # submitted + approved

    @staticmethod
    def sk(period: str) -> str:
        return period_prefix(period) + "ACTUALS"

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(
            self.tenant_id, self.scope_type, self.scope_id, self.period, int(self.shard or 0)
        )

    @classmethod
    def key_of(cls, tenant_id: str, scope_type: str, scope_id: str, period: str, shard: int = 0) -> tuple[str, str]:
        if shard:
            return tkey(tenant_id, "GOALSHARD", scope_type, scope_id, str(shard)), cls.sk(period)
        return scope_pk(tenant_id, scope_type, scope_id), cls.sk(period)

    @classmethod
    def keys_of(cls, tenant_id: str, scope_type: str, scope_id: str, period: str) -> list[tuple[str, str]]:
        """Every shard's key (one, unsharded, for a user)."""
        shards = MAX_SHARDS if sharded(scope_type) else 1
        return [cls.key_of(tenant_id, scope_type, scope_id, period, s) for s in range(shards)]

    @classmethod
    def summed(cls, shards: list[Actuals]) -> Optional[Actuals]:
        """One scope's shards as one item (None when there is none)."""
        if not shards:
            return None
        first = shards[0]
        total = cls(
            tenant_id=first.tenant_id, scope_type=first.scope_type, scope_id=first.scope_id, period=first.period
        )
        for name in COUNTERS:
            setattr(total, name, sum(int(getattr(s, name) or 0) for s in shards))
        return total

    @classmethod
    def add_actions(cls, tenant_id: str, scope_type: str, scope_id: str, period: str, deltas: dict[str, int]) -> list:
        """Update actions adding ``deltas`` (creating the item on first use)."""
        actions: list[Any] = [
            cls.entity.set(cls),
            cls.tenant_id.set(tenant_id),
            cls.scope_type.set(scope_type),
            cls.scope_id.set(scope_id),
            cls.period.set(period),
        ]
        return actions + [getattr(cls, name).add(value) for name, value in sorted(deltas.items()) if value]


class AggregateMark(BaseItem, discriminator="AggregateMark"):
    event_id = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, event_id: str) -> str:
        return tkey(tenant_id, "AGGMARK", event_id)

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.event_id), "MARK"


__all__ = ["Goal", "Actuals", "AggregateMark", "SCOPE_TYPES", "COUNTERS", "MARK_TTL_S"]
