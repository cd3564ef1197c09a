"""Tasks, instructions and approval requests with related CRM objects are feed activities of
their type, under the feed's visibility rules, and in the opportunity overview."""

from __future__ import annotations


def test_each_collaboration_item_with_related_objects_is_an_activity_of_its_type(api):
    acc = api.post("/v1/accounts", {"name": "Acme Hardware"})[1]
    opp = api.post("/v1/opportunities", {"name": "Renewal", "account_id": acc["id"], "stage": "qualify"})[1]
    related = [{"type": "opportunity", "id": opp["id"]}]
    task = api.post(
        "/v1/tasks", {"title": "Send the quote", "assignee_ids": ["rep_a"], "related": related}, as_="mgr_east"
    )[1]
    instruction = api.post(
        "/v1/instructions",
        {"content": "Push the renewal", "recipient_ids": ["rep_a"], "related": related},
        as_="mgr_east",
    )[1]
    request = api.post(
        "/v1/approval-requests", {"kind": "discount", "title": "10% off", "amount": "100.00", "related": related}
    )[1]
    assert task["related"] == [{"type": "opportunity", "id": opp["id"], "name": "Renewal"}]
    api.post("/v1/tasks", {"title": "No CRM object", "assignee_ids": ["rep_a"]}, as_="mgr_east")
    status, feed = api.get("/v1/feed?scene=my_opportunities&types=task,instruction,approval")
    assert status == 200, feed
    found = {a["type"]: a for a in feed["items"]}
    assert set(found) == {"task", "instruction", "approval"} and len(feed["items"]) == 3
    assert found["task"]["task_id"] == task["id"] and found["task"]["content"] == "Send the quote"
    assert found["instruction"]["instruction_id"] == instruction["id"]
    assert found["approval"]["request_id"] == request["id"] and found["approval"]["author_id"] == "rep_a"
    assert api.get("/v1/feed?types=task,instruction,approval", as_="rep_c")[1]["items"] == []
    assert len(api.get("/v1/feed?types=task,instruction,approval", as_="vp")[1]["items"]) == 3
    status, overview = api.get(f"/v1/opportunities/{opp['id']}/overview")
    assert status == 200
    assert {a["type"] for a in overview["activities"]} >= {"task", "instruction", "approval"}
