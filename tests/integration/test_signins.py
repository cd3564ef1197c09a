"""Sign-ins through the HTTP edge: flags, photos verified before and after, visits, the
close_open_visits schedule, Idempotency-Key, visibility and paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.models.signins import DUE_SHARDS, SignIn, Visit
from chalicelib.services.fieldwork import signins
from chalicelib.services.uploads import uploads
from tests.fixtures.images import jpeg
from tests.support import SHANGHAI, deliver, now, put, sign, start_upload, ts, upload_file

NEARBY = (31.2320, 121.4737)  # ~180 m north
FAR = (31.2600, 121.4737)  # ~3.3 km north


@pytest.fixture
def account(api) -> str:
    status, body = api.post(
        "/v1/accounts", {"name": "Shanghai Tower", "location": {"lat": SHANGHAI[0], "lng": SHANGHAI[1]}}, as_="rep_a"
    )
    assert status == 201, body
    return body["id"]


# ---------------------------------------------------------------- flags
def test_check_in_at_the_account_has_no_flags_and_opens_a_visit(api, account):
    status, body = sign(api, account_id=account)
    assert status == 201, body
    assert body["flags"] == []
    assert body["distance_m"] == 0
    assert body["user_id"] == "rep_a" and body["kind"] == "check_in"
    assert body["visit"]["status"] == "open" and body["visit_id"] == body["visit"]["id"]


def test_check_in_beyond_radius_is_flagged_out_of_range_and_still_recorded(api, account):
    status, body = sign(api, where=FAR, account_id=account)
    assert status == 201
    assert body["flags"] == ["out_of_range"]
    assert 3000 < body["distance_m"] < 3600
    assert api.get(f"/v1/signins/{body['id']}")[0] == 200


def test_check_in_within_default_radius_but_beyond_tenant_radius_is_out_of_range(api, account):
    assert sign(api, where=NEARBY, account_id=account)[1]["flags"] == []
    assert api.put("/v1/admin/settings", {"checkin_radius_m": 100}, as_="admin")[0] == 200
    assert sign(api, where=NEARBY, account_id=account)[1]["flags"] == ["out_of_range"]


def test_check_in_without_account_location_has_no_distance_and_no_range_flag(api):
    status, acct = api.post("/v1/accounts", {"name": "No address"}, as_="rep_a")
    assert status == 201
    status, body = sign(api, where=FAR, account_id=acct["id"])
    assert body["distance_m"] is None and body["flags"] == []


@pytest.mark.parametrize(("accuracy", "flagged"), [(100, False), (100.5, True), (5, False), (2500, True)])
def test_check_in_accuracy_worse_than_100_m_is_low_accuracy(api, accuracy, flagged):
    status, body = sign(api, accuracy=accuracy)
    assert status == 201
    assert ("low_accuracy" in body["flags"]) is flagged


@pytest.mark.parametrize(("offset_s", "flagged"), [(0, False), (-290, False), (-400, True), (400, True)])
def test_check_in_client_time_off_by_more_than_5_minutes_is_clock_skew(api, offset_s, flagged):
    status, body = sign(api, when=now() + timedelta(seconds=offset_s))
    assert status == 201
    assert ("clock_skew" in body["flags"]) is flagged


def test_offline_check_in_sent_later_keeps_client_time_is_late_not_skewed(api):
    visited = now() - timedelta(hours=3)
    status, body = sign(api, when=visited, sent_at=ts(now()))
    assert status == 201
    assert body["client_time"] == ts(visited)
    assert body["visit"]["started_at"] == ts(visited)
    assert body["flags"] == ["late_upload"]


def test_offline_check_in_without_sent_at_is_skewed_and_late(api):
    status, body = sign(api, when=now() - timedelta(hours=3))
    assert body["flags"] == ["clock_skew", "late_upload"]


@pytest.mark.parametrize(("mock", "flagged"), [(True, True), (False, False), (None, False)])
def test_check_in_with_mock_location_is_flagged(api, mock, flagged):
    extra = {} if mock is None else {"mock_location": mock}
    status, body = sign(api, **extra)
    assert status == 201
    assert ("mock_location" in body["flags"]) is flagged
    assert body["mock_location"] is flagged


# ---------------------------------------------------------------- photos
def _photo(api, chalice_client, **exif) -> str:
    return upload_file(api, chalice_client, jpeg((800, 600), **exif))["upload_id"]


@pytest.mark.parametrize(("gps", "flagged"), [(FAR, True), (NEARBY, False), (None, False)])
def test_check_in_with_photo_gps_far_from_location_is_photo_location_mismatch(api, chalice_client, gps, flagged):
    upload_id = _photo(api, chalice_client, gps=gps)
    status, body = sign(api, photo_upload_ids=[upload_id])
    assert status == 201, body
    assert ("photo_location_mismatch" in body["flags"]) is flagged
    assert body["photos"][0]["status"] == "ready"
    assert body["photos"][0]["thumbnail_url"] and body["photos"][0]["url"]


@pytest.mark.parametrize(
    ("taken_delta_min", "offset", "flagged"),
    [(-180, "+00:00", True), (-10, "+00:00", False), (45, "+00:00", True), (0, None, False)],
)
def test_check_in_with_photo_taken_far_from_client_time_is_photo_time_mismatch(
    api, chalice_client, taken_delta_min, offset, flagged
):
    visit = now()
    taken = visit + timedelta(minutes=taken_delta_min)
    if offset is None:  # no EXIF offset: read in the tenant's zone (Asia/Shanghai, +08:00)
        taken = taken + timedelta(hours=8)
    upload_id = _photo(api, chalice_client, taken_at=taken.strftime("%Y-%m-%dT%H:%M:%S"), offset=offset)
    status, body = sign(api, when=visit, photo_upload_ids=[upload_id])
    assert ("photo_time_mismatch" in body["flags"]) is flagged


def test_photo_verified_after_check_in_adds_its_flags_once(api, chalice_client):
    data = jpeg((800, 600), gps=FAR)
    pending = start_upload(api, "image/jpeg", len(data))
    status, body = sign(api, photo_upload_ids=[pending["upload_id"]])
    assert status == 201
    assert body["flags"] == [] and body["photos"] == [{"upload_id": pending["upload_id"], "status": "pending"}]
    version = put(pending, data)["VersionId"]
    assert deliver(chalice_client, pending["fields"]["key"], version)["outcome"] == "ready"
    status, after = api.get(f"/v1/signins/{body['id']}")
    assert after["flags"] == ["photo_location_mismatch"]
    assert after["photos"][0]["status"] == "ready"
    # A duplicated event and a replayed apply change nothing.
    assert deliver(chalice_client, pending["fields"]["key"], version)["outcome"] == "duplicate"
    signins.apply_photo(uploads.get_upload("acme", pending["upload_id"]))
    assert api.get(f"/v1/signins/{body['id']}")[1]["flags"] == ["photo_location_mismatch"]


def test_photo_rejected_after_check_in_shows_rejected_and_adds_no_flag(api, chalice_client):
    pending = start_upload(api, "image/jpeg", 5000)
    status, body = sign(api, photo_upload_ids=[pending["upload_id"]])
    deliver(chalice_client, pending["fields"]["key"], put(pending, b"plain text")["VersionId"])
    status, after = api.get(f"/v1/signins/{body['id']}")
    assert after["photos"] == [{"upload_id": pending["upload_id"], "status": "rejected", "reason": "not_an_image"}]
    assert after["flags"] == []


def test_photo_flags_late_upload_when_photo_arrives_over_an_hour_after_the_visit():
    visit = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    signin = SignIn(
        signin_id="s",
        user_id="u",
        kind="check_in",
        lat=1.0,
        lng=1.0,
        accuracy_m=5,
        client_time=ts(visit),
        server_time=ts(visit),
    )
    upload = uploads.Upload(upload_id="p", user_id="u", status="ready", uploaded_at=ts(visit + timedelta(minutes=61)))
    from zoneinfo import ZoneInfo

    assert signins.photo_flags(signin, upload, 500, ZoneInfo("UTC")) == {"late_upload"}
    upload.uploaded_at = ts(visit + timedelta(minutes=59))
    assert signins.photo_flags(signin, upload, 500, ZoneInfo("UTC")) == set()
    upload.status = "rejected"
    upload.uploaded_at = ts(visit + timedelta(hours=5))
    assert signins.photo_flags(signin, upload, 500, ZoneInfo("UTC")) == set()


def test_check_in_with_someone_elses_or_rejected_or_used_photo_is_refused(api, chalice_client):
    other = _photo(api, chalice_client)
    assert sign(api, as_="rep_b", photo_upload_ids=[other])[0] == 422
    bad = upload_file(api, chalice_client, b"nope", "image/jpeg")["upload_id"]
    status, body = sign(api, photo_upload_ids=[bad])
    assert (status, body["error"]["code"]) == (422, "photo_rejected")
    assert sign(api, photo_upload_ids=[other])[0] == 201
    status, body = sign(api, photo_upload_ids=[other])
    assert (status, body["error"]["code"]) == (409, "photo_already_attached")


def test_signin_photo_urls_only_for_users_who_may_see_the_signin(api, chalice_client):
    upload_id = _photo(api, chalice_client)
    _, body = sign(api, photo_upload_ids=[upload_id])
    for viewer in ("mgr_east", "vp", "ceo", "admin"):
        status, seen = api.get(f"/v1/signins/{body['id']}", as_=viewer)
        assert status == 200 and seen["photos"][0]["url"], viewer
    for viewer in ("rep_b", "mgr_west", "rep_c"):
        assert api.get(f"/v1/signins/{body['id']}", as_=viewer)[0] == 404, viewer
    assert api.get(f"/v1/signins/{body['id']}", as_="boss", tenant="globex")[0] == 404


# ---------------------------------------------------------------- visits
def test_check_out_closes_the_open_visit_with_its_duration(api, account):
    start = now() - timedelta(minutes=50)
    _, checkin = sign(api, when=start, account_id=account)
    status, checkout = sign(api, kind="check_out", when=start + timedelta(minutes=42), account_id=account)
    assert status == 201
    assert checkout["visit_id"] == checkin["visit_id"]
    visit = checkout["visit"]
    assert (visit["status"], visit["closed_by"], visit["duration_s"]) == ("closed", "user", 42 * 60)
    assert visit["checkout_id"] == checkout["id"]
    assert api.get(f"/v1/signins/{checkin['id']}")[1]["visit"]["duration_s"] == 42 * 60


def test_check_out_without_open_visit_is_recorded_without_visit(api):
    status, body = sign(api, kind="check_out")
    assert status == 201
    assert body["visit_id"] is None


def test_check_in_while_a_visit_is_open_closes_the_previous_one(api):
    start = now() - timedelta(minutes=30)
    _, first = sign(api, when=start)
    _, second = sign(api, when=start + timedelta(minutes=20))
    old = Visit.get(Visit.pk("acme", first["visit_id"]), "VISIT")
    assert (old.status, old.closed_by, old.duration_s) == ("closed", "check_in", 20 * 60)
    assert second["visit"]["status"] == "open"
    _, out = sign(api, kind="check_out")
    assert out["visit_id"] == second["visit_id"]


def test_close_open_visits_closes_yesterdays_visit_as_system_and_keeps_todays(
    api, chalice_client, ddb_requests, drain_work
):
    # 2026-11-21 15:00 Shanghai = 07:00Z; its day ends 2026-11-21T16:00:00Z.
    _, old = sign(api, when=datetime(2026, 11, 21, 7, 0, tzinfo=UTC), as_="rep_a")
    _, fresh = sign(api, when=now(), as_="rep_b")
    ddb_requests.reset()
    queued = chalice_client.lambda_.invoke(
        "close_open_visits", chalice_client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    ).payload
    assert queued == {"queued": DUE_SHARDS}  # the dispatcher reads nothing: one task per shard
    assert ddb_requests.total == 0
    drain_work()
    calls = list(ddb_requests.calls)
    visit = Visit.get(Visit.pk("acme", old["visit_id"]), "VISIT")
    assert (visit.status, visit.closed_by) == ("closed", "system")
    assert visit.ended_at == "2026-11-21T16:00:00Z" and visit.duration_s == 9 * 3600
    assert Visit.get(Visit.pk("acme", fresh["visit_id"]), "VISIT").status == "open"
    # Cost: one query per shard plus one transaction per due visit, never a scan (and each
    # task's checkpoint: one GetItem and one PutItem).
    assert "Scan" not in calls
    assert calls.count("Query") == DUE_SHARDS and calls.count("TransactWriteItems") == 1
    assert calls.count("GetItem") == calls.count("PutItem") == DUE_SHARDS
    # Twice (a double-fired schedule) changes nothing; rep_a can check in afresh.
    assert signins.close_open_visits() == 0
    _, again = sign(api, as_="rep_a")
    assert again["visit"]["status"] == "open"
    _, out = sign(api, kind="check_out", as_="rep_a")
    assert out["visit_id"] == again["visit_id"]


# ---------------------------------------------------------------- idempotency, feed, opportunity
def test_check_in_retried_with_idempotency_key_replays_and_records_once(api, chalice_client):
    upload_id = _photo(api, chalice_client)
    headers = {"Idempotency-Key": "phone-retry-1"}
    when = now()
    first = sign(api, when=when, headers=headers, photo_upload_ids=[upload_id])
    second = sign(api, when=when, headers=headers, photo_upload_ids=[upload_id])
    assert first[0] == second[0] == 201
    assert first[1]["id"] == second[1]["id"]
    assert len(list(SignIn.gsi1.query(SignIn.user_pk("acme", "rep_a")))) == 1
    status, body = sign(api, when=when, headers=headers, accuracy=99)
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")


def test_check_in_appears_in_feed_as_signin_activity_on_account_and_opportunity(api, account):
    status, opp = api.post("/v1/opportunities", {"name": "Deal", "account_id": account, "stage": "qualify"})
    assert status == 201, opp
    status, body = sign(api, opportunity_id=opp["id"], note="met the buyer")
    assert status == 201
    assert body["account_id"] == account  # taken from the opportunity
    status, feed = api.get("/v1/feed?types=signin", as_="mgr_east")
    assert status == 200, feed
    activity = next(
        a
        for a in feed["items"]
        if a.get("signin_id") == body["id"] or (a.get("extra") or {}).get("signin_id") == body["id"]
    )
    assert activity["type"] == "signin" and activity["content"] == "met the buyer"
    assert {r["type"] for r in activity["related"]} == {"account", "opportunity"}
    item = SignIn.get(SignIn.pk("acme", body["id"]), "SIGNIN")
    assert (f"T#acme#OPP#{opp['id']}", f"SIGNIN#{body['id']}") == (item.GSI3PK, item.GSI3SK)


def test_check_in_on_account_opportunity_or_plan_the_caller_cannot_see_is_422_and_stores_nothing(api):
    _, acct = api.post("/v1/accounts", {"name": "West only"}, as_="rep_c")
    _, opp = api.post("/v1/opportunities", {"name": "W", "account_id": acct["id"], "stage": "qualify"}, as_="rep_c")
    _, their_plan = api.post("/v1/plans", {"date": "2030-03-10", "title": "Theirs"}, as_="rep_b")
    _, own_plan = api.post("/v1/plans", {"date": "2030-03-10", "title": "Mine"})
    cases = [
        ({"account_id": acct["id"]}, "unknown_account"),
        ({"opportunity_id": opp["id"]}, "unknown_opportunity"),
        ({"plan_id": their_plan["id"]}, "unknown_plan"),
        ({"plan_id": "pln_nope"}, "unknown_plan"),
        ({"plan_id": own_plan["id"], "account_id": acct["id"]}, "unknown_account"),
    ]
    for refs, code in cases:
        status, body = sign(api, **refs)
        assert (status, body["error"]["code"]) == (422, code), refs
    _, listed = api.get("/v1/signins")
    assert listed["items"] == []


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "visit"},
        {"location": {"lat": 91, "lng": 0, "accuracy_m": 5}},
        {"location": {"lat": 1, "lng": 1}},
        {"client_time": "yesterday"},
        {"user_id": "rep_b"},
        {"flags": []},
    ],
)
def test_check_in_with_invalid_body_is_400(api, change):
    body = {"kind": "check_in", "location": {"lat": 1, "lng": 1, "accuracy_m": 5}, "client_time": ts(now()), **change}
    status, out = api.post("/v1/signins", body)
    assert status == 400, out


def test_check_in_with_impossible_date_is_422(api):
    where = {"lat": 1, "lng": 1, "accuracy_m": 5}
    body = {"kind": "check_in", "location": where, "client_time": "2026-02-31T10:00:00Z"}
    assert api.post("/v1/signins", body)[0] == 422


# ---------------------------------------------------------------- lists
def test_list_signins_for_subordinate_pages_newest_first_and_peer_is_404(api):
    base = now() - timedelta(hours=1)
    ids = [sign(api, when=base + timedelta(minutes=i), kind="check_in")[1]["id"] for i in range(3)]
    status, page = api.get("/v1/signins?user_id=rep_a&limit=2", as_="mgr_east")
    assert status == 200
    assert [s["id"] for s in page["items"]] == ids[::-1][:2]
    status, rest = api.get(f"/v1/signins?user_id=rep_a&limit=2&cursor={page['next_cursor']}", as_="mgr_east")
    assert [s["id"] for s in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert api.get("/v1/signins?user_id=rep_a", as_="rep_b")[0] == 404
    assert api.get("/v1/signins?user_id=rep_a", as_="mgr_west")[0] == 404
    assert api.get(f"/v1/signins?user_id=rep_a&limit=2&cursor={page['next_cursor']}", as_="vp")[0] == 422


def test_list_signins_by_dates_uses_the_tenant_zone(api):
    # 2026-11-21T17:00Z is 2026-11-22 01:00 in Shanghai.
    late = sign(api, when=datetime(2026, 11, 21, 17, 0, tzinfo=UTC))[1]["id"]
    early = sign(api, when=datetime(2026, 11, 21, 15, 0, tzinfo=UTC))[1]["id"]
    status, page = api.get("/v1/signins?from=2026-11-22&to=2026-11-22")
    assert [s["id"] for s in page["items"]] == [late]
    status, page = api.get("/v1/signins?from=2026-11-21T00:00:00Z&to=2026-11-21T16:00:00Z")
    assert [s["id"] for s in page["items"]] == [early]
    assert api.get("/v1/signins?from=2026-11-23&to=2026-11-22")[0] == 422


def test_signins_for_user_between_is_half_open_and_oldest_first(api):
    t0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    a = sign(api, when=t0)[1]["id"]
    b = sign(api, when=t0 + timedelta(hours=1))[1]["id"]
    got = signins.signins_for_user_between("acme", "rep_a", ts(t0), ts(t0 + timedelta(hours=1)))
    assert [s["id"] for s in got] == [a]
    got = signins.signins_for_user_between("acme", "rep_a", ts(t0), ts(t0 + timedelta(hours=2)))
    assert [s["id"] for s in got] == [a, b]
    assert set(got[0]) >= {
        "id",
        "kind",
        "plan_id",
        "opportunity_id",
        "account_id",
        "client_time",
        "server_time",
        "flags",
        "photos",
    }
