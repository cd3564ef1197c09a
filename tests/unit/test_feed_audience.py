"""The audience rules, on in-memory state (no AWS): who gets which scene."""

from __future__ import annotations

import os

os.environ.setdefault("TABLE_NAME", "fieldsales-test")

from chalicelib.models.crm import Account, Lead  # noqa: E402
from chalicelib.models.feed import ADMIN_VIEWER  # noqa: E402
from chalicelib.models.org import Department, User  # noqa: E402
from chalicelib.services.access import visibility  # noqa: E402
from chalicelib.services.access.visibility import Resolver, entry_key, parse_entry_key  # noqa: E402


def resolver() -> Resolver:
    r = Resolver("acme")
    for uid, path, dept in (
        ("ceo", "/ceo/", "/hq/"),
        ("vp", "/ceo/vp/", "/hq/sales/"),
        ("mgr", "/ceo/vp/mgr/", "/hq/sales/east/"),
        ("rep", "/ceo/vp/mgr/rep/", "/hq/sales/east/"),
        ("peer", "/ceo/vp/other/peer/", "/hq/sales/west/"),
    ):
        r.users[uid] = User(tenant_id="acme", user_id=uid, name=uid, department_id="x", path=path, dept_path=dept)
    for did, head in (("hq", "ceo"), ("sales", "auditor"), ("east", None), ("west", "other")):
        r.depts[did] = Department(tenant_id="acme", department_id=did, name=did, path="/", head_user_id=head)
    return r


def test_account_audience_covers_owner_managers_heads_team_and_admin():
    r = resolver()
    acc = Account(tenant_id="acme", object_id="a1", name="A", owner_id="rep", created_at="", updated_at="")
    acc.team = {"peer": "service"}
    got = r.activity_entries("author", [acc])
    assert ("author", "all") in got and (ADMIN_VIEWER, "all") in got
    assert {("rep", "my_accounts"), ("rep", "all")} <= got
    for m in ("mgr", "vp", "ceo"):
        assert {(m, "all"), (m, "subordinates_business"), (m, "subordinates_team_accounts")} <= got
    assert {("auditor", "my_department"), ("ceo", "my_department")} <= got
    assert ("mgr", "my_department") not in got  # east has no head
    assert {("peer", "all"), ("other", "subordinates_team_accounts")} <= got
    assert ("other", "subordinates_business") not in got  # peer does not own it
    assert ("other", "my_department") not in got  # west's head: not the owner's department


def test_lead_audience_has_no_business_or_department_scenes():
    r = resolver()
    lead = Lead(tenant_id="acme", object_id="l1", name="L", owner_id="rep", created_at="", updated_at="")
    got = r.activity_entries("rep", [lead])
    assert ("rep", "my_leads") in got and ("mgr", "all") in got and ("auditor", "all") in got
    assert not {s for _, s in got} & {"subordinates_business", "my_department", "subordinates_team_accounts"}


def test_unknown_owner_still_reaches_owner_and_admin_only():
    r = resolver()
    acc = Account(tenant_id="acme", object_id="a2", name="A", owner_id="ghost", created_at="", updated_at="")
    assert r.activity_entries("ghost", [acc]) == {
        ("ghost", "all"),
        ("ghost", "my_accounts"),
        (ADMIN_VIEWER, "all"),
    }


def test_entry_key_round_trips():
    assert parse_entry_key(entry_key(("mgr", "my_department"))) == ("mgr", "my_department")


def test_asking_again_for_known_users_walks_no_departments(monkeypatch):
    """A re-index job asks for one owner per object over thousands of cached users: the
    departments of users already placed are not gathered again (that was quadratic), and
    only the users asked for are placed (a request's caller, held already, is not)."""
    r = resolver()
    r.load_users(["rep", "mgr"])  # places these users' departments (all loaded already)
    walked: list[str] = []
    monkeypatch.setattr(visibility, "dept_ids", lambda path: walked.append(path) or [])
    for _ in range(3):
        r.load_users(["rep", "mgr"])
    assert walked == []
    r.load_users(["peer"])  # cached, never asked for: placed now, once
    r.load_users(["peer"])
    assert walked == ["/hq/sales/west/"]
    walked.clear()
    r.users["new"] = User(tenant_id="acme", user_id="new", name="n", department_id="x", path="/new/", dept_path="/hq/")
    r.load_users(["new"])  # placed directly (as refs.check does): its departments are walked once
    assert walked == ["/hq/"]
