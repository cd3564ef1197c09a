"""Tasks: assignment rules, completion any/all, lists, reminders exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.models.messages import Message
from chalicelib.services.inbox.messages import inbox_pk
from chalicelib.services.schedule import reminders

DUE_AT = "2030-01-15T01:30:00Z"
REMIND_AT = datetime(2030, 1, 15, 1, 0, tzinfo=UTC)


def at(delta_s: float, base: datetime = REMIND_AT) -> datetime:
    return base + timedelta(seconds=delta_s)


def inbox(user: str, kind: str) -> list[Message]:
    return [m for m in Message.query(inbox_pk("acme", user), Message.SK.startswith("MSG#")) if m.kind == kind]


def run_reminders(now: datetime):
    from chalicelib.services.collab import tasks

    return reminders.run(now=now, senders=tasks.REMINDERS)


def make_task(api, as_="mgr_east", **fields) -> dict:
    body = {"title": "Call Acme back", "assignee_ids": ["rep_a", "rep_b"], **fields}
    status, task = api.post("/v1/tasks", body, as_=as_)
    assert status == 201, task
    return task


def ids(api, path: str, as_: str) -> list[str]:
    status, page = api.get(path, as_=as_)
    assert status == 200, page
    return [t["id"] for t in page["items"]]


def test_create_task_tells_each_assignee_but_the_creator_and_shows_to_managers_only(api):
    task = make_task(api, assignee_ids=["rep_a", "mgr_east"], due_at=DUE_AT)
    assert task["status"] == "open" and task["completion"] == "all" and task["creator_id"] == "mgr_east"
    assert [m.ref_id for m in inbox("rep_a", "task_assigned")] == [task["id"]]
    assert inbox("mgr_east", "task_assigned") == []  # the creator assigned themselves
    for user, code in (("rep_a", 200), ("mgr_east", 200), ("vp", 200), ("ceo", 200), ("rep_b", 404), ("rep_c", 404)):
        assert api.get(f"/v1/tasks/{task['id']}", as_=user)[0] == code, user
    assert ids(api, "/v1/tasks?role=assigned", "rep_a") == [task["id"]]
    assert ids(api, "/v1/tasks?role=created", "mgr_east") == [task["id"]]
    assert ids(api, "/v1/tasks?role=team", "vp") == [task["id"]]
    assert ids(api, "/v1/tasks?role=team", "mgr_west") == []


def test_addressing_rules_refuse_with_403_or_422_and_write_nothing(api):
    assert api.post("/v1/tasks", {"title": "x", "assignee_ids": ["rep_b"]})[1]["error"]["code"] == (
        "recipient_not_allowed"
    )
    status, body = api.post("/v1/tasks", {"title": "x", "assignee_ids": ["nobody"]}, as_="mgr_east")
    assert (status, body["error"]["code"]) == (422, "unknown_user")
    status, body = api.post("/v1/tasks", {"title": "x", "assignee_ids": ["rep_c"]}, as_="mgr_east")
    assert (status, body["error"]["code"]) == (403, "recipient_not_allowed")
    status, body = api.post(
        "/v1/tasks", {"title": "x", "assignee_ids": ["rep_a"], "related": [{"type": "account", "id": "acc_nope"}]}
    )
    assert (status, body["error"]["code"]) == (422, "unknown_account")
    assert ids(api, "/v1/tasks?role=created", "rep_a") == [] == ids(api, "/v1/tasks?role=created", "mgr_east")
    assert api.post("/v1/tasks", {"title": "self", "assignee_ids": ["rep_a"]})[0] == 201
    assert api.post("/v1/tasks", {"title": "any", "assignee_ids": ["rep_c"]}, as_="admin")[0] == 201


def test_completion_all_needs_everyone_any_needs_one_and_reopen_undoes(api):
    task = make_task(api)
    path = f"/v1/tasks/{task['id']}"
    assert api.post(path + "/complete", as_="rep_a")[1]["status"] == "open"
    assert api.post(path + "/complete", as_="rep_a")[1]["completions"][0]["user_id"] == "rep_a"  # idempotent
    status, done = api.post(path + "/complete", as_="rep_b")
    assert (status, done["status"], len(done["completions"])) == (200, "done", 2)
    assert ids(api, "/v1/tasks?role=assigned&status=done", "rep_a") == [task["id"]]
    assert ids(api, "/v1/tasks?role=assigned&status=open", "rep_a") == []
    assert api.post(path + "/reopen", as_="rep_b")[1]["status"] == "open"
    assert api.post(path + "/complete", as_="mgr_east")[1]["error"]["code"] == "not_assignee"
    assert api.post(path + "/complete", as_="rep_c")[0] == 404
    anyone = make_task(api, completion="any")
    assert api.post(f"/v1/tasks/{anyone['id']}/complete", as_="rep_b")[1]["status"] == "done"


def test_only_the_creator_edits_and_cancels_and_a_cancelled_task_is_409(api):
    task = make_task(api)
    path = f"/v1/tasks/{task['id']}"
    status, body = api.patch(path, {"title": "Hijack"}, as_="rep_a")
    assert (status, body["error"]["code"]) == (403, "not_creator")
    assert api.patch(path, {"status": "done"}, as_="mgr_east")[1]["error"]["code"] == "invalid_status"
    status, edited = api.patch(path, {"title": "Call Acme today", "assignee_ids": ["rep_b"]}, as_="mgr_east")
    assert (status, edited["title"], edited["assignee_ids"]) == (200, "Call Acme today", ["rep_b"])
    assert api.get(path, as_="rep_a")[0] == 404  # no longer an assignee
    assert ids(api, "/v1/tasks?role=assigned", "rep_a") == []
    assert api.patch(path, {"status": "cancelled"}, as_="mgr_east")[1]["status"] == "cancelled"
    assert api.post(path + "/complete", as_="rep_b")[0] == 409
    assert ids(api, "/v1/tasks?role=assigned&status=cancelled", "rep_b") == [task["id"]]


def test_reminder_exactly_once_per_assignee_not_done_under_a_double_fired_schedule(api):
    task = make_task(api, due_at=DUE_AT, remind_minutes_before=30)
    cancelled = make_task(api, due_at=DUE_AT, remind_minutes_before=30)
    api.patch(f"/v1/tasks/{cancelled['id']}", {"status": "cancelled"}, as_="mgr_east")
    api.post(f"/v1/tasks/{task['id']}/complete", as_="rep_b")  # done before its time: not reminded
    run_reminders(at(-120))
    assert run_reminders(at(-60)).delivered == 0
    first, second = run_reminders(at(30)), run_reminders(at(30))
    assert (first.delivered, second.delivered) == (1, 0)
    assert [m.ref_id for m in inbox("rep_a", "task_reminder")] == [task["id"]]
    assert inbox("rep_b", "task_reminder") == []


def test_redated_task_is_reminded_at_its_new_time_only(api):
    task = make_task(api, assignee_ids=["rep_a"], due_at=DUE_AT, remind_minutes_before=30)
    api.patch(f"/v1/tasks/{task['id']}", {"due_at": "2030-01-15T02:30:00Z"}, as_="mgr_east")
    run_reminders(at(-120))
    assert run_reminders(at(30)).delivered == 0  # the old time passes quietly
    assert run_reminders(at(3600 + 30)).delivered == 1
    assert run_reminders(at(3600 + 30)).delivered == 0
    assert len(inbox("rep_a", "task_reminder")) == 1


def test_lists_soonest_due_first_with_full_pages_and_due_before(api):
    dues = ["2030-01-03T00:00:00Z", "2030-01-01T00:00:00Z", None, "2030-01-02T00:00:00Z"]
    made = [make_task(api, assignee_ids=["rep_a"], **({"due_at": d} if d else {})) for d in dues]
    order = [made[1]["id"], made[3]["id"], made[0]["id"], made[2]["id"]]
    status, page = api.get("/v1/tasks?limit=3")
    assert [t["id"] for t in page["items"]] == order[:3] and page["next_cursor"]
    status, rest = api.get(f"/v1/tasks?limit=3&cursor={page['next_cursor']}")
    assert [t["id"] for t in rest["items"]] == order[3:] and rest["next_cursor"] is None
    assert api.get(f"/v1/tasks?limit=3&cursor={page['next_cursor']}", as_="rep_b")[0] == 422
    assert ids(api, "/v1/tasks?due_before=2030-01-02T00:00:00Z", "rep_a") == [made[1]["id"]]


def test_task_list_page_costs_the_same_at_10_and_at_many_users(api, ddb_requests):
    from chalicelib.services.org import org

    for _ in range(5):
        make_task(api, assignee_ids=["rep_a", "rep_b"])

    def cost(path: str, user: str) -> int:
        ddb_requests.reset()
        assert api.get(path, as_=user)[0] == 200
        return ddb_requests.total

    before = (cost("/v1/tasks?limit=2", "rep_a"), cost("/v1/tasks?role=team&limit=2", "vp"))
    for i in range(40):
        org.put_user("acme", org.NewUser(f"extra_{i}", f"Extra {i}", "east", "mgr_east", None, None))
    for i in range(0, 40, 10):
        make_task(api, assignee_ids=[f"extra_{j}" for j in range(i, i + 10)])
    after = (cost("/v1/tasks?limit=2", "rep_a"), cost("/v1/tasks?role=team&limit=2", "vp"))
    assert before == after and max(after) <= 4, (before, after)


def test_team_lists_follow_a_reporting_change(api):
    task = make_task(api, assignee_ids=["rep_a"])
    assert ids(api, "/v1/tasks?role=team", "mgr_east") == [task["id"]]
    moved = {"name": "Zhang Min (rep)", "department_id": "west", "manager_id": "mgr_west"}
    assert api.put("/v1/admin/users/rep_a", moved, as_="admin")[0] == 200
    assert ids(api, "/v1/tasks?role=team", "mgr_west") == [task["id"]] == ids(api, "/v1/tasks?role=team", "vp")
    assert ids(api, "/v1/tasks?role=team", "mgr_east") == []
    assert api.get(f"/v1/tasks/{task['id']}", as_="mgr_west")[0] == 200
