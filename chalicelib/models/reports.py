"""Work reports: templates, reports, and what their lists, compliance and auto-filled
figures read.

- ``ReportTemplate``: ``PK = T#<t>#RTEMPLATES``, ``SK = <template_id>``: the tenant's
  templates are one partition (its list is one Query per page).
- ``Report``: ``PK = T#<t>#REPORT#<report_id>``, ``SK = REPORT``. ``readers`` holds who
  of its recipients has read it (the condition of a first read and of the author's edit).
- ``ReportSlot``: one per author, template and period: ``PK = T#<t>#RSLOT#<author>``,
  ``SK = <template_id>#<period_start>``, put with the report (conditional on its absence:
  a second report is 409). Compliance reads a page of people's slots with one BatchGet.
- ``ReportListEntry``: a report in a person's list: ``PK =
  T#<t>#RLIST#<user>#<role>#<template_id or *>``, ``SK = <period_start>#<report_id>``
  (role ``mine`` for the author, ``received`` for each recipient; one entry under the
  template and one under ``*``), so every list filter is a key condition.
- ``DayFigures``: per user and tenant-local day, the counters an ``auto`` field sums,
  kept on write by the table stream (services/reports/figures.py).
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)

from chalicelib.models.base import BaseItem, string_list, tkey

ALL_TEMPLATES = "*"
FIGURE_COUNTERS: tuple[str, ...] = (
    "checkins",
    "visits_seconds",
    "plans_total",
    "plans_done",
    "logs",
    "expenses_cents",
    "won_amount_cents",
    "new_opportunities",
)


class TemplateField(MapAttribute):
    key = UnicodeAttribute()
    label = UnicodeAttribute()
    type = UnicodeAttribute()  # text | number | auto
    source = UnicodeAttribute(null=True)  # for auto fields


class ReportTemplate(BaseItem, discriminator="ReportTemplate"):
    template_id = UnicodeAttribute()
    name = UnicodeAttribute()
    period = UnicodeAttribute()  # daily | weekly | monthly
    due_time = UnicodeAttribute()  # HH:MM, tenant time zone
    fields = ListAttribute(of=TemplateField)
    updated_at = UnicodeAttribute()

    @classmethod
    def collection_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "RTEMPLATES")

    @classmethod
    def key_of(cls, tenant_id: str, template_id: str) -> tuple[str, str]:
        return cls.collection_pk(tenant_id), template_id

    @classmethod
    def fetch(cls, tenant_id: str, template_id: str) -> Optional[ReportTemplate]:
        return cls.lookup(cls.key_of(tenant_id, template_id))

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.template_id)


class ReadReceipt(MapAttribute):
    user_id = UnicodeAttribute()
    read_at = UnicodeAttribute()


class Report(BaseItem, discriminator="Report"):
    report_id = UnicodeAttribute()
    author_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    period = UnicodeAttribute()
    period_start = UnicodeAttribute()
    period_end = UnicodeAttribute()
    values_json = UnicodeAttribute()  # {key: value}, JSON
    related_json = UnicodeAttribute(null=True)  # [{type, id, name}], JSON
    recipient_ids = string_list(null=True)
    read_by = ListAttribute(of=ReadReceipt, default=list)
    readers = UnicodeSetAttribute(null=True)  # user ids in read_by
    late = BooleanAttribute(default=False)
    submitted_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @classmethod
    def key_of(cls, tenant_id: str, report_id: str) -> tuple[str, str]:
        return tkey(tenant_id, "REPORT", report_id), "REPORT"

    @classmethod
    def fetch(cls, tenant_id: str, report_id: str, consistent_read: bool = False) -> Optional[Report]:
        return cls.lookup(cls.key_of(tenant_id, report_id), consistent_read=consistent_read)

    @classmethod
    def unread(cls) -> Any:
        """Condition: no recipient has read it yet."""
        return cls.readers.does_not_exist()

    @classmethod
    def not_read_by(cls, user_id: str) -> Any:
        return cls.readers.does_not_exist() | ~cls.readers.contains(user_id)

    @classmethod
    def first_read_actions(cls, user_id: str, read_at: str) -> list[Any]:
        return [
            cls.read_by.set(cls.read_by.append([ReadReceipt(user_id=user_id, read_at=read_at)])),
            cls.readers.add({user_id}),
        ]

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.report_id)


class ReportSlot(BaseItem, discriminator="ReportSlot"):
    author_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    period_start = UnicodeAttribute()
    report_id = UnicodeAttribute()
    late = BooleanAttribute(default=False)

    @classmethod
    def key_of(cls, tenant_id: str, author_id: str, template_id: str, period_start: str) -> tuple[str, str]:
        return tkey(tenant_id, "RSLOT", author_id), f"{template_id}#{period_start}"

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.author_id, self.template_id, self.period_start)


class ReportListEntry(BaseItem, discriminator="ReportListEntry"):
    user_id = UnicodeAttribute()
    role = UnicodeAttribute()  # mine | received
    listing = UnicodeAttribute()  # a template id or "*"
    period_start = UnicodeAttribute()
    report_id = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, user_id: str, role: str, template_id: Optional[str]) -> str:
        return tkey(tenant_id, "RLIST", user_id, role, template_id or ALL_TEMPLATES)

    @staticmethod
    def period_prefix(period_start: str) -> str:
        return f"{period_start}#"

    def set_keys(self) -> None:
        self.PK = self.pk(self.tenant_id, self.user_id, self.role, self.listing)
        self.SK = f"{self.period_start}#{self.report_id}"


class DayFigures(BaseItem, discriminator="DayFigures"):
    user_id = UnicodeAttribute()
    day = UnicodeAttribute()  # YYYY-MM-DD, tenant time zone
    checkins = NumberAttribute(default=0)
    visits_seconds = NumberAttribute(default=0)  # closed visits started that day
    plans_total = NumberAttribute(default=0)  # not cancelled
    plans_done = NumberAttribute(default=0)
    logs = NumberAttribute(default=0)
    expenses_cents = NumberAttribute(default=0)  # submitted + approved, by occurred_on
    won_amount_cents = NumberAttribute(default=0)  # by the day it closed
    new_opportunities = NumberAttribute(default=0)  # by the day it was created

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str, day: str) -> tuple[str, str]:
        return tkey(tenant_id, "DAYFIG", user_id), day

    @classmethod
    def add_actions(cls, tenant_id: str, user_id: str, day: str, deltas: dict[str, int]) -> list[Any]:
        """Update actions adding ``deltas`` (creating the item on first use)."""
        actions: list[Any] = [
            cls.entity.set(cls),
            cls.tenant_id.set(tenant_id),
            cls.user_id.set(user_id),
            cls.day.set(day),
        ]
        return actions + [getattr(cls, name).add(value) for name, value in sorted(deltas.items()) if value]

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id, self.day)


__all__ = [
    "ALL_TEMPLATES",
    "FIGURE_COUNTERS",
    "DayFigures",
    "ReadReceipt",
    "Report",
    "ReportListEntry",
    "ReportSlot",
    "ReportTemplate",
    "TemplateField",
]
