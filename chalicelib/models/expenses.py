"""Expenses, the receipt claims that flag duplicate receipts, and the statistics aggregates.

Money is integer cents in ``NumberAttribute`` (exact in DynamoDB, usable with ``ADD``);
the API speaks decimal strings. An expense is one item with a ``VersionAttribute``: every
write is conditional on the version it read (optimistic locking).
"""

from __future__ import annotations

from typing import Optional

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)

from chalicelib import vocabulary
from chalicelib.models.base import BaseItem, opportunity_collection_pk, string_list, tkey
from chalicelib.models.shards import suffix as shard_suffix

STATUSES = vocabulary.EXPENSE_STATUSES  # the one list
PAYMENT_STATUSES = vocabulary.PAYMENT_STATUSES


class Expense(BaseItem, discriminator="Expense"):
    COLLECTION_PREFIX = "EXPENSE#"  # GSI3SK in the opportunity's collection

    expense_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    amount_cents = NumberAttribute()
    currency = UnicodeAttribute()
    category = UnicodeAttribute()
    occurred_on = UnicodeAttribute()  # YYYY-MM-DD, tenant time zone
    description = UnicodeAttribute(default="")
    unit_type = UnicodeAttribute()  # department | project | person
    unit_id = UnicodeAttribute()
    opportunity_id = UnicodeAttribute(null=True)
    stage = UnicodeAttribute(null=True)
    receipt_upload_ids = string_list(default=list)
    receipt_hashes = string_list(default=list)
    status = UnicodeAttribute(default="draft")
    payment_status = UnicodeAttribute(default="unpaid")
    paid_at = UnicodeAttribute(null=True)
    payment_reference = UnicodeAttribute(null=True)
    payment_stated_at = UnicodeAttribute(null=True)  # the applied payment event's own time (latest wins)
    approver_ids = string_list(default=list)  # level 1, level 2 (current tree)
    approval_levels = NumberAttribute(null=True)  # decided at submission (amount vs limit)
    approvals = JSONAttribute(default=list)  # [{level, approver_id, decision, comment?, at}]
    warnings = string_list(default=list)
    mileage = JSONAttribute(null=True)  # a mileage claim's day, distance, rate and sign-ins
    # Set at submission: the amount in the tenant currency at the rate for occurred_on.
    converted_cents = NumberAttribute(null=True)
    converted_currency = UnicodeAttribute(null=True)
    converted_rate = UnicodeAttribute(null=True)  # tenant currency per unit, as stated
    converted_rate_date = UnicodeAttribute(null=True)  # the rate's day (null: the tenant currency)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    submitted_at = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    @classmethod
    def pk(cls, tenant_id: str, expense_id: str) -> str:
        return tkey(tenant_id, "EXPENSE", expense_id)

    @classmethod
    def by_user_pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "EXPUSER", user_id)

    @classmethod
    def by_tenant_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "EXPENSES")

    @staticmethod
    def unit_prefix(unit_type: str, unit_id: str) -> str:
        return f"{unit_type}#{unit_id}#"

    @staticmethod
    def occurred_range(date_from: str | None, date_to: str | None) -> tuple[str, str]:
        """Bounds of the ``<occurred_on>#<id>`` sort keys dated ``date_from`` to ``date_to``."""
        return date_from or "0000-00-00", (date_to or "9999-99-99") + "#~"

    @property
    def booked_cents(self) -> int:
        """What budgets, statistics and approval limits count: the converted amount once
        submitted (in the tenant currency), the amount itself before."""
        return int(self.converted_cents if self.converted_cents is not None else self.amount_cents)

    @property
    def booked_currency(self) -> str:
        return self.converted_currency or self.currency

    @property
    def period(self) -> str:
        return self.occurred_on[:7]

    @classmethod
    def key_of(cls, tenant_id: str, expense_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, expense_id), "EXPENSE"

    @classmethod
    def fetch(cls, tenant_id: str, expense_id: str, consistent_read: bool = False) -> Optional[Expense]:
        return cls.lookup(cls.key_of(tenant_id, expense_id), consistent_read=consistent_read)

    @property
    def activity_id(self) -> str:
        """The id of the expense's feed activity (recorded at submission; follows the expense's)."""
        return "act_" + self.expense_id.removeprefix("exp_")

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.expense_id)
        sort = f"{self.occurred_on}#{self.expense_id}"
        self.GSI1PK, self.GSI1SK = self.by_user_pk(self.tenant_id, self.user_id), sort
        self.GSI2PK = self.by_tenant_pk(self.tenant_id)
        self.GSI2SK = self.unit_prefix(self.unit_type, self.unit_id) + sort
        if self.opportunity_id:
            self.GSI3PK = opportunity_collection_pk(self.tenant_id, self.opportunity_id)
            self.GSI3SK = f"{self.COLLECTION_PREFIX}{self.expense_id}"
        else:
            self.GSI3PK = self.GSI3SK = None


class ApprovalWait(BaseItem, discriminator="ApprovalWait"):
    """A submitted expense waiting for a decision, in its current approver's queue.

    Lives beside its expense (same partition) and is written in the same transactions
    (submit puts it, a level approval re-keys it, the final decision deletes it). GSI1 is
    the approver's queue, oldest first; GSI2 groups the waits by the submitter's manager,
    so a reporting change of user U finds every wait whose approver may change with two
    bounded queries: U's own (``WAITUNDER#<U's old manager>``, ``begins_with U#``) and
    U's direct reports' (``WAITUNDER#U``: their level 2 is U's manager)."""

    expense_id = UnicodeAttribute()
    submitter_id = UnicodeAttribute()
    manager_id = UnicodeAttribute()  # the submitter's manager when keyed
    approver_id = UnicodeAttribute()
    level = NumberAttribute()
    submitted_at = UnicodeAttribute()
    # set when a delegation decides who waits here: the instant (UTC) a delegation along the
    # way starts or ends; from then on the queue hides it until it is re-keyed
    valid_until = UnicodeAttribute(null=True)

    @classmethod
    def queue_pk(cls, tenant_id: str, approver_id: str) -> str:
        return tkey(tenant_id, "APPROVALS", approver_id)

    @classmethod
    def under_pk(cls, tenant_id: str, manager_id: str) -> str:
        return tkey(tenant_id, "WAITUNDER", manager_id)

    @classmethod
    def key_of(cls, tenant_id: str, expense_id: str) -> tuple[str, str]:
        return Expense.pk(tenant_id, expense_id), "WAIT"

    @classmethod
    def fetch(cls, tenant_id: str, expense_id: str) -> Optional[ApprovalWait]:
        """The expense's wait, read consistently (None: it waits in no queue)."""
        return cls.lookup(cls.key_of(tenant_id, expense_id), consistent_read=True)

    @staticmethod
    def submitter_prefix(submitter_id: str) -> str:
        """The GSI2SK prefix of one submitter's waits (``<submitter>#<expense>``)."""
        return f"{submitter_id}#"

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.expense_id)
        self.GSI1PK = self.queue_pk(self.tenant_id, self.approver_id)
        self.GSI1SK = f"{self.submitted_at}#{self.expense_id}"
        self.GSI2PK = self.under_pk(self.tenant_id, self.manager_id)
        self.GSI2SK = self.submitter_prefix(self.submitter_id) + self.expense_id


class MileageClaim(BaseItem, discriminator="MileageClaim"):
    """One per user and day: the mileage expense claimed for it (a second claim is 409)."""

    user_id = UnicodeAttribute()
    day = UnicodeAttribute()
    expense_id = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "MILEAGE", user_id)

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.user_id), f"DAY#{self.day}"


class ReceiptClaim(BaseItem, discriminator="ReceiptClaim"):
    """One per (receipt file hash, expense): a second expense with the same file is flagged."""

    sha256 = UnicodeAttribute()
    expense_id = UnicodeAttribute()
    upload_id = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, sha256: str) -> str:
        return tkey(tenant_id, "RECEIPT", sha256)

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.sha256), f"EXPENSE#{self.expense_id}"


class StatsAggregate(BaseItem, discriminator="StatsAggregate"):
    """Total and count of live (submitted + approved) expenses for one month, scope and group.

    ``scope`` is ``ALL`` or ``<unit_type>#<unit_id>``; ``dimension`` is category | stage |
    unit. A statistics request is one query on ``PK`` with ``begins_with(SK, dimension#)``:
    its cost depends on the number of groups, never on the number of expenses. A group is
    written to one of the tenant's shards (``SK`` suffix ``~<shard>``) and summed on read.
    """

    period = UnicodeAttribute()
    scope = UnicodeAttribute()
    dimension = UnicodeAttribute()
    key = UnicodeAttribute()
    currency = UnicodeAttribute()
    total_cents = NumberAttribute(default=0)
    count = NumberAttribute(default=0)  # type: ignore[assignment]  # shadows Model.count, never called here
    shard = NumberAttribute(default=0)  # one of the tenant's shards of this group (models/shards.py)

    @classmethod
    def pk(cls, tenant_id: str, period: str, scope: str) -> str:
        return tkey(tenant_id, "STATS", period, scope)

    @staticmethod
    def sk(dimension: str, key: str, currency: str) -> str:
        return StatsAggregate.dimension_prefix(dimension) + f"{key}#{currency}"

    @staticmethod
    def dimension_prefix(dimension: str) -> str:
        """The sort-key prefix of one dimension's groups: one query reads them all."""
        return f"{dimension}#"

    def set_keys(self) -> None:
        self.PK = self.pk(self.tenant_id, self.period, self.scope)
        self.SK = self.sk(self.dimension, self.key, self.currency) + shard_suffix(int(self.shard or 0))


__all__ = ["Expense", "ApprovalWait", "MileageClaim", "ReceiptClaim", "StatsAggregate", "STATUSES", "PAYMENT_STATUSES"]
