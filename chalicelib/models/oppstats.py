"""Pipeline statistics kept on write: per viewer, scope and month, the count and amount of
the opportunities the viewer may see, by stage and by owner.

- ``OppStatsBucket``: ``PK = T#<t>#OPPSTATS#<viewer>#<scope>#<period>`` (``period`` a
  creation month or ``ALL``), ``SK = <dimension>#<key>`` (``stage#proposal``,
  ``owner#rep_a``, plus ``~<shard>`` on the tenant's shards: models/shards.py). A
  statistics read is one Query per dimension, whatever the number of opportunities: its
  size is the number of stages or owners (times the shards, summed on read).
- ``OppStatsShare``: what one opportunity currently adds to one bucket
  (``PK = T#<t>#OPPSHARE#<opportunity>``, ``SK = <bucket PK>|<bucket SK>``). Each bucket
  change is committed with its share, conditional on the share read, so recomputing an
  opportunity from its current state is idempotent and safe to repeat or reorder.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.models.base import BaseItem, tkey
from chalicelib.models.shards import SEPARATOR
from chalicelib.models.shards import suffix as shard_suffix

ADMIN_VIEWER = "~tenant"  # the tenant-wide bucket admins read
SCOPES = ("mine", "team", "all")
DIMENSIONS = ("stage", "owner")
ALL_PERIODS = "ALL"


class OppStatsBucket(BaseItem, discriminator="OppStatsBucket"):
    viewer = UnicodeAttribute()
    scope = UnicodeAttribute()
    period = UnicodeAttribute()
    dimension = UnicodeAttribute()
    key = UnicodeAttribute()
    opportunities = NumberAttribute(default=0)
    amount_cents = NumberAttribute(default=0)
    shard = NumberAttribute(default=0)

    @classmethod
    def pk(cls, tenant_id: str, viewer: str, scope: str, period: str) -> str:
        return tkey(tenant_id, "OPPSTATS", viewer, scope, period)

    @staticmethod
    def sk(dimension: str, key: str, shard: int = 0) -> str:
        """A group's sort key; a shard other than 0 adds ``~<shard>`` (the group's count is
        the sum of its shards: the tenant-wide buckets take every opportunity change)."""
        return OppStatsBucket.dimension_prefix(dimension) + key + shard_suffix(shard)

    @staticmethod
    def dimension_prefix(dimension: str) -> str:
        """The sort-key prefix of one dimension's groups: one query reads them all."""
        return f"{dimension}#"

    @classmethod
    def at(cls, tenant_id: str, pk: str, sk: str) -> OppStatsBucket:
        """The (keyed, unsaved) bucket whose keys are ``pk`` and ``sk``."""
        viewer, scope, period = pk.removeprefix(tkey(tenant_id, "OPPSTATS") + "#").split("#")
        dimension, rest = sk.split("#", 1)
        key, _, shard = rest.partition(SEPARATOR)
        item = cls(tenant_id=tenant_id, viewer=viewer, scope=scope, period=period, dimension=dimension, key=key)
        item.shard = int(shard or 0)
        item.set_keys()
        return item

    def set_keys(self) -> None:
        self.PK = self.pk(self.tenant_id, self.viewer, self.scope, self.period)
        self.SK = self.sk(self.dimension, self.key, int(self.shard or 0))

    @classmethod
    def add_actions(cls, bucket: OppStatsBucket, count: int, cents: int) -> list:
        return [
            cls.entity.set(cls),
            cls.tenant_id.set(bucket.tenant_id),
            cls.viewer.set(bucket.viewer),
            cls.scope.set(bucket.scope),
            cls.period.set(bucket.period),
            cls.dimension.set(bucket.dimension),
            cls.key.set(bucket.key),
            cls.shard.set(int(bucket.shard or 0)),
            cls.opportunities.add(count),
            cls.amount_cents.add(cents),
        ]


class OppStatsShare(BaseItem, discriminator="OppStatsShare"):
    opportunity_id = UnicodeAttribute()
    bucket_pk = UnicodeAttribute()
    bucket_sk = UnicodeAttribute()
    opportunities = NumberAttribute()
    amount_cents = NumberAttribute()

    @classmethod
    def pk(cls, tenant_id: str, opportunity_id: str) -> str:
        return tkey(tenant_id, "OPPSHARE", opportunity_id)

    def set_keys(self) -> None:
        self.PK = self.pk(self.tenant_id, self.opportunity_id)
        self.SK = f"{self.bucket_pk}|{self.bucket_sk}"


__all__ = ["OppStatsBucket", "OppStatsShare", "ADMIN_VIEWER", "SCOPES", "DIMENSIONS", "ALL_PERIODS"]
