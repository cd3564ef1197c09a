"""At-least-once events give one result: S3 Object Created three times and out of order
(two versions of one key), a poison record in a DynamoDB stream batch, a schedule fired
twice. Already proven elsewhere and not repeated here: an S3 event twice and two versions
in either order (test_uploads.py), stream records duplicated and reordered
(test_feed_reindex.py), plan_reminders and budget_alerts fired twice (test_reminders.py,
test_budgets.py)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.models.signins import DUE_SHARDS, SignIn, Visit
from chalicelib.services.feed import feed_index
from chalicelib.services.platform.projections import Change
from chalicelib.services.uploads import uploads
from tests.fixtures.images import jpeg
from tests.support import (
    Stream,
    deliver,
    ids_in,
    index_snapshot,
    make_account_activity,
    put,
    replace_projection,
    start_upload,
    thumbnails,
)

NOW = datetime.now(UTC).replace(microsecond=0)  # each test's start (the now_at_start fixture)
pytestmark = pytest.mark.usefixtures("now_at_start")


def _signin_with_photo(api, upload_id: str) -> str:
    status, body = api.post(
        "/v1/signins",
        {
            "kind": "check_in",
            "location": {"lat": 31.23, "lng": 121.47, "accuracy_m": 5},
            "client_time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "photo_upload_ids": [upload_id],
        },
    )
    assert status == 201, body
    return body["id"]


@pytest.mark.parametrize(
    "order",
    [("good", "bad", "good", "good", "bad", "bad"), ("bad", "good", "bad", "good", "good", "bad")],
    ids=["good-first", "bad-first"],
)
def test_object_created_three_times_per_version_out_of_order_decides_once(api, chalice_client, order):
    # A photo far from the check-in: once verified it adds photo_location_mismatch to the sign-in.
    good = jpeg((800, 600), gps=(39.9, 116.4))
    body = start_upload(api, "image/jpeg", len(good) + 10_000)
    versions = {"good": put(body, good)["VersionId"], "bad": put(body, b"not an image")["VersionId"]}
    signin_id = _signin_with_photo(api, body["upload_id"])
    key = body["fields"]["key"]

    outcomes = [deliver(chalice_client, key, versions[v])["outcome"] for v in order]
    first = order[0]
    assert outcomes == [("ready" if first == "good" else "rejected")] + ["duplicate"] * 5
    upload = uploads.get_upload("acme", body["upload_id"], consistent=True)
    assert (upload.status, upload.version_id) == ("ready" if first == "good" else "rejected", versions[first])
    assert len(thumbnails()) == (1 if first == "good" else 0)
    signin = SignIn.get(SignIn.pk("acme", signin_id), "SIGNIN", consistent_read=True)
    assert set(signin.photo_flags or ()) == ({"photo_location_mismatch"} if first == "good" else set())
    decided = upload.processed_at
    assert deliver(chalice_client, key, versions["good"])["outcome"] == "duplicate"
    assert uploads.get_upload("acme", body["upload_id"], consistent=True).processed_at == decided


def _record_key(event_name, old_image, new_image) -> str:
    """One stream record, by what it carries (a PATCH writes its object's partition several
    times: the object, its list-index state twice; each is its own record)."""
    return json.dumps([event_name, old_image, new_image], sort_keys=True)


def _entity_and_pk(image) -> tuple[str, str]:
    image = image or {}
    return (image.get("entity") or {}).get("S", ""), (image.get("PK") or {}).get("S", "")


def test_poison_stream_record_is_isolated_and_the_rest_of_the_batch_applies_once(api, chalice_client, monkeypatch):
    stream = Stream(chalice_client)
    accounts = [make_account_activity(api) for _ in range(3)]
    stream.pump()
    for account, _ in accounts:
        assert api.patch(f"/v1/accounts/{account}", {"owner_id": "rep_c"})[0] == 200
    records = stream.read()
    keys = [_record_key(r["eventName"], r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage")) for r in records]
    assert len(set(keys)) == len(records), "two records carry the same change: the counts below need them apart"
    # the records the feed index reads (the engine hands it no other: services/flows/projections.py)
    reads = feed_index.PROJECTION.reacts_to
    keys = [k if reads(Change.of_event(r).entity, r["eventName"]) else None for k, r in zip(keys, records, strict=True)]
    assert sum(k is not None for k in keys) >= 3  # the three transfers at least
    poison_account, poison_activity = accounts[1]
    real = feed_index.handle_change
    handled: Counter = Counter()

    def is_poison(image) -> bool:
        entity, pk = _entity_and_pk(image)
        return entity == "Account" and pk.endswith(poison_account)

    def handle(change):
        if is_poison(change.new_image or change.old_image):
            raise RuntimeError("poison")
        handled[_record_key(change.event_name, change.old_image, change.new_image)] += 1
        return real(change)

    replace_projection(monkeypatch, "feed_index", handle)
    poison = [r for r in records if is_poison(r["dynamodb"].get("NewImage"))]
    assert len(poison) == 1  # the account's transfer; its list-index state is not poisoned
    at = records.index(poison[0])
    seq = poison[0]["dynamodb"]["SequenceNumber"]

    result = chalice_client.lambda_.invoke("table_stream", {"Records": records})
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": seq}]}
    after_first = index_snapshot()
    assert all(handled[k] == 1 for k in keys[:at] + keys[at + 1 :] if k)  # every other record once
    # Lambda resumes from the failed record (it and everything after it), twice, then
    # sends it to the on-failure destination; the index does not move meanwhile.
    for _ in range(2):
        again = chalice_client.lambda_.invoke("table_stream", {"Records": records[at:]})
        assert again.payload == {"batchItemFailures": [{"itemIdentifier": seq}]}
    assert index_snapshot() == after_first
    assert all(handled[k] == 1 for k in keys[:at] if k)  # the records before it: never again
    assert all(handled[k] == 3 for k in keys[at + 1 :] if k)  # after it: with each retry
    for account, activity in accounts:
        moved = account != poison_account
        assert (activity in ids_in(api, "mgr_west", "subordinates_business")) is moved
        assert (activity in ids_in(api, "mgr_east", "subordinates_business")) is not moved
    assert poison_activity in ids_in(api, "mgr_east", "subordinates_business")


def test_close_open_visits_fired_twice_closes_each_visit_once(api, chalice_client, drain_work):
    yesterday = NOW - timedelta(days=2)
    status, body = api.post(
        "/v1/signins",
        {
            "kind": "check_in",
            "location": {"lat": 31.23, "lng": 121.47, "accuracy_m": 5},
            "client_time": yesterday.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert status == 201, body
    tick = chalice_client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    first = chalice_client.lambda_.invoke("close_open_visits", tick).payload
    drain_work()
    closed = Visit.get(Visit.pk("acme", body["visit_id"]), "VISIT", consistent_read=True)
    assert (closed.status, closed.closed_by) == ("closed", "system")
    second = chalice_client.lambda_.invoke("close_open_visits", tick).payload
    drain_work()  # the same tasks again (the same firing's keys): acknowledged without work
    assert first == second == {"queued": DUE_SHARDS}
    again = Visit.get(Visit.pk("acme", body["visit_id"]), "VISIT", consistent_read=True)
    assert (again.status, again.closed_by, again.ended_at) == ("closed", "system", closed.ended_at)
