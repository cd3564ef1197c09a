"""Webhook bookkeeping: receipts of inbound deliveries (exactly-once effects), the outbox
of outbound deliveries not yet handed to the queue, and outbound delivery outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.models import shards
from chalicelib.models.base import BaseItem, tkey

OUTBOX_PK = "T#~system#WEBHOOK_OUTBOX"  # read by the hourly sweep; '~' is never in a tenant id
OUTBOX_SHARDS = shards.MAX_SHARDS  # every tenant's approvals land here: spread, shard 0 the old key


def outbox_pk(shard: int) -> str:
    """One shard of the system outbox index (GSI1)."""
    return OUTBOX_PK + shards.pk_suffix(shard)


class InboundReceipt(BaseItem, discriminator="InboundReceipt"):
    """Written in the same transaction as the webhook's effect, conditional on not existing."""

    webhook_id = UnicodeAttribute()
    type = UnicodeAttribute()
    received_at = UnicodeAttribute()
    ref_id = UnicodeAttribute(null=True)  # what it changed (an expense id): its stream re-drive
    digest = UnicodeAttribute(null=True)  # the event's type and data: a reused id with another event is refused

    @classmethod
    def pk(cls, tenant_id: str, webhook_id: str) -> str:
        return tkey(tenant_id, "WEBHOOKIN", webhook_id)

    @classmethod
    def key_of(cls, tenant_id: str, webhook_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, webhook_id), "RECEIPT"

    @classmethod
    def fetch(cls, tenant_id: str, webhook_id: str, consistent_read: bool = False) -> Optional[InboundReceipt]:
        return cls.lookup(cls.key_of(tenant_id, webhook_id), consistent_read=consistent_read)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.webhook_id)


class OutboxEntry(BaseItem, discriminator="OutboxEntry"):
    """An outbound webhook committed with its cause; deleted once it is on the queue.
    Indexed in one of ``OUTBOX_SHARDS`` system partitions by its webhook id, so the
    approvals of every tenant never meet on one partition; the sweep reads each shard."""

    webhook_id = UnicodeAttribute()
    type = UnicodeAttribute()
    payload = JSONAttribute()  # the full message body put on the queue
    created_at = UnicodeAttribute()

    def set_keys(self) -> None:
        self.PK, self.SK = tkey(self.tenant_id, "OUTBOX", self.webhook_id), "OUTBOX"
        self.GSI1PK = outbox_pk(shards.spread(self.webhook_id, OUTBOX_SHARDS))
        self.GSI1SK = f"{self.created_at}#{self.tenant_id}#{self.webhook_id}"

    @classmethod
    def older_than(cls, cutoff: str) -> Iterator[OutboxEntry]:
        """The entries created before ``cutoff``, shard by shard (a Query per shard, paged)."""
        for shard in range(OUTBOX_SHARDS):
            yield from cls.gsi1.query(outbox_pk(shard), cutoff > cls.GSI1SK)


class DeliveryRecord(BaseItem, discriminator="WebhookDelivery"):
    """How an outbound delivery ended: delivered, gone (410), refused (URL) or dead (DLQ)."""

    webhook_id = UnicodeAttribute()
    type = UnicodeAttribute()
    outcome = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    last_status = NumberAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, webhook_id: str) -> str:
        return tkey(tenant_id, "WEBHOOKOUT", webhook_id)

    @classmethod
    def key_of(cls, tenant_id: str, webhook_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, webhook_id), "DELIVERY"

    @classmethod
    def fetch(cls, tenant_id: str, webhook_id: str, consistent_read: bool = False) -> Optional[DeliveryRecord]:
        return cls.lookup(cls.key_of(tenant_id, webhook_id), consistent_read=consistent_read)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.webhook_id)


__all__ = ["InboundReceipt", "OutboxEntry", "DeliveryRecord", "OUTBOX_PK", "OUTBOX_SHARDS", "outbox_pk"]
