"""CRM business objects: accounts, contacts, opportunities, leads, and account teams.

Each object lives in its own partition ``T#<t>#<TYPE>#<id>`` (``SK = OBJ``); the same
partition holds its team rows (``TEAM#<user>``) and its activity links (``ACT#<id>``,
see models/feed.py), so "everything about this object" is one partition.
GSI1 indexes objects by owner and accounts by team member: the feed re-index finds
"everything this user's org change affects" with two queries.
"""

from __future__ import annotations

from typing import Optional, TypeVar

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.models.base import BaseItem, tkey

OBJECT_TYPES = ("account", "contact", "opportunity", "lead")
TYPE_CODES = {"account": "ACCOUNT", "contact": "CONTACT", "opportunity": "OPP", "lead": "LEAD"}
OBJECT_SK = "OBJ"


def object_pk(tenant_id: str, object_type: str, object_id: str) -> str:
    """The partition of one CRM object (its item, team rows and activity links)."""
    return tkey(tenant_id, TYPE_CODES[object_type], object_id)


def object_key(tenant_id: str, object_type: str, object_id: str) -> tuple[str, str]:
    """The key of one CRM object's item."""
    return object_pk(tenant_id, object_type, object_id), OBJECT_SK


def owned_pk(tenant_id: str, user_id: str) -> str:
    return tkey(tenant_id, "OWNED", user_id)


def team_of_pk(tenant_id: str, user_id: str) -> str:
    return tkey(tenant_id, "TEAMOF", user_id)


Obj = TypeVar("Obj", bound="CrmObject")


class LatLng(MapAttribute):
    lat = NumberAttribute()
    lng = NumberAttribute()


class CrmObject(BaseItem):
    """Fields every CRM object has. Not stored by itself: the subclasses are."""

    object_type = "object"

    object_id = UnicodeAttribute()
    name = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    archived_at = UnicodeAttribute(null=True)  # set while archived: out of lists, nearby and scenes
    version = VersionAttribute()

    @classmethod
    def fetch(cls: type[Obj], tenant_id: str, object_id: str) -> Optional[Obj]:
        """The object of this class's type (one consistent GetItem), or None."""
        return cls.lookup(object_key(tenant_id, cls.object_type, object_id), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = object_key(self.tenant_id, self.object_type, self.object_id)
        self.GSI1PK = owned_pk(self.tenant_id, self.owner_id)
        self.GSI1SK = f"{TYPE_CODES[self.object_type]}#{self.object_id}"


class Account(CrmObject, discriminator="Account"):
    object_type = "account"

    address = UnicodeAttribute(null=True)
    location = LatLng(null=True)
    team = MapAttribute[str, str](null=True)  # user_id -> role ("follow_up" | "service")


class Contact(CrmObject, discriminator="Contact"):
    object_type = "contact"

    account_id = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)


class Opportunity(CrmObject, discriminator="Opportunity"):
    object_type = "opportunity"

    account_id = UnicodeAttribute()
    stage = UnicodeAttribute()
    amount = UnicodeAttribute(null=True)  # decimal string
    currency = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)  # when it reached a won or lost stage


class Lead(CrmObject, discriminator="Lead"):
    object_type = "lead"

    company = UnicodeAttribute(null=True)


MODELS: dict[str, type[CrmObject]] = {"account": Account, "contact": Contact, "opportunity": Opportunity, "lead": Lead}


class TeamMember(BaseItem, discriminator="TeamMember"):
    """One member of an account's relevant team; GSI1 answers "accounts whose team has X"."""

    account_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    role = UnicodeAttribute()
    added_at = UnicodeAttribute()

    @classmethod
    def sk(cls, user_id: str) -> str:
        return f"TEAM#{user_id}"

    def set_keys(self) -> None:
        self.PK, self.SK = object_pk(self.tenant_id, "account", self.account_id), self.sk(self.user_id)
        self.GSI1PK, self.GSI1SK = team_of_pk(self.tenant_id, self.user_id), f"ACCOUNT#{self.account_id}"


def objects_owned_by(tenant_id: str, user_id: str) -> list[tuple[str, str]]:
    """(type, id) of every object the user owns (one query per page of GSI1)."""
    return [
        (item.object_type, item.object_id)
        for item in BaseItem.gsi1.query(owned_pk(tenant_id, user_id))
        if isinstance(item, CrmObject)
    ]


def accounts_with_member(tenant_id: str, user_id: str) -> list[tuple[str, str]]:
    """("account", id) of every account whose team has the user (one query per page of GSI1)."""
    return [
        ("account", item.account_id)
        for item in TeamMember.gsi1.query(team_of_pk(tenant_id, user_id))
        if isinstance(item, TeamMember)
    ]


__all__ = [
    "OBJECT_TYPES",
    "TYPE_CODES",
    "OBJECT_SK",
    "object_pk",
    "object_key",
    "owned_pk",
    "team_of_pk",
    "LatLng",
    "CrmObject",
    "Account",
    "Contact",
    "Opportunity",
    "Lead",
    "MODELS",
    "TeamMember",
    "objects_owned_by",
    "accounts_with_member",
]
