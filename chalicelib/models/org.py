"""Organisation: tenant settings, departments (a tree), users (the reporting tree), projects.

Both trees are stored as materialised paths (``/root/child/``), indexed per tenant, so
"everyone below X" and "departments under X" are each one ``begins_with`` query.
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.models.base import BaseItem, tkey

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_INACTIVE_DAYS = 3
DEFAULT_STALE_DAYS = 14


class StageAttribute(MapAttribute):
    """One stage of the opportunity pipeline: ``probability`` in percent (0..100)."""

    key = UnicodeAttribute()
    probability = NumberAttribute()
    outcome = UnicodeAttribute()  # "open" | "won" | "lost"


class TenantSettings(BaseItem, discriminator="TenantSettings"):
    timezone = UnicodeAttribute(default=DEFAULT_TIMEZONE)
    currency = UnicodeAttribute(default="CNY")
    checkin_radius_m = NumberAttribute(default=500)
    approval_limit = UnicodeAttribute(null=True)  # decimal string
    mileage_rate = UnicodeAttribute(null=True)  # decimal string, tenant currency per km
    pipeline = ListAttribute(of=StageAttribute, null=True)  # None: the default pipeline
    inactive_days = NumberAttribute(default=DEFAULT_INACTIVE_DAYS)
    stale_days = NumberAttribute(default=DEFAULT_STALE_DAYS)
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "TENANT")

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id), "SETTINGS"


class FinanceIntegration(BaseItem, discriminator="FinanceIntegration"):
    url = UnicodeAttribute()
    secret = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)

    def set_keys(self) -> None:
        self.PK, self.SK = TenantSettings.pk(self.tenant_id), "INTEGRATION#finance"


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

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.department_id), "DEPT"
        self.GSI1PK, self.GSI1SK = self.tree_pk(self.tenant_id), self.path
        if self.head_user_id:
            self.GSI2PK = self.head_pk(self.tenant_id, self.head_user_id)
            self.GSI2SK = f"DEPT#{self.department_id}"
        else:
            self.GSI2PK = self.GSI2SK = None


class User(BaseItem, discriminator="User"):
    user_id = UnicodeAttribute()
    name = UnicodeAttribute()
    department_id = UnicodeAttribute()
    manager_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    roles = UnicodeSetAttribute(null=True)
    path = UnicodeAttribute()  # reporting path "/ceo/mgr/self/"
    dept_path = UnicodeAttribute()  # the department's path
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "USER", user_id)

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

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.user_id), "PROFILE"
        self.GSI1PK, self.GSI1SK = self.reports_pk(self.tenant_id), self.path
        self.GSI2PK, self.GSI2SK = self.members_pk(self.tenant_id), f"{self.dept_path}{self.user_id}"


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

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.project_id), "PROJECT"


__all__ = ["TenantSettings", "FinanceIntegration", "Department", "User", "Project"]
