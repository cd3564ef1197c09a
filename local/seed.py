"""The demo tenant: a small org with a reporting tree, used by `make run`, the tests and
the benchmarks. Written through the same services the API uses."""

from __future__ import annotations

from chalicelib.auth import issue_local_token
from chalicelib.services import org

TENANT = "acme"
OTHER_TENANT = "globex"

# department_id: (name, parent_id, head_user_id)
DEPARTMENTS = {
    "hq": ("Headquarters", None, "ceo"),
    "sales": ("Sales", "hq", "vp"),
    "east": ("Sales East", "sales", "mgr_east"),
    "west": ("Sales West", "sales", "mgr_west"),
    "finance": ("Finance", "hq", None),
}
# user_id: (name, department_id, manager_id)
USERS = {
    "ceo": ("Chen Wei (CEO)", "hq", None),
    "vp": ("Li Na (VP Sales)", "sales", "ceo"),
    "mgr_east": ("Wang Fang (East manager)", "east", "vp"),
    "rep_a": ("Zhang Min (rep)", "east", "mgr_east"),
    "rep_b": ("Liu Yang (rep)", "east", "mgr_east"),
    "mgr_west": ("Zhao Lei (West manager)", "west", "vp"),
    "rep_c": ("Sun Li (rep)", "west", "mgr_west"),
    "fin": ("Zhou Jie (finance)", "finance", "ceo"),
    "admin": ("Admin", "hq", None),
}
GROUPS = {"admin": ["admin"], "fin": ["finance"]}
OTHER_USERS = {"boss": ("Other Boss", "hq", None), "rep_x": ("Other Rep", "hq", "boss")}


def seed_org() -> None:
    heads = {}
    for dept_id, (name, parent, head) in DEPARTMENTS.items():
        org.put_department(TENANT, dept_id, name, parent, None)
        heads[dept_id] = (name, parent, head)
    for user_id, (name, dept, manager) in USERS.items():
        org.put_user(TENANT, user_id, name, dept, manager, f"{user_id}@acme.example", None)
    for dept_id, (name, parent, head) in heads.items():
        if head:
            org.put_department(TENANT, dept_id, name, parent, head)
    org.put_department(OTHER_TENANT, "hq", "Globex HQ", None, None)
    for user_id, (name, dept, manager) in OTHER_USERS.items():
        org.put_user(OTHER_TENANT, user_id, name, dept, manager, None, None)
    org.put_department(OTHER_TENANT, "hq", "Globex HQ", None, "boss")
    org.put_settings(TENANT, {"approval_limit": "5000.00"})


def token(user_id: str, tenant: str = TENANT, secret: str | None = None) -> str:
    return issue_local_token(user_id, tenant, GROUPS.get(user_id, []) if tenant == TENANT else [], secret=secret)


def seed_demo() -> None:
    """Org plus whatever demo data the capabilities provide (accounts, plans, ...)."""
    seed_org()
    for extra in DEMO_EXTRAS:
        extra()


DEMO_EXTRAS: list = []
