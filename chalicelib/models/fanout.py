"""Fan-out checkpoints: how far one task of a schedule's fan-out got.

One item per task (``T#~system#FANOUT#<kind>#<key>``, its own partition, so thousands of
tasks of one firing never share a key): ``cursor`` is where a task stopped at its
deadline (its continuation resumes there, and so does a redelivered message), ``done``
says it finished (a redelivered message is then acknowledged without work). The items
expire two days after their last write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute

from chalicelib.models.base import BaseItem

SYSTEM_PREFIX = "T#~system#"
CHECKPOINT_TTL = timedelta(days=2)


class FanoutCheckpoint(BaseItem, discriminator="FanoutCheckpoint"):
    kind = UnicodeAttribute()
    key = UnicodeAttribute()
    cursor = UnicodeAttribute(null=True)
    done = BooleanAttribute(default=False)
    updated_at = UnicodeAttribute()

    @classmethod
    def key_of(cls, kind: str, key: str) -> tuple[str, str]:
        return f"{SYSTEM_PREFIX}FANOUT#{kind}#{key}", "CHECKPOINT"

    @classmethod
    def fetch(cls, kind: str, key: str) -> Optional[FanoutCheckpoint]:
        return cls.lookup(cls.key_of(kind, key), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.kind, self.key)
        self.ttl = CHECKPOINT_TTL


__all__ = ["FanoutCheckpoint", "CHECKPOINT_TTL"]
