"""The tenant's work calendar, one item per tenant and year: ``PK = T#<t>#WORKCAL``,
``SK = <year>`` (holidays and make-up working days on weekends, ``YYYY-MM-DD``)."""

from __future__ import annotations

from typing import Optional

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.models.base import BaseItem, string_list, tkey


class WorkCalendarYear(BaseItem, discriminator="WorkCalendarYear"):
    year = NumberAttribute()
    holidays = string_list(null=True)
    workdays = string_list(null=True)
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def key_of(cls, tenant_id: str, year: int) -> tuple[str, str]:
        return tkey(tenant_id, "WORKCAL"), f"{int(year):04d}"

    @classmethod
    def fetch(cls, tenant_id: str, year: int) -> Optional[WorkCalendarYear]:
        return cls.lookup(cls.key_of(tenant_id, year))

    @classmethod
    def fetch_many(cls, tenant_id: str, years: list[int]) -> list[WorkCalendarYear]:
        """The stored years among ``years`` (one GetItem for one year, else one BatchGet)."""
        keys = [cls.key_of(tenant_id, y) for y in sorted(set(years))]
        if len(keys) == 1:
            found = cls.lookup(keys[0])
            return [found] if found is not None else []
        return [i for i in cls.batch_get(keys) if isinstance(i, cls)] if keys else []

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, int(self.year))


__all__ = ["WorkCalendarYear"]
