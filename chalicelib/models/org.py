"""Organisation: tenant settings, departments (a tree), users (the reporting tree), projects.

Both trees are stored as materialised paths (``/root/child/``), indexed per tenant, so
"everyone below X" and "departments under X" are each one ``begins_with`` query.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Optional

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)

from chalicelib.models.base import BaseItem, tkey

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_INACTIVE_DAYS = 3
DEFAULT_STALE_DAYS = 14


class StageAttribute(MapAttribute):
    """One stage of the opportunity pipeline: ``probability`` in percent (0..100)."""

    key = UnicodeAttribute()
    probability = NumberAttribute()
    outcome = UnicodeAttribute()  # "open" | "won" | "lost"


def search_key(text: str) -> str:
    """The case- and width-insensitive form names are searched by, in any script: NFKC,
    case folding, NFKC again (folding can denormalise), whitespace collapsed. Chinese is
    unchanged ("张" stays "张"), full-width Latin becomes ASCII, "Straße" matches "STRASSE"."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


class TenantSettings(BaseItem, discriminator="TenantSettings"):
    timezone = UnicodeAttribute(default=DEFAULT_TIMEZONE)
    currency = UnicodeAttribute(default="CNY")
    checkin_radius_m = NumberAttribute(default=500)
    approval_limit = UnicodeAttribute(null=True)  # decimal string
    mileage_rate = UnicodeAttribute(null=True)  # decimal string, tenant currency per km
    max_speed_kmh = NumberAttribute(default=150)  # a mileage leg faster than this is left out
    pipeline = ListAttribute(of=StageAttribute, null=True)  # None: the default pipeline
    inactive_days = NumberAttribute(default=DEFAULT_INACTIVE_DAYS)
    stale_days = NumberAttribute(default=DEFAULT_STALE_DAYS)
    updated_at = UnicodeAttribute(null=True)
    aggregate_shards = NumberAttribute(null=True)  # hot aggregates' shards (models/shards.py); never lowered
    index_shards = NumberAttribute(null=True)  # hot index partitions' shards (models/shards.py); never lowered

    @classmethod
    def pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "TENANT")

    @classmethod
    def key_of(cls, tenant_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id), "SETTINGS"

    @classmethod
    def fetch(cls, tenant_id: str) -> Optional[TenantSettings]:
        return cls.lookup(cls.key_of(tenant_id))

    @classmethod
    def of(cls, tenant_id: str) -> TenantSettings:
        """The tenant's settings; the defaults when never set."""
        return cls.fetch(tenant_id) or cls(tenant_id=tenant_id)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id)


class FinanceIntegration(BaseItem, discriminator="FinanceIntegration"):
    url = UnicodeAttribute()
    secret = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def key_of(cls, tenant_id: str) -> tuple[str, str]:
        return TenantSettings.pk(tenant_id), "INTEGRATION#finance"

    @classmethod
    def fetch(cls, tenant_id: str) -> Optional[FinanceIntegration]:
        return cls.lookup(cls.key_of(tenant_id))

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id)


class Department(BaseItem, discriminator="Department"):
    department_id = UnicodeAttribute()
    name = UnicodeAttribute()
    parent_id = UnicodeAttribute(null=True)
    head_user_id = UnicodeAttribute(null=True)
    path = UnicodeAttribute()  # "/root/.../self/"
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str, department_id: str) -> str:
        return tkey(tenant_id, "DEPT", department_id)

    @classmethod
    def tree_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "DEPTTREE")

    @classmethod
    def head_pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "HEADS", user_id)

    @classmethod
    def key_of(cls, tenant_id: str, department_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, department_id), "DEPT"

    @classmethod
    def fetch(cls, tenant_id: str, department_id: str) -> Optional[Department]:
        return cls.lookup(cls.key_of(tenant_id, department_id))

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.department_id)
        self.GSI1PK, self.GSI1SK = self.tree_pk(self.tenant_id), self.path
        if self.head_user_id:
            self.GSI2PK = self.head_pk(self.tenant_id, self.head_user_id)
            self.GSI2SK = f"DEPT#{self.department_id}"
        else:
            self.GSI2PK = self.GSI2SK = None


DELEGATION_STARTS_PK = "T#~system#DELEGSTART"
DELEGATION_ENDS_PK = "T#~system#DELEGEND"


class Delegation(BaseItem, discriminator="Delegation"):
    """A user's approval delegate for tenant-local days ``date_from``..``date_to``
    (inclusive); ``starts_at``/``ends_at`` are those days' bounds in UTC (``[start, end)``),
    fixed when set. One per user (PUT replaces it)."""

    user_id = UnicodeAttribute()
    delegate_id = UnicodeAttribute()
    date_from = UnicodeAttribute()
    date_to = UnicodeAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "DELEGATION", user_id)

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, user_id), "DELEGATION"

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str) -> Optional[Delegation]:
        return cls.lookup(cls.key_of(tenant_id, user_id), consistent_read=True)

    @classmethod
    def delegators_pk(cls, tenant_id: str, delegate_id: str) -> str:
        """GSI3: the delegations naming ``delegate_id`` (who delegates to them)."""
        return tkey(tenant_id, "DELEGATES_TO", delegate_id)

    @staticmethod
    def boundary_range(since: str, until: str) -> tuple[str, str]:
        """GSI1SK/GSI2SK bounds (``<instant>#<tenant>#<user>``) of the starts or ends in
        ``(since, until]``: ``<since>#~`` sorts above every key at ``since``."""
        return since + "#~", until + "#~"

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id)
        # the boundary sweep's indexes (every tenant): starts on GSI1, ends on GSI2
        self.GSI1PK, self.GSI1SK = DELEGATION_STARTS_PK, f"{self.starts_at}#{self.tenant_id}#{self.user_id}"
        self.GSI2PK, self.GSI2SK = DELEGATION_ENDS_PK, f"{self.ends_at}#{self.tenant_id}#{self.user_id}"
        # who delegates to a user (their reactivation pulls back what passed over them)
        self.GSI3PK, self.GSI3SK = self.delegators_pk(self.tenant_id, self.delegate_id), self.user_id

    def active_at(self, instant: str) -> bool:
        return self.starts_at <= instant < self.ends_at


class User(BaseItem, discriminator="User"):
    user_id = UnicodeAttribute()
    name = UnicodeAttribute()
    department_id = UnicodeAttribute()
    manager_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    roles = UnicodeSetAttribute(null=True)
    path = UnicodeAttribute()  # reporting path "/ceo/mgr/self/"
    dept_path = UnicodeAttribute()  # the department's path
    active = BooleanAttribute(null=True)  # None (never deactivated) counts as active
    deactivated_at = UnicodeAttribute(null=True)
    handover_to = UnicodeAttribute(null=True)  # who takes over what a deactivated user owned
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "USER", user_id)

    @property
    def is_active(self) -> bool:
        return self.active is not False

    @classmethod
    def reports_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "REPORTS")

    @classmethod
    def members_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "MEMBERS")

    @property
    def ancestors(self) -> list[str]:
        """Managers, nearest first (from the materialised path: no reads)."""
        return [p for p in self.path.strip("/").split("/")[:-1]][::-1]

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, user_id), "PROFILE"

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str) -> Optional[User]:
        return cls.lookup(cls.key_of(tenant_id, user_id))

    def unchanged(self) -> Any:
        """The condition "the stored user is still as this one was read" (every field its
        directory rows are derived from), for a write that must not undo a newer change."""
        condition = (User.name == self.name) & (User.path == self.path) & (User.department_id == self.department_id)
        condition &= User.updated_at == self.updated_at if self.updated_at else User.updated_at.does_not_exist()
        condition &= User.active == self.active if self.active is not None else User.active.does_not_exist()
        return condition

    @classmethod
    def tenants_scanned(
        cls, segment: int, total_segments: int, start_key: Optional[dict[str, Any]], limit: int
    ) -> tuple[set[str], Optional[dict[str, Any]]]:
        """The tenants with users among ``limit`` items of one segment of a parallel Scan,
        and where the segment resumes (None: done). Only the one-off index backfill uses it:
        tenants stored before the tenant registry existed are in no index a Query can read."""
        page = cls._get_connection().scan(
            filter_condition=cls.entity == cls,
            attributes_to_get=["tenant_id"],
            segment=segment,
            total_segments=total_segments,
            exclusive_start_key=start_key,  # type: ignore[arg-type]  # a key dict, as query takes
            limit=limit,
        )
        tenants = {str(i["tenant_id"]["S"]) for i in page.get("Items", []) if "S" in i.get("tenant_id", {})}
        return tenants, page.get("LastEvaluatedKey")

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id)
        self.GSI1PK, self.GSI1SK = self.reports_pk(self.tenant_id), self.path
        self.GSI2PK, self.GSI2SK = self.members_pk(self.tenant_id), f"{self.dept_path}{self.user_id}"


class DirectoryEntry(BaseItem, discriminator="DirectoryEntry"):
    """One row of a directory listing, copied from its user: a listing (the whole
    directory, a department, a manager's team at every depth) is one partition, sorted
    by the name's search key, so a name-prefix search is a ``begins_with`` key condition
    and every page is full. Derived from the user by ``entries_of`` (services/org/org.py)."""

    listing = UnicodeAttribute()
    user_id = UnicodeAttribute()
    name = UnicodeAttribute()
    department_id = UnicodeAttribute()
    manager_id = UnicodeAttribute(null=True)
    roles = UnicodeSetAttribute(null=True)
    active = BooleanAttribute(default=True)
    depth = NumberAttribute(null=True)  # team listings: 1 = direct report
    sort = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, listing: str) -> str:
        return tkey(tenant_id, "DIR", listing)

    @staticmethod
    def everyone(include_inactive: bool) -> str:
        """The listing of the whole directory (with the inactive, or only the active)."""
        return "ALL" if include_inactive else "ACTIVE"

    @staticmethod
    def department(department_id: str, include_inactive: bool) -> str:
        """The listing of one department (with the inactive, or only the active)."""
        return f"DEPT#{department_id}#{DirectoryEntry.everyone(include_inactive)}"

    @staticmethod
    def below(manager_id: str) -> str:
        """The listing of a manager's team at every depth (active users only)."""
        return f"BELOW#{manager_id}"

    @staticmethod
    def depth_prefix(depth: int) -> str:
        """The sort-key prefix of a team listing's rows at ``depth`` (1: direct reports)."""
        return f"{depth:02d}#"

    @staticmethod
    def sort_of(name: str, user_id: str, depth: int | None = None) -> str:
        lead = DirectoryEntry.depth_prefix(depth) if depth is not None else ""
        return f"{lead}{search_key(name)}\x00{user_id}"

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.listing), self.sort


class Project(BaseItem, discriminator="Project"):
    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    member_ids = UnicodeSetAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str, project_id: str) -> str:
        return tkey(tenant_id, "PROJECT", project_id)

    @classmethod
    def tenant_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "PROJECTS")

    @classmethod
    def key_of(cls, tenant_id: str, project_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, project_id), "PROJECT"

    @classmethod
    def fetch(cls, tenant_id: str, project_id: str) -> Optional[Project]:
        return cls.lookup(cls.key_of(tenant_id, project_id))

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.project_id)
        self.GSI1PK, self.GSI1SK = self.tenant_pk(self.tenant_id), f"PROJECT#{self.project_id}"


class ProjectMembership(BaseItem, discriminator="ProjectMembership"):
    """The projects a user owns or is a member of: one query (``mine=true``)."""

    user_id = UnicodeAttribute()
    project_id = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "MYPROJECTS", user_id)

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.user_id), f"PROJECT#{self.project_id}"


__all__ = [
    "Delegation",
    "DELEGATION_STARTS_PK",
    "DELEGATION_ENDS_PK",
    "TenantSettings",
    "FinanceIntegration",
    "Department",
    "User",
    "DirectoryEntry",
    "Project",
    "ProjectMembership",
    "search_key",
]
