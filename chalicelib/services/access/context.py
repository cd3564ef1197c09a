"""The request's context: the caller and what a request reads about them, at most once.

The HTTP edge (chalicelib/web.py) builds one ``RequestContext`` per request, after it has
read the caller's user record (the active check), and hands it down as the request's
principal: it *is* a ``Principal`` (``user_id``, ``tenant_id``, ``is_admin`` ... unchanged),
plus lazily loaded, per-request state:

- ``caller``: the caller's user record (the edge's read; else one GetItem),
- ``settings`` and ``zone``: the tenant's settings (read by the edge in the caller's
  BatchGetItem; else one GetItem) and the zone its days are counted in (no read),
- ``headed_departments`` and ``headed_paths``: the departments the caller heads (one Query),
- ``subordinate_ids``: everyone below the caller (one Query),
- ``resolver``: the one visibility loader of the request (services/access/visibility.py),
  seeded with the caller's record when it is read already, so references checked and an
  activity's audience share what they read.

Each is read on first use and kept for the rest of the request: a request that needs none
of them reads none. Nothing outlives the request (the object is built per request and
dropped with it; no module-level cache). Code without a request (stream consumers, jobs,
tests calling a service with a bare ``Principal``) gets a fresh context from :func:`of`
and reads what it needs, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Optional
from zoneinfo import ZoneInfo

from chalicelib.auth import Principal
from chalicelib.models.org import Department, TenantSettings, User
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.org import org


@dataclass(frozen=True)
class RequestContext(Principal):
    """A principal with the request's lazily loaded caller, settings, zone and visibility."""

    @cached_property
    def caller(self) -> Optional[User]:
        return org.caller_user(self)

    @cached_property
    def settings(self) -> TenantSettings:
        if self.tenant_settings is not None:
            return self.tenant_settings
        return org.get_settings(self.tenant_id)

    @cached_property
    def zone(self) -> ZoneInfo:
        return org.tenant_zone(self.tenant_id, self.settings)

    @cached_property
    def headed_departments(self) -> list[Department]:
        return org.headed_departments(self.tenant_id, self.user_id)

    @cached_property
    def headed_paths(self) -> list[str]:
        return org.outermost_paths(self.headed_departments)

    @cached_property
    def subordinate_ids(self) -> list[str]:
        caller = self.caller
        return org.subordinate_ids(self.tenant_id, self.user_id, caller) if caller is not None else []

    @cached_property
    def resolver(self) -> Resolver:
        resolver = Resolver(self.tenant_id, self.__dict__.get("settings", self.tenant_settings))
        caller = self.__dict__.get("caller", self.user)  # only what is read already: no read here
        if caller is not None:
            resolver.users[self.user_id] = caller
        return resolver

    def department(self, department_id: str) -> Optional[Department]:
        """A department through the request's visibility loader: read once per request,
        whoever asks first (an expense's unit check, then its activity's audience)."""
        self.resolver.load_depts([department_id])
        return self.resolver.depts.get(department_id)


def of(principal: Principal) -> RequestContext:
    """The request's context when ``principal`` is one (the edge's); else a fresh one."""
    if isinstance(principal, RequestContext):
        return principal
    return RequestContext(
        principal.user_id, principal.tenant_id, principal.groups, principal.user, principal.tenant_settings
    )
