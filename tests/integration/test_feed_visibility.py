"""The visibility matrix: who sees which activity, in which scene, by direct read and
through comments. Written as data: each viewer's expected activities per scene.

World (demo org, plus ``auditor``, who heads ``sales`` without managing anyone, so the
"department head" and "manager's manager" roles are held by different people):
- rep_a owns account A, contact C, opportunity O (on A) and lead L; one activity each
  (``acc``, ``con``, ``opp``, ``lead``), written by rep_a.
- rep_c (west) owns account B; rep_b (east) is on B's team; activity ``team`` by rep_c.
"""

from __future__ import annotations

import pytest

from chalicelib.services.org import org

ALL = {"acc", "con", "opp", "lead", "team"}
SCENES = (
    "all",
    "my_accounts",
    "my_contacts",
    "my_opportunities",
    "my_leads",
    "subordinates_team_accounts",
    "subordinates_business",
    "my_department",
)

# viewer -> (tenant, role in the matrix, {scene: expected activities}); scenes left out expect nothing
MATRIX: dict[str, tuple[str, str, dict[str, set[str]]]] = {
    "rep_a": (
        "acme",
        "rep (owner, author)",
        {
            "all": {"acc", "con", "opp", "lead"},
            "my_accounts": {"acc"},
            "my_contacts": {"con"},
            "my_opportunities": {"opp"},
            "my_leads": {"lead"},
        },
    ),
    "rep_b": ("acme", "peer (same manager; on B's team)", {"all": {"team"}}),
    "mgr_east": (
        "acme",
        "manager (also heads east)",
        {
            "all": ALL,
            "subordinates_team_accounts": {"acc", "team"},
            "subordinates_business": {"acc", "con", "opp"},
            "my_department": {"acc", "con", "opp"},
        },
    ),
    "vp": (
        "acme",
        "manager's manager (heads nothing)",
        {
            "all": ALL,
            "subordinates_team_accounts": {"acc", "team"},
            "subordinates_business": {"acc", "con", "opp", "team"},
        },
    ),
    "auditor": (
        "acme",
        "department head (sales), manages no one",
        {"all": ALL, "my_department": {"acc", "con", "opp", "team"}},
    ),
    "mgr_west": (
        "acme",
        "other department's manager and head",
        {
            "all": {"team"},
            "subordinates_team_accounts": {"team"},
            "subordinates_business": {"team"},
            "my_department": {"team"},
        },
    ),
    "rep_c": ("acme", "other department's rep (owns B)", {"all": {"team"}, "my_accounts": {"team"}}),
    "fin": ("acme", "unrelated colleague", {}),
    "admin": ("acme", "tenant admin", {"all": ALL}),
    "rep_x": ("globex", "other tenant", {}),
}


@pytest.fixture
def world(api, kept_world):
    def build():
        org.put_user("acme", org.NewUser("auditor", "Auditor", "finance", "ceo", None, None))
        org.put_department("acme", "sales", "Sales", "hq", "auditor")
        ids: dict[str, str] = {}

        def create(path, body, as_="rep_a"):
            status, out = api.post(path, body, as_=as_)
            assert status == 201, out
            return out["id"]

        a = create("/v1/accounts", {"name": "A"})
        c = create("/v1/contacts", {"name": "C", "account_id": a})
        o = create("/v1/opportunities", {"name": "O", "account_id": a, "stage": "qualify"})
        lead = create("/v1/leads", {"name": "L"})
        b = create("/v1/accounts", {"name": "B"}, as_="rep_c")
        assert api.put(f"/v1/accounts/{b}/team/rep_b", {"role": "follow_up"}, as_="rep_c")[0] == 200
        for label, kind, obj, author in (
            ("acc", "account", a, "rep_a"),
            ("con", "contact", c, "rep_a"),
            ("opp", "opportunity", o, "rep_a"),
            ("lead", "lead", lead, "rep_a"),
            ("team", "account", b, "rep_c"),
        ):
            ids[label] = create(
                "/v1/activities",
                {"type": "sales_record", "content": label, "related": [{"type": kind, "id": obj}]},
                as_=author,
            )
        return ids

    return kept_world(build)


def _labels(ids: dict[str, str], items: list[dict]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id.get(i["id"], f"foreign:{i['id']}") for i in items}


@pytest.mark.parametrize("viewer", list(MATRIX))
def test_feed_scenes_for_each_viewer_match_the_matrix(api, world, viewer):
    tenant, role, expected = MATRIX[viewer]
    for scene in SCENES:
        status, page = api.get(f"/v1/feed?scene={scene}&limit=100", as_=viewer, tenant=tenant)
        assert status == 200, page
        assert _labels(world, page["items"]) == expected.get(scene, set()), f"{viewer} ({role}) scene={scene}"


@pytest.mark.parametrize("viewer", list(MATRIX))
def test_direct_read_and_comments_for_each_viewer_match_the_matrix(api, world, viewer):
    tenant, role, expected = MATRIX[viewer]
    visible = expected.get("all", set())
    for label, activity_id in world.items():
        want = label in visible
        status, body = api.get(f"/v1/activities/{activity_id}", as_=viewer, tenant=tenant)
        assert status == (200 if want else 404), f"{viewer} ({role}) GET {label}"
        if want:
            assert body["id"] == activity_id
        else:
            assert body["error"]["code"] == "not_found"
        status, _ = api.get(f"/v1/activities/{activity_id}/comments", as_=viewer, tenant=tenant)
        assert status == (200 if want else 404), f"{viewer} ({role}) list comments on {label}"
        status, _ = api.post(
            f"/v1/activities/{activity_id}/comments", {"content": f"from {viewer}"}, as_=viewer, tenant=tenant
        )
        assert status == (201 if want else 404), f"{viewer} ({role}) comment on {label}"


def test_other_tenant_with_same_user_ids_sees_nothing(api, world):
    # globex has its own "rep_a"-free org; a globex admin token cannot reach acme's items.
    status, page = api.get("/v1/feed?limit=100", as_="boss", tenant="globex")
    assert status == 200 and page["items"] == []
    status, _ = api.get(f"/v1/activities/{world['acc']}", as_="boss", tenant="globex")
    assert status == 404
