"""Phones: the device registry against moto's SNS (create, take-over, recreate, repair,
disable, logout), push preferences, and the fan-out of messages (one Query, one Publish per
enabled device, payloads checked against each platform's documented shape)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.sns import sns_backends

from chalicelib import aws as aws_clients
from chalicelib.models.devices import Device, PushToken
from chalicelib.services.inbox import messages
from chalicelib.services.platform.projections import Change
from chalicelib.services.push import fanout
from chalicelib.vocabulary import MESSAGE_KINDS
from tests.push_shapes import check_published

ACCOUNT, REGION = "123456789012", "us-east-1"
APNS_TOKEN = "ab" * 32
FCM_TOKEN = "fcm-token_" + "x" * 140


def backend() -> Any:
    return sns_backends[ACCOUNT][REGION]


def published(arn: str) -> list[dict[str, Any]]:
    """What moto holds for an endpoint, each message decoded (MessageStructure=json)."""
    return [json.loads(m) for m in backend().platform_endpoints[arn].messages.values()]


class SnsCalls:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.params: list[dict[str, Any]] = []

    def __call__(self, model: Any, params: Any, **_: Any) -> None:
        self.calls.append(model.name)
        if model.name == "Publish":
            self.params.append(dict(params))

    def reset(self) -> None:
        self.calls.clear()
        self.params.clear()


@pytest.fixture
def sns_calls(aws: Any) -> SnsCalls:
    counter = SnsCalls()
    aws_clients.client("sns").meta.events.register("provide-client-params.sns.*", counter)
    return counter


def register(api: Any, installation: str, platform: str = "apns", token: str = APNS_TOKEN, as_: str = "rep_a") -> Any:
    status, body = api.put(f"/v1/me/devices/{installation}", {"platform": platform, "token": token}, as_=as_)
    assert status == 200, body
    return body


def device(user: str, installation: str, tenant: str = "acme") -> Device | None:
    return Device.fetch(tenant, user, installation)


def send(kind: str = "comment", user: str = "rep_a", **kw: Any) -> Any:
    message = messages.send(
        messages.NewMessage("acme", user, kind, f"{kind} title", "secret body text", "plan", "p1", **kw)
    )
    assert message is not None
    return message


def deliver(message: Any, event: str = "INSERT") -> None:
    """The message's stream record, handed to the push consumer as the stream would."""
    fanout.handle_change(Change(event, None, message.serialize()))


# ---------------------------------------------------------------- registry
def test_register_device_creates_endpoint_and_answers_the_contract_shape(api, sns_calls, ddb_requests):
    body = register(api, "install-0001")
    assert body["installation_id"] == "install-0001" and body["platform"] == "apns" and body["enabled"] is True
    stored = device("rep_a", "install-0001")
    assert stored is not None and stored.endpoint_arn in backend().platform_endpoints
    endpoint = backend().platform_endpoints[stored.endpoint_arn]
    assert endpoint.token == APNS_TOKEN and endpoint.custom_user_data == "acme/rep_a/install-0001"
    assert sns_calls.calls[:2] == ["CreatePlatformEndpoint", "GetEndpointAttributes"] and len(sns_calls.calls) <= 3
    data_calls = [c for c in ddb_requests.calls if c in ("BatchGetItem", "GetItem", "Query", "TransactWriteItems")]
    # the caller and settings (the edge), then the registration's own BatchGet
    assert data_calls.count("BatchGetItem") == 2 and data_calls.count("TransactWriteItems") == 1


def test_register_same_device_again_costs_one_read_three_sns_calls_one_write(api, sns_calls, ddb_requests):
    register(api, "install-0001")
    sns_calls.reset()
    ddb_requests.reset()
    register(api, "install-0001")
    assert len(sns_calls.calls) <= 3 and sns_calls.calls == ["GetEndpointAttributes"]
    item_calls = [c for c in ddb_requests.calls if c not in ("DescribeTable",)]
    # the caller check of every route reads the user (with the settings) in one BatchGet;
    # registration itself: 1 BatchGet + 1 write
    assert item_calls.count("BatchGetItem") == 2 and item_calls.count("TransactWriteItems") == 1
    assert not {"PutItem", "UpdateItem", "Query"} & set(item_calls)


def test_register_token_held_by_another_endpoint_takes_it_over(api, sns_calls):
    application = next(a for a in backend().applications.values() if a.platform == "APNS")
    foreign = backend().create_platform_endpoint(application, "someone-else", APNS_TOKEN, {})
    body = register(api, "install-0001")
    assert body["enabled"] is True
    stored = device("rep_a", "install-0001")
    assert stored.endpoint_arn == foreign.arn  # taken over, not a second endpoint for one phone
    assert foreign.attributes["CustomUserData"] == "acme/rep_a/install-0001" and foreign.enabled
    assert sns_calls.calls == ["CreatePlatformEndpoint", "GetEndpointAttributes", "SetEndpointAttributes"]


def test_register_after_endpoint_deleted_recreates_it(api, sns_calls):
    register(api, "install-0001")
    old = device("rep_a", "install-0001").endpoint_arn
    backend().delete_endpoint(old)
    sns_calls.reset()
    register(api, "install-0001")
    new = device("rep_a", "install-0001").endpoint_arn
    assert new != old and new in backend().platform_endpoints
    assert sns_calls.calls == ["GetEndpointAttributes", "CreatePlatformEndpoint"]


def test_register_disabled_endpoint_or_new_token_repairs_attributes(api, sns_calls):
    register(api, "install-0001")
    arn = device("rep_a", "install-0001").endpoint_arn
    backend().platform_endpoints[arn].attributes["Enabled"] = False  # as APNs' feedback would
    sns_calls.reset()
    register(api, "install-0001")
    assert backend().platform_endpoints[arn].enabled
    assert sns_calls.calls == ["GetEndpointAttributes", "SetEndpointAttributes"]
    new_token = "cd" * 32
    register(api, "install-0001", token=new_token)
    assert backend().platform_endpoints[arn].attributes["Token"] == new_token
    assert PushToken.lookup(PushToken.key_of("acme", "apns", APNS_TOKEN)) is None  # the old token's holder is gone
    holder = PushToken.lookup(PushToken.key_of("acme", "apns", new_token))
    assert holder is not None and holder.installation_id == "install-0001"


def test_token_moving_to_another_user_leaves_the_previous_users_devices(api):
    register(api, "install-0001", as_="rep_a")
    arn = device("rep_a", "install-0001").endpoint_arn
    register(api, "install-0002", as_="rep_b")
    assert device("rep_a", "install-0001") is None
    assert device("rep_b", "install-0002").endpoint_arn == arn
    # SNS names the new holder too (a later take-over from another tenant reads it there)
    assert backend().platform_endpoints[arn].attributes["CustomUserData"] == "acme/rep_b/install-0002"
    assert api.get("/v1/me/devices", as_="rep_a")[1]["items"] == []
    message = send(user="rep_a")
    deliver(message)
    assert published(arn) == []  # rep_a's messages no longer reach the phone rep_b holds


def test_token_moving_to_another_tenant_leaves_the_previous_holder(api):
    register(api, "install-0001", as_="rep_a")
    arn = device("rep_a", "install-0001").endpoint_arn
    # AWS's GetEndpointAttributes answers the CustomUserData given at creation; moto only
    # once it was set again: give moto's endpoint what AWS would answer
    backend().platform_endpoints[arn].attributes["CustomUserData"] = "acme/rep_a/install-0001"
    status, _ = api.put(
        "/v1/me/devices/install-0009", {"platform": "apns", "token": APNS_TOKEN}, as_="rep_x", tenant="globex"
    )
    assert status == 200
    assert device("rep_x", "install-0009", tenant="globex").endpoint_arn == arn
    assert device("rep_a", "install-0001") is None


def test_delete_device_deletes_its_endpoint_and_repeats_quietly(api):
    register(api, "install-0001")
    arn = device("rep_a", "install-0001").endpoint_arn
    assert api.delete("/v1/me/devices/install-0001") == (204, None)
    assert arn not in backend().platform_endpoints
    assert device("rep_a", "install-0001") is None
    assert api.delete("/v1/me/devices/install-0001") == (204, None)
    assert api.get("/v1/me/devices")[1] == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "path_or_body",
    [
        ("short", {"platform": "apns", "token": APNS_TOKEN}),
        ("install-0001", {"platform": "windows", "token": APNS_TOKEN}),
        ("install-0001", {"platform": "apns", "token": "has space"}),
        ("install-0001", {"platform": "apns", "token": APNS_TOKEN, "enabled": False}),
    ],
)
def test_register_bad_input_is_refused_and_writes_nothing(api, path_or_body):
    installation, body = path_or_body
    status, answer = api.put(f"/v1/me/devices/{installation}", body)
    assert status == 400, answer
    assert api.get("/v1/me/devices")[1]["items"] == []


def test_list_devices_pages_full_with_a_cursor(api):
    for n in range(5):
        register(api, f"install-000{n}", token=f"{n}" * 64)
    _, first = api.get("/v1/me/devices?limit=2")
    _, second = api.get(f"/v1/me/devices?limit=2&cursor={first['next_cursor']}")
    _, third = api.get(f"/v1/me/devices?limit=2&cursor={second['next_cursor']}")
    seen = [d["installation_id"] for page in (first, second, third) for d in page["items"]]
    assert seen == [f"install-000{n}" for n in range(5)] and third["next_cursor"] is None
    assert api.get(f"/v1/me/devices?cursor={first['next_cursor']}", as_="rep_b")[0] == 422


def test_platform_without_application_registers_but_is_skipped(api, monkeypatch, sns_calls):
    from chalicelib.config import settings

    monkeypatch.delenv("PUSH_APP_ARN_BAIDU")
    settings.cache_clear()
    body = register(api, "install-0001", platform="baidu", token="1234567890")
    assert body["enabled"] is True and device("rep_a", "install-0001").endpoint_arn is None
    assert sns_calls.calls == []
    deliver(send())
    assert "Publish" not in sns_calls.calls


# ---------------------------------------------------------------- preferences
def test_notification_settings_round_trip_and_refuse_bad_input(api):
    assert api.get("/v1/me/notification-settings")[1] == {"muted_kinds": [], "quiet_hours": None}
    body = {"muted_kinds": ["team_digest", "comment"], "quiet_hours": {"from": "22:00", "to": "07:30"}}
    status, saved = api.put("/v1/me/notification-settings", body)
    assert status == 200 and saved == {"muted_kinds": ["comment", "team_digest"], "quiet_hours": body["quiet_hours"]}
    assert api.get("/v1/me/notification-settings")[1] == saved
    for bad in (
        {"muted_kinds": ["gossip"]},
        {"muted_kinds": [], "quiet_hours": {"from": "25:00", "to": "07:00"}},
        {"muted_kinds": [], "quiet_hours": {"from": "22:00"}},
    ):
        assert api.put("/v1/me/notification-settings", bad)[0] == 400
    assert api.get("/v1/me/notification-settings")[1] == saved
    assert api.put("/v1/me/notification-settings", {"muted_kinds": []})[1] == {"muted_kinds": [], "quiet_hours": None}


# ---------------------------------------------------------------- fan-out
@pytest.fixture
def phones(api) -> dict[str, str]:
    """rep_a with an iPhone, an Android phone and a disabled third one."""
    register(api, "iphone-0001", "apns", APNS_TOKEN)
    register(api, "android-001", "fcm", FCM_TOKEN)
    register(api, "sandbox-001", "apns_sandbox", "ef" * 32)
    third = device("rep_a", "sandbox-001")
    third.update(actions=[Device.enabled.set(False)])
    return {d.installation_id: d.endpoint_arn for d in Device.query(third.PK, Device.SK.startswith(Device.SK_PREFIX))}


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_is_one_push_per_enabled_device_of_the_documented_shape(phones, kind, sns_calls, ddb_requests):
    message = send(kind)
    ddb_requests.reset()
    sns_calls.reset()
    deliver(message)
    assert ddb_requests.calls == ["Query"]
    assert sns_calls.calls == ["Publish", "Publish"]
    for installation, platform in (("iphone-0001", "apns"), ("android-001", "fcm")):
        (payload,) = published(phones[installation])
        params = next(p for p in sns_calls.params if p["TargetArn"] == phones[installation])
        check_published(platform, params)
        assert "secret body text" not in json.dumps(payload)
    assert published(phones["sandbox-001"]) == []
    apns = json.loads(published(phones["iphone-0001"])[0]["APNS"])
    assert apns["aps"]["alert"] == {"title": f"{kind} title"} and apns["aps"]["badge"] == 1
    assert apns["message_id"] == message.message_id and apns["kind"] == kind
    fcm = json.loads(published(phones["android-001"])[0]["GCM"])["fcmV1Message"]["message"]
    assert fcm["data"] == {"kind": kind, "message_id": message.message_id, "ref_type": "plan", "ref_id": "p1"}


def test_redelivered_record_publishes_with_the_same_collapse_id(phones, sns_calls):
    message = send("mention")
    deliver(message)
    deliver(message)
    ids = [
        p["MessageAttributes"]["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"]["StringValue"]
        for p in sns_calls.params
        if "APNS" in p["Message"]
    ]
    assert ids == [message.message_id, message.message_id]
    tags = [
        json.loads(json.loads(p["Message"])["GCM"])["fcmV1Message"]["message"]["android"]["notification"]["tag"]
        for p in sns_calls.params
        if "GCM" in p["Message"]
    ]
    assert tags == [message.message_id, message.message_id]


def test_badge_is_the_unread_count(phones):
    send("comment")
    second = send("comment")
    messages.mark_read("acme", "rep_a", second.message_id)
    third = send("mention")
    deliver(third)
    apns = json.loads(published(phones["iphone-0001"])[-1]["APNS"])
    assert apns["aps"]["badge"] == 2


def test_muted_kind_and_quiet_hours_push_nothing_but_reminders(api, phones, sns_calls, monkeypatch):
    api.put("/v1/me/notification-settings", {"muted_kinds": ["comment"]})
    deliver(send("comment"))
    assert "Publish" not in sns_calls.calls
    deliver(send("mention"))
    assert sns_calls.calls.count("Publish") == 2
    sns_calls.reset()
    # 22:00-07:00 Asia/Shanghai: 23:30 local is 15:30 UTC
    api.put("/v1/me/notification-settings", {"muted_kinds": [], "quiet_hours": {"from": "22:00", "to": "07:00"}})
    night = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    noon = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert fanout.fan_out(send("approval_request"), now=night) == 0
    start = (night + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert fanout.fan_out(send("plan_reminder", push_expires_at=start), now=night) == 2
    assert fanout.fan_out(send("task_reminder"), now=night) == 2
    assert fanout.fan_out(send("approval_request"), now=noon) == 2


def test_reminder_after_its_start_is_not_pushed_and_before_it_expires_at_the_start(phones, sns_calls):
    now = datetime.now(UTC)
    started = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert fanout.fan_out(send("plan_reminder", push_expires_at=started), now=now) == 0
    soon = (now + timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fanout.fan_out(send("plan_reminder", push_expires_at=soon), now=now)
    ttls = {
        int(
            p["MessageAttributes"].get("AWS.SNS.MOBILE.APNS.TTL", p["MessageAttributes"].get("AWS.SNS.MOBILE.FCM.TTL"))[
                "StringValue"
            ]
        )
        for p in sns_calls.params
    }
    assert ttls and all(295 <= t <= 300 for t in ttls)


def test_deactivated_users_devices_get_nothing_even_when_the_message_record_comes_first(api, phones, sns_calls):
    # Given rep_a deactivated, and a message created the instant after (its record may be
    # delivered before the user's own record, or the user's never)
    status, _ = api.call("POST", "/v1/admin/users/rep_a/deactivate", {"handover_to": "rep_b"}, as_="admin")
    assert status == 200
    message = send("comment")
    sns_calls.reset()
    # When only the message's record reaches the fan-out
    deliver(message)
    # Then nothing is published: the flag came with the deactivation's own transaction
    assert "Publish" not in sns_calls.calls
    status, _ = api.call("POST", "/v1/admin/users/rep_a/reactivate", {}, as_="admin")
    assert status == 200
    deliver(send("comment"))
    assert sns_calls.calls.count("Publish") == 2  # reactivated: pushed again, same way


def test_installation_switching_platform_deletes_its_old_endpoint(api, sns_calls, ddb_requests):
    register(api, "pixel-0001", "fcm", FCM_TOKEN)
    old = device("rep_a", "pixel-0001").endpoint_arn
    sns_calls.reset()
    ddb_requests.reset()
    register(api, "pixel-0001", "baidu", "baidu-channel-0001")  # the phone moves to a vendor channel
    new = device("rep_a", "pixel-0001")
    assert new.platform == "baidu" and new.endpoint_arn != old
    assert old not in backend().platform_endpoints and new.endpoint_arn in backend().platform_endpoints
    assert sns_calls.calls == ["CreatePlatformEndpoint", "GetEndpointAttributes", "DeleteEndpoint"]
    item_calls = [c for c in ddb_requests.calls if c not in ("DescribeTable",)]
    assert item_calls.count("BatchGetItem") == 2 and item_calls.count("TransactWriteItems") == 1  # + the edge's
    assert not {"PutItem", "UpdateItem", "Query"} & set(item_calls)
    sns_calls.reset()
    register(api, "pixel-0001", "baidu", "baidu-channel-0001")  # the same platform again: nothing deleted
    assert "DeleteEndpoint" not in sns_calls.calls


def test_quiet_hours_follow_the_tenants_current_zone(api, phones, sns_calls, chalice_client):
    from tests.support import Stream

    stream = Stream(chalice_client)
    api.put("/v1/me/notification-settings", {"muted_kinds": [], "quiet_hours": {"from": "22:00", "to": "07:00"}})
    at_15_30_utc = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, 16:30 in Berlin
    at_22_30_utc = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)  # 06:30 in Shanghai, 23:30 in Berlin
    assert fanout.fan_out(send("mention"), now=at_15_30_utc) == 0
    assert fanout.fan_out(send("mention"), now=at_22_30_utc) == 0
    status, _ = api.put("/v1/admin/settings", {"timezone": "Europe/Berlin"}, as_="admin")
    assert status == 200
    stream.pump()  # the settings' record moves every user's quiet hours to the new zone
    assert fanout.fan_out(send("mention"), now=at_15_30_utc) == 2
    assert fanout.fan_out(send("mention"), now=at_22_30_utc) == 0
    api.put("/v1/me/notification-settings", {"muted_kinds": []})  # no quiet hours: left the index
    api.put("/v1/admin/settings", {"timezone": "Asia/Shanghai"}, as_="admin")
    stream.pump()
    assert fanout.fan_out(send("mention"), now=at_15_30_utc) == 2


def test_disabled_or_deleted_endpoint_marks_the_device_disabled(api, phones):
    backend().platform_endpoints[phones["iphone-0001"]].attributes["Enabled"] = False
    backend().delete_endpoint(phones["android-001"])
    deliver(send("mention"))
    assert device("rep_a", "iphone-0001").enabled is False
    assert device("rep_a", "android-001").enabled is False
    listed = {d["installation_id"]: d["enabled"] for d in api.get("/v1/me/devices")[1]["items"]}
    assert listed == {"android-001": False, "iphone-0001": False, "sandbox-001": False}
    register(api, "iphone-0001", "apns", APNS_TOKEN)  # the app's next start repairs it
    assert device("rep_a", "iphone-0001").enabled is True


def test_fan_out_cost_is_one_query_whatever_the_users_inbox_holds(phones, ddb_requests, sns_calls):
    for n in range(30):
        messages.send(messages.NewMessage("acme", "rep_a", "plan_reminder", "r", dedupe_key=f"k{n}"))
    message = send("comment")
    ddb_requests.reset()
    sns_calls.reset()
    deliver(message)
    assert ddb_requests.calls == ["Query"] and sns_calls.calls == ["Publish", "Publish"]


def test_messages_reach_phones_through_the_table_stream(api, phones, chalice_client):
    from tests.support import Stream

    stream = Stream(chalice_client)
    message = send("instruction")
    stream.pump()
    assert [json.loads(p["APNS"])["message_id"] for p in published(phones["iphone-0001"])] == [message.message_id]
