"""What the daily team digest reads, kept on write so its cost follows what it reports.

- ``TenantEntry``: one per tenant (in the tenant's own ``T#<t>#TENANT`` partition), listed
  in the system index ``GSI1PK = T#~system#TENANTS`` (every tenant: the backfill's walk)
  and, by its time zone, in ``GSI2PK = T#~system#TZ#<zone>`` (kept at settings write):
  the hourly digest dispatcher reads only the zones whose 08:00 it is.
- ``LastCheckIn``: per active user, the tenant-local day of the last check-in (the day the
  user was created, or reactivated, until then; deleted on deactivation), indexed
  ``GSI1PK = T#<t>#LASTCHECKIN[#<s>]``, ``GSI1SK = <day>#<user>``: "nobody since day X" is
  one range Query per shard returning exactly those users. The shard is the user's
  (``shards.spread``) over the tenant's ``index_shards`` when written (every check-in
  rewrites the item, so it moves with a raised count; readers read every shard): a
  100,000-user tenant's 09:00 burst of first check-ins no longer lands on one partition.
- ``OpportunityPulse``: per open opportunity, the day of its last activity, indexed
  ``GSI1PK = T#<t>#OPPPULSE``, ``GSI1SK = <day>#<opportunity>``; deleted when it closes.
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from chalicelib.models import shards
from chalicelib.models.base import BaseItem, condition_failed, tkey
from chalicelib.models.org import DEFAULT_TIMEZONE

TENANTS_PK = "T#~system#TENANTS"


def zone_pk(zone: str) -> str:
    """The tenants of one time zone (GSI2)."""
    return f"T#~system#TZ#{zone}"


class TenantEntry(BaseItem, discriminator="TenantEntry"):
    zone = UnicodeAttribute(default=DEFAULT_TIMEZONE)

    @classmethod
    def in_zone(cls, zone: str, start_key: Optional[dict[str, Any]] = None, page_size: int = 1000) -> Any:
        """The tenants of ``zone``, from ``start_key`` (GSI2 Query pages: ``last_evaluated_key``
        on the answer resumes)."""
        return cls.gsi2.query(zone_pk(zone), page_size=page_size, last_evaluated_key=start_key)

    @classmethod
    def first_after(cls, start_key: Optional[dict[str, Any]]) -> Optional[tuple[str, dict[str, Any]]]:
        """The registry's next tenant after ``start_key`` and the key that resumes after it
        (1 Query of GSI1); None after the last."""
        for entry in cls.gsi1.query(TENANTS_PK, limit=1, page_size=1, last_evaluated_key=start_key):
            return entry.tenant_id, entry.start_key("GSI1")
        return None

    @classmethod
    def register(cls, tenant_id: str, zone: Optional[str] = None) -> bool:
        """Register the tenant under its zone, only when it is not registered yet or its zone
        changed (a conditional put: an unchanged tenant writes nothing to the registry's
        tenant-wide index partitions, so a bulk import of users is not one index write each).
        True when it wrote."""
        item = cls(tenant_id=tenant_id, zone=zone or DEFAULT_TIMEZONE)
        try:
            item.save(condition=cls.PK.does_not_exist() | (cls.zone != item.zone))
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def set_keys(self) -> None:
        self.PK, self.SK = tkey(self.tenant_id, "TENANT"), "REGISTRY"
        self.GSI1PK, self.GSI1SK = TENANTS_PK, self.tenant_id
        self.GSI2PK, self.GSI2SK = zone_pk(self.zone or DEFAULT_TIMEZONE), self.tenant_id


class LastCheckIn(BaseItem, discriminator="LastCheckIn"):
    user_id = UnicodeAttribute()
    day = UnicodeAttribute()  # YYYY-MM-DD, tenant time zone
    shards = NumberAttribute(default=1)  # the tenant's index shards when written (its GSI1PK's)

    @classmethod
    def index_pk(cls, tenant_id: str, shard: int = 0) -> str:
        return tkey(tenant_id, "LASTCHECKIN") + shards.pk_suffix(shard)

    @classmethod
    def quiet_before(cls, tenant_id: str, day: str, count: int) -> list[LastCheckIn]:
        """Every user whose last check-in was before ``day``: 1 Query per shard (``count``,
        the tenant's index shards), oldest day first."""
        found = [
            q
            for shard in range(max(1, count))
            for q in cls.gsi1.query(cls.index_pk(tenant_id, shard), day > cls.GSI1SK)
            if isinstance(q, LastCheckIn)
        ]
        return sorted(found, key=lambda q: q.GSI1SK)

    def set_keys(self) -> None:
        shard = shards.spread(self.user_id, int(self.shards or 1))
        self.PK, self.SK = tkey(self.tenant_id, "USER", self.user_id), "LASTCHECKIN"
        self.GSI1PK, self.GSI1SK = self.index_pk(self.tenant_id, shard), f"{self.day}#{self.user_id}"


class OpportunityPulse(BaseItem, discriminator="OpportunityPulse"):
    opportunity_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    name = UnicodeAttribute()
    day = UnicodeAttribute()  # last activity, tenant time zone

    @classmethod
    def index_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "OPPPULSE")

    def set_keys(self) -> None:
        self.PK, self.SK = tkey(self.tenant_id, "OPP", self.opportunity_id), "PULSE"
        self.GSI1PK, self.GSI1SK = self.index_pk(self.tenant_id), f"{self.day}#{self.opportunity_id}"


__all__ = ["TenantEntry", "LastCheckIn", "OpportunityPulse", "TENANTS_PK", "zone_pk"]
