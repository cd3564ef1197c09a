"""Pipeline statistics (``GET /v1/opportunity-stats``) from aggregates kept on write.

Who sees an opportunity (the feed's rule for business objects): its owner (scopes
``mine`` and ``all``), the owner's managers at any depth (``team`` and ``all``), heads of
the owner's departments (``all``) and admins (the tenant-wide bucket). Each opportunity
adds ``count 1`` and its amount (tenant currency; another currency converted at the rate
of its creation day, else 0) to the buckets of each such viewer, for its creation month
and for all time, by stage and by owner.

The table stream recomputes an opportunity's buckets from its *current* state whenever
it, its owner's place in the org, or a head of the owner's departments changes: each
bucket moves by (wanted - what the opportunity adds now), committed with the record of
what it adds, so repeats, reorders and concurrent runs converge (a lost race is retried).

A read is 1 GetItem (settings: the pipeline) + 1 Query (stages) + 1 Query when grouped by
owner: constant whatever the number of opportunities.
"""

from __future__ import annotations

import zlib
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Optional

from chalicelib.auth import Principal
from chalicelib.errors import Unprocessable
from chalicelib.models.base import BaseItem, Cancelled, Tx
from chalicelib.models.crm import Opportunity
from chalicelib.models.oppstats import ADMIN_VIEWER, ALL_PERIODS, OppStatsBucket, OppStatsShare
from chalicelib.models.shards import count_of
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.expenses import budgets, fx
from chalicelib.services.org import org, pipeline
from chalicelib.services.platform import pacing
from chalicelib.services.platform.projections import Change, Projection, Rebuild, Scope, reads
from chalicelib.timeutil import parse_timestamp

PAIRS_PER_TX = 45  # a bucket update and its share: 90 of the 100 items a transaction takes
Wanted = dict[tuple[str, str], tuple[int, int]]  # (bucket PK, SK) -> (count, cents)


# ---------------------------------------------------------------- what an opportunity adds
def _cents(opp: Opportunity, base: str, day: str) -> int:
    if not opp.amount:
        return 0
    amount = Decimal(opp.amount)
    if opp.currency and opp.currency != base:
        try:
            amount = fx.convert(opp.tenant_id, base, amount, opp.currency, day).amount
        except Unprocessable:
            return 0
    return budgets.to_cents(amount)


def _viewer_scopes(resolver: Resolver, opp: Opportunity) -> set[tuple[str, str]]:
    out = {(opp.owner_id, "mine"), (opp.owner_id, "all"), (ADMIN_VIEWER, "all")}
    for manager in resolver.managers(opp.owner_id):
        out |= {(manager, "team"), (manager, "all")}
    out |= {(head, "all") for head in resolver.heads(opp.owner_id)}
    return out


def wanted(opp: Optional[Opportunity], resolver: Resolver, settings: Any) -> Wanted:
    """Every bucket the opportunity should be in now, with what it adds."""
    if opp is None or opp.archived_at:
        return {}
    zone = org.tenant_zone(opp.tenant_id, settings)
    created = parse_timestamp(opp.created_at).astimezone(zone)
    value = (1, _cents(opp, settings.currency, created.date().isoformat()))
    resolver.load_users([opp.owner_id])
    shard = zlib.crc32(opp.object_id.encode()) % count_of(settings)  # stable per opportunity
    out: Wanted = {}
    for viewer, scope in _viewer_scopes(resolver, opp):
        for period in (ALL_PERIODS, created.strftime("%Y-%m")):
            pk = OppStatsBucket.pk(opp.tenant_id, viewer, scope, period)
            out[(pk, OppStatsBucket.sk("stage", opp.stage, shard))] = value
            out[(pk, OppStatsBucket.sk("owner", opp.owner_id, shard))] = value
    return out


# ---------------------------------------------------------------- keeping the buckets
def _bucket(tenant_id: str, pk: str, sk: str) -> OppStatsBucket:
    return OppStatsBucket.at(tenant_id, pk, sk)


def recompute(tenant_id: str, opportunity_id: str, resolver: Optional[Resolver] = None) -> int:
    """Bring the opportunity's buckets in line with its current state; answers how many moved."""
    resolver = resolver or Resolver(tenant_id)
    opp = Opportunity.fetch(tenant_id, opportunity_id)
    want = wanted(opp, resolver, org.get_settings(tenant_id))
    have = {
        (s.bucket_pk, s.bucket_sk): s
        for s in OppStatsShare.query(OppStatsShare.pk(tenant_id, opportunity_id), consistent_read=True)
        if isinstance(s, OppStatsShare)
    }
    moves = []
    for key in sorted(set(want) | set(have)):
        old = have.get(key)
        now = (int(old.opportunities), int(old.amount_cents)) if old else (0, 0)
        new = want.get(key, (0, 0))
        if new != now:
            moves.append((key, old, new, (new[0] - now[0], new[1] - now[1])))
    for start in range(0, len(moves), PAIRS_PER_TX):
        _commit(tenant_id, opportunity_id, moves[start : start + PAIRS_PER_TX])
    return len(moves)


def _commit(tenant_id: str, opportunity_id: str, moves: list) -> None:
    tx = Tx()
    for (pk, sk), old, new, (dcount, dcents) in moves:
        share = OppStatsShare(
            tenant_id=tenant_id,
            opportunity_id=opportunity_id,
            bucket_pk=pk,
            bucket_sk=sk,
            opportunities=new[0],
            amount_cents=new[1],
        )
        as_read = (
            (OppStatsShare.opportunities == old.opportunities) & (OppStatsShare.amount_cents == old.amount_cents)
            if old
            else OppStatsShare.PK.does_not_exist()
        )
        if new == (0, 0):
            share.set_keys()
            tx.delete(f"share:{sk}", share, condition=as_read)
        else:
            tx.put(f"share:{sk}", share, condition=as_read)
        tx.update(
            f"bucket:{pk}:{sk}",
            _bucket(tenant_id, pk, sk),
            OppStatsBucket.add_actions(_bucket(tenant_id, pk, sk), dcount, dcents),
        )
    buckets = [_bucket(tenant_id, pk, sk).PK for (pk, sk), *_ in moves]
    pacing.charge([*buckets, *[OppStatsShare.pk(tenant_id, opportunity_id)] * len(moves)])
    try:
        tx.commit()
    except Cancelled as exc:
        raise RuntimeError(f"opportunity {opportunity_id}: its statistics changed meanwhile; retried") from exc


def handle_change(change: Change) -> int:
    """An opportunity changed. (Its owner's place in the org, or a department's head: the
    org change's job recomputes, services/flows/orgjobs.py.)"""
    item = change.new or change.old
    if isinstance(item, Opportunity):
        return recompute(item.tenant_id, item.object_id)
    return 0


def _rebuild(scope: Scope, item: BaseItem) -> Optional[int]:
    return recompute(scope.tenant_id, item.object_id, scope.resolver) if isinstance(item, Opportunity) else None


PROJECTION = Projection(
    name="oppstats",
    reads=(reads("Opportunity"),),
    kept="after_commit",
    writes=("OppStatsBucket", "OppStatsShare"),
    apply=handle_change,
    rebuilds=(Rebuild("objects", _rebuild, index="oppstats"),),
    doc="pipeline statistics per viewer and scope, recomputed from the opportunity's current state",
)


# ---------------------------------------------------------------- reading
def _groups(tenant_id: str, viewer: str, scope: str, period: str, dimension: str) -> dict[str, tuple[int, int]]:
    pk = OppStatsBucket.pk(tenant_id, viewer, scope, period)
    sums: dict[str, tuple[int, int]] = {}
    for b in OppStatsBucket.query(pk, OppStatsBucket.SK.startswith(OppStatsBucket.dimension_prefix(dimension))):
        if isinstance(b, OppStatsBucket):  # every shard of the group
            n, cents = sums.get(b.key, (0, 0))
            sums[b.key] = (n + int(b.opportunities), cents + int(b.amount_cents))
    return {key: value for key, value in sums.items() if value[0] > 0}


def statistics(principal: Principal, group_by: str, scope: str, period: Optional[str]) -> dict[str, Any]:
    tenant = principal.tenant_id
    viewer = ADMIN_VIEWER if principal.is_admin and scope == "all" else principal.user_id
    settings = org.get_settings(tenant)
    stages = pipeline.of(settings)
    by_stage = _groups(tenant, viewer, scope, period or ALL_PERIODS, "stage")
    won = lost = (0, 0)
    weighted = Decimal(0)
    for key, (n, cents) in by_stage.items():
        outcome = stages.outcome(key)
        if outcome == "won":
            won = (won[0] + n, won[1] + cents)
        elif outcome == "lost":
            lost = (lost[0] + n, lost[1] + cents)
        else:
            weighted += Decimal(cents) * (stages.get(key) or pipeline.UNKNOWN).probability / 100
    if group_by == "stage":
        order = {s.key: i for i, s in enumerate(stages.stages)}
        rows = sorted(by_stage.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    else:
        rows = sorted(
            _groups(tenant, viewer, scope, period or ALL_PERIODS, "owner").items(), key=lambda kv: (-kv[1][1], kv[0])
        )
    decided = won[0] + lost[0]
    return {
        "group_by": group_by,
        "scope": scope,
        "period": period,
        "currency": settings.currency,
        "groups": [{"key": k, "count": n, "amount": budgets.money(c)} for k, (n, c) in rows],
        "won": {"count": won[0], "amount": budgets.money(won[1])},
        "lost": {"count": lost[0], "amount": budgets.money(lost[1])},
        "win_rate": round(won[0] / decided, 4) if decided else None,
        "weighted_amount": budgets.money(int(weighted.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))),
    }
