"""Information-center messages: one inbox partition per user, newest first by id.

Unread messages also carry GSI1 keys (a sparse index of the unread), and a counter item
per inbox holds the unread count, kept exact by transactions.
"""

from __future__ import annotations

from typing import Optional

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.models.base import BaseItem, tkey


def inbox_pk(tenant_id: str, user_id: str) -> str:
    return tkey(tenant_id, "INBOX", user_id)


class Message(BaseItem, discriminator="Message"):
    message_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    body = UnicodeAttribute(default="")
    ref_type = UnicodeAttribute(null=True)
    ref_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    read = BooleanAttribute(default=False)
    push_expires_at = UnicodeAttribute(null=True)  # a push of it is worthless after this (a reminder's start)

    SK_PREFIX = "MSG#"

    @classmethod
    def sk(cls, message_id: str) -> str:
        return f"{cls.SK_PREFIX}{message_id}"

    @classmethod
    def is_sk(cls, value: object) -> bool:
        """Whether ``value`` is a message's sort key (e.g. a client's ``after`` position)."""
        return isinstance(value, str) and value.startswith(cls.SK_PREFIX)

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str, message_id: str) -> tuple[str, str]:
        return inbox_pk(tenant_id, user_id), cls.sk(message_id)

    @classmethod
    def start_after(cls, tenant_id: str, user_id: str, sk: str, unread_index: bool) -> dict[str, dict[str, str]]:
        """The ExclusiveStartKey resuming an inbox query (or, ``unread_index``, a query of the
        unread index) right after the message whose sort key is ``sk``."""
        keys = {"PK": inbox_pk(tenant_id, user_id), "SK": sk}
        if unread_index:
            keys |= {"GSI1PK": cls.unread_pk(tenant_id, user_id), "GSI1SK": sk}
        return {name: {"S": value} for name, value in keys.items()}

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str, message_id: str) -> Optional[Message]:
        return cls.lookup(cls.key_of(tenant_id, user_id, message_id), consistent_read=True)

    @classmethod
    def unread_pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "UNREAD", user_id)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id, self.message_id)
        if self.read:
            self.GSI1PK = self.GSI1SK = None
        else:
            self.GSI1PK, self.GSI1SK = self.unread_pk(self.tenant_id, self.user_id), self.SK


class InboxCounter(BaseItem, discriminator="InboxCounter"):
    user_id = UnicodeAttribute()
    unread = NumberAttribute(default=0)

    COUNTER_SK = "COUNTER"  # the push items sort right after it (models/devices.py)

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str) -> tuple[str, str]:
        return inbox_pk(tenant_id, user_id), cls.COUNTER_SK

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str) -> Optional[InboxCounter]:
        return cls.lookup(cls.key_of(tenant_id, user_id), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id)


class MessageGuard(BaseItem, discriminator="MessageGuard"):
    """Makes a message exactly-once: its dedupe key can be written only once."""

    user_id = UnicodeAttribute()
    dedupe_key = UnicodeAttribute()
    message_id = UnicodeAttribute()

    def set_keys(self) -> None:
        self.PK, self.SK = inbox_pk(self.tenant_id, self.user_id), f"DEDUPE#{self.dedupe_key}"
