"""Idempotency records: one per (tenant, user, key); tenant-led like every key."""

from __future__ import annotations

import hashlib
from typing import Optional

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.models.base import BaseItem, tkey


class IdempotencyRecord(BaseItem, discriminator="Idempotency"):
    user_id = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    status = UnicodeAttribute()  # in_progress | completed
    locked_until = NumberAttribute(default=0)
    response_status = NumberAttribute(null=True)
    response_body = UnicodeAttribute(null=True)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def pk(cls, tenant_id: str, user_id: str, key_hash: str) -> str:
        return tkey(tenant_id, "IDEM", user_id, key_hash)

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str, key_hash: str) -> tuple[str, str]:
        return cls.pk(tenant_id, user_id, key_hash), "IDEM"

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str, key_hash: str) -> Optional[IdempotencyRecord]:
        return cls.lookup(cls.key_of(tenant_id, user_id, key_hash), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id, self.key_hash)
