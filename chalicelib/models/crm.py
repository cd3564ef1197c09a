"""CRM business objects: accounts, contacts, opportunities, leads, and account teams.

Each object lives in its own partition ``T#<t>#<TYPE>#<id>`` (``SK = OBJ``); the same
partition holds its team rows (``TEAM#<user>``) and its activity links (``ACT#<id>``,
see models/feed.py), so "everything about this object" is one partition.
GSI1 indexes objects by owner and accounts by team member: the feed re-index finds
"everything this user's org change affects" with two queries.
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.models.base import BaseItem, tkey

OBJECT_TYPES = ("account", "contact", "opportunity", "lead")
TYPE_CODES = {"account": "ACCOUNT", "contact": "CONTACT", "opportunity": "OPP", "lead": "LEAD"}
OBJECT_SK = "OBJ"


def object_pk(tenant_id: str, object_type: str, object_id: str) -> str:
    """The partition of one CRM object (its item, team rows and activity links)."""
    return tkey(tenant_id, TYPE_CODES[object_type], object_id)


def owned_pk(tenant_id: str, user_id: str) -> str:
    return tkey(tenant_id, "OWNED", user_id)


def team_of_pk(tenant_id: str, user_id: str) -> str:
    return tkey(tenant_id, "TEAMOF", user_id)


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
    version = VersionAttribute()

    def set_keys(self) -> None:
        self.PK, self.SK = object_pk(self.tenant_id, self.object_type, self.object_id), OBJECT_SK
        self.GSI1PK = owned_pk(self.tenant_id, self.owner_id)
        self.GSI1SK = f"{TYPE_CODES[self.object_type]}#{self.object_id}"


class Account(CrmObject, discriminator="Account"):
    object_type = "account"

    address = UnicodeAttribute(null=True)
    location = LatLng(null=True)
    team = MapAttribute(null=True)  # user_id -> role ("follow_up" | "service")


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


__all__ = [
    "OBJECT_TYPES",
    "TYPE_CODES",
    "OBJECT_SK",
    "object_pk",
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
]
