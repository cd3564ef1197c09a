"""Attachments on activities (uploads with purpose ``attachment``, verified and
thumbnailed by the photo pipeline) and mentions in comments (``mention`` messages to users
who can see the activity; anyone else is 422 ``unknown_user``)."""

from __future__ import annotations

from chalicelib.models.base import BaseItem
from chalicelib.models.feed import Comment
from tests.fixtures.images import jpeg
from tests.support import account, activity, deliver, put, start_upload, upload_file
from tests.support import mention_messages as _messages


def test_activity_attachments_are_verified_and_thumbnailed(api, chalice_client):
    acc = account(api)
    ready = upload_file(api, chalice_client, jpeg((640, 480)), purpose="attachment")["upload_id"]
    waiting = start_upload(api, purpose="attachment")
    status, act = activity(api, acc, attachment_upload_ids=[ready, waiting["upload_id"]])
    assert status == 201, act
    by_id = {a["upload_id"]: a for a in act["attachments"]}
    assert by_id[ready]["status"] == "ready" and by_id[ready]["thumbnail_url"] and by_id[ready]["url"]
    assert by_id[waiting["upload_id"]]["status"] == "pending"
    assert "url" not in by_id[waiting["upload_id"]]

    put(waiting, b"not an image at all")
    deliver(chalice_client, waiting["fields"]["key"])
    status, again = api.get(f"/v1/activities/{act['id']}", as_="mgr_east")
    assert status == 200
    statuses = {a["upload_id"]: a["status"] for a in again["attachments"]}
    assert statuses == {ready: "ready", waiting["upload_id"]: "rejected"}
    feed_item = next(i for i in api.get("/v1/feed", as_="mgr_east")[1]["items"] if i["id"] == act["id"])
    assert [(a["upload_id"], a["status"]) for a in feed_item["attachments"]] == [
        (a["upload_id"], a["status"]) for a in again["attachments"]
    ]
    plain = activity(api, acc)[1]
    assert plain["attachments"] == []


def test_attachment_must_be_own_attachment_upload_and_at_most_nine(api, chalice_client):
    acc = account(api)
    photo = start_upload(api, purpose="signin_photo")["upload_id"]
    someone_elses = start_upload(api, purpose="attachment", as_="rep_b")["upload_id"]
    for ids in ([photo], [someone_elses], ["upl_missing"]):
        status, body = activity(api, acc, attachment_upload_ids=ids)
        assert status == 422 and body["error"]["code"] == "unknown_upload", ids
    rejected = upload_file(api, chalice_client, b"junk", purpose="attachment")["upload_id"]
    assert activity(api, acc, attachment_upload_ids=[rejected])[1]["error"]["code"] == "upload_rejected"
    ten = [start_upload(api, purpose="attachment")["upload_id"] for _ in range(10)]
    assert activity(api, acc, attachment_upload_ids=ten)[0] == 400
    status, act = activity(api, acc, attachment_upload_ids=ten[:9])
    assert status == 201 and len(act["attachments"]) == 9
    assert api.post("/v1/uploads", {"purpose": "attachment", "content_type": "image/png", "size_bytes": 9})[0] == 201


def test_mentioned_users_who_see_the_activity_get_one_mention_message(api, chalice_client):
    acc = account(api)
    act = activity(api, acc)[1]["id"]
    status, comment = api.post(
        f"/v1/activities/{act}/comments", {"content": "see this", "mentions": ["mgr_east", "vp", "mgr_east"]}
    )
    assert status == 201, comment
    assert comment["mentions"] == ["mgr_east", "vp"]
    for user in ("mgr_east", "vp"):
        got = _messages(api, user)
        assert len(got) == 1 and got[0]["ref"] == {"type": "activity", "id": act}
    # the comment's stream INSERT re-drives the notification: still one message each
    from chalicelib.services.feed import feed
    from chalicelib.services.feed.feed_index import get_activity

    stored = next(c for c in BaseItem.query(f"T#acme#ACT#{act}") if isinstance(c, Comment))
    feed.notify_comment(get_activity("acme", act), stored)
    assert len(_messages(api, "mgr_east")) == 1


def test_mentioning_someone_who_cannot_see_it_or_does_not_exist_is_422_and_stores_nothing(api):
    acc = account(api)
    act = activity(api, acc)[1]["id"]
    for mentions in (["rep_c"], ["nobody"], ["mgr_east", "fin"]):
        status, body = api.post(f"/v1/activities/{act}/comments", {"content": "x", "mentions": mentions})
        assert status == 422 and body["error"]["code"] == "unknown_user", mentions
    assert api.get(f"/v1/activities/{act}/comments")[1]["items"] == []
    assert _messages(api, "mgr_east") == []
    assert api.get(f"/v1/activities/{act}")[1]["comment_count"] == 0
