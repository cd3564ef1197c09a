"""Phones that receive pushes: one item per app installation, the recipient's push
preferences, and a lookup from a push token to the installation that holds it.

The devices and the preferences live in the recipient's inbox partition, sorted right
after its unread counter (``COUNTER``, ``COUNTER#PUSH#...``): the fan-out of a new
message reads the badge (the unread count), the preferences and every device with one
Query of that partition's ``COUNTER`` prefix, whatever else the inbox holds.

The token lookup (``T#<tenant>#PUSHTOKEN#<platform>#<sha256(token)>``) finds, in one
read, the installation a token was registered by: a token that moves to another user (a
phone handed over) leaves the previous user's devices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Optional

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.models.base import BaseItem, condition_failed, string_list, tkey
from chalicelib.models.messages import InboxCounter, inbox_pk

PUSH_PREFIX = f"{InboxCounter.COUNTER_SK}#PUSH#"


class Device(BaseItem, discriminator="Device"):
    user_id = UnicodeAttribute()
    installation_id = UnicodeAttribute()
    platform = UnicodeAttribute()
    token = UnicodeAttribute()
    endpoint_arn = UnicodeAttribute(null=True)  # None: no channel is configured for the platform
    enabled = BooleanAttribute(default=True)
    app_version = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    registered_at = UnicodeAttribute()

    SK_PREFIX = f"{PUSH_PREFIX}DEVICE#"

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str, installation_id: str) -> tuple[str, str]:
        return inbox_pk(tenant_id, user_id), f"{cls.SK_PREFIX}{installation_id}"

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id, self.installation_id)

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str, installation_id: str) -> Optional[Device]:
        return cls.lookup(cls.key_of(tenant_id, user_id, installation_id), consistent_read=True)

    def disable_if_endpoint(self, endpoint_arn: str) -> bool:
        """Marks the device disabled if it still points at ``endpoint_arn`` (a registration
        since then made or repaired another one: leave it). 1 conditional write."""
        try:
            self.update(actions=[Device.enabled.set(False)], condition=Device.endpoint_arn == endpoint_arn)
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    @classmethod
    def page(cls, tenant_id: str, user_id: str, limit: int, after: Optional[str]) -> tuple[list[Device], Optional[str]]:
        """Up to ``limit`` devices of the user by installation id after ``after`` (an
        installation id), and the installation id to resume after (None: the last page). 1 Query."""
        pk = inbox_pk(tenant_id, user_id)
        start = {"PK": {"S": pk}, "SK": {"S": f"{cls.SK_PREFIX}{after}"}} if after else None
        results = cls.query(
            pk,
            cls.SK.startswith(cls.SK_PREFIX),
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=start,
            consistent_read=True,
        )
        items = list(results)
        if len(items) > limit:
            return items[:limit], items[limit - 1].installation_id
        return items, None


class PushSettings(BaseItem, discriminator="PushSettings"):
    """What the user does not want pushed. Quiet hours are tenant time: ``zone`` is the
    tenant's zone, kept current (a user with quiet hours is listed in the tenant's
    ``GSI1`` partition ``T#<tenant>#PUSHQUIET``, so a change of the tenant's zone rewrites
    exactly those users' ``zone``). ``user_active`` is False from the transaction that
    deactivates the user (services/org ``set_active``), so the fan-out's one Query sees it."""

    user_id = UnicodeAttribute()
    muted_kinds = string_list(null=True)
    quiet_from = UnicodeAttribute(null=True)  # "HH:MM"
    quiet_to = UnicodeAttribute(null=True)
    zone = UnicodeAttribute(null=True)
    user_active = BooleanAttribute(null=True)  # None: never deactivated
    updated_at = UnicodeAttribute(null=True)

    SK_VALUE = f"{PUSH_PREFIX}SETTINGS"

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str) -> tuple[str, str]:
        return inbox_pk(tenant_id, user_id), cls.SK_VALUE

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str) -> Optional[PushSettings]:
        return cls.lookup(cls.key_of(tenant_id, user_id), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id)

    @classmethod
    def _upsert(cls, tenant_id: str, user_id: str, actions: list[Any]) -> PushSettings:
        """Creates or updates the item, leaving its other attributes as they are. 1 write."""
        item = cls(tenant_id=tenant_id, user_id=user_id)
        item.set_keys()
        item.update(
            actions=[
                *actions,
                cls.entity.set(cls),  # the discriminator serializes a class, not its name
                cls.tenant_id.set(tenant_id),
                cls.user_id.set(user_id),
            ]
        )
        return item

    @classmethod
    def active_update(cls, tenant_id: str, user_id: str, active: bool) -> tuple[PushSettings, list[Any]]:
        """(the item, the update actions) that set ``user_active``, for the transaction that
        (de)activates the user: creates the item when the user never saved preferences."""
        item = cls(tenant_id=tenant_id, user_id=user_id)
        item.set_keys()
        actions = [
            cls.user_active.set(active),
            cls.entity.set(cls),
            cls.tenant_id.set(tenant_id),
            cls.user_id.set(user_id),
        ]
        return item, actions

    @staticmethod
    def quiet_pk(tenant_id: str) -> str:
        return tkey(tenant_id, "PUSHQUIET")

    @classmethod
    def with_quiet_hours(cls, tenant_id: str) -> Iterable[PushSettings]:
        """The preferences of the tenant's users who set quiet hours (1 Query per 1 MB)."""
        for item in cls.gsi1.query(cls.quiet_pk(tenant_id)):
            if isinstance(item, cls):
                yield item

    def follow_zone(self, zone: str) -> bool:
        """``zone`` becomes the quiet hours' zone, unless the user removed their quiet hours
        meanwhile (then they left the index). 1 conditional write."""
        try:
            self.update(
                actions=[PushSettings.zone.set(zone)],
                condition=PushSettings.quiet_from.exists(),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    @classmethod
    def save_preferences(
        cls,
        tenant_id: str,
        user_id: str,
        muted_kinds: list[str],
        quiet_hours: Optional[tuple[str, str]],
        zone: str,
        now: str,
    ) -> PushSettings:
        quiet = (
            [
                cls.quiet_from.set(quiet_hours[0]),
                cls.quiet_to.set(quiet_hours[1]),
                cls.GSI1PK.set(cls.quiet_pk(tenant_id)),
                cls.GSI1SK.set(user_id),
            ]
            if quiet_hours
            else [cls.quiet_from.remove(), cls.quiet_to.remove(), cls.GSI1PK.remove(), cls.GSI1SK.remove()]
        )
        muted = [cls.muted_kinds.set(muted_kinds)] if muted_kinds else [cls.muted_kinds.remove()]
        return cls._upsert(tenant_id, user_id, [*muted, *quiet, cls.zone.set(zone), cls.updated_at.set(now)])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:40]


class PushToken(BaseItem, discriminator="PushToken"):
    """Which installation (of which user) holds a platform token. The key holds the token's
    hash, not the token."""

    platform = UnicodeAttribute()
    token_key = UnicodeAttribute()
    user_id = UnicodeAttribute()
    installation_id = UnicodeAttribute()
    endpoint_arn = UnicodeAttribute(null=True)

    @classmethod
    def _pk(cls, tenant_id: str, platform: str, token_key: str) -> str:
        return tkey(tenant_id, "PUSHTOKEN", platform, token_key)

    @classmethod
    def key_of(cls, tenant_id: str, platform: str, token: str) -> tuple[str, str]:
        return cls._pk(tenant_id, platform, token_hash(token)), "TOKEN"

    def set_keys(self) -> None:
        self.PK, self.SK = self._pk(self.tenant_id, self.platform, self.token_key), "TOKEN"

    @classmethod
    def for_token(cls, tenant_id: str, platform: str, token: str, **attrs: Any) -> PushToken:
        return cls(tenant_id=tenant_id, platform=platform, token_key=token_hash(token), **attrs)


def registration_state(
    tenant_id: str, user_id: str, installation_id: str, platform: str, token: str
) -> tuple[Optional[Device], Optional[PushToken]]:
    """(the caller's device of this installation, who holds this token): 1 BatchGet."""
    keys = [Device.key_of(tenant_id, user_id, installation_id), PushToken.key_of(tenant_id, platform, token)]
    device: Optional[Device] = None
    holder: Optional[PushToken] = None
    for item in BaseItem.batch_get(keys, consistent_read=True):
        if isinstance(item, Device):
            device = item
        elif isinstance(item, PushToken):
            holder = item
    return device, holder


def push_collection(tenant_id: str, user_id: str) -> tuple[Optional[int], Optional[PushSettings], list[Device]]:
    """(the unread count, the preferences, the devices) of one user: 1 Query."""
    unread: Optional[int] = None
    prefs: Optional[PushSettings] = None
    devices: list[Device] = []
    for item in _collection(tenant_id, user_id):
        if isinstance(item, InboxCounter):
            unread = max(0, int(item.unread or 0))
        elif isinstance(item, PushSettings):
            prefs = item
        elif isinstance(item, Device):
            devices.append(item)
    return unread, prefs, devices


def _collection(tenant_id: str, user_id: str) -> Iterable[BaseItem]:
    return BaseItem.query(
        inbox_pk(tenant_id, user_id), BaseItem.SK.startswith(InboxCounter.COUNTER_SK), consistent_read=True
    )
