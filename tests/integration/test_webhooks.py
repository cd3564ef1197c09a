"""Finance webhooks: the inbound rejection matrix (401 and zero writes), exactly-once
effects under ten concurrent duplicates, and outbound delivery with retries, backoff,
410 and the dead-letter queue, against the local finance simulator on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from chalicelib.handlers import webhooks as webhook_handlers
from chalicelib.services.expenses import expenses
from chalicelib.services.inbox import messages
from chalicelib.services.integrations import webhooks
from chalicelib.services.org import org
from local.finance_sim import FinanceSim
from tests.support import MANAGER, approved_expense, paid_event, post_webhook, signed
from tests.support import REP_A as REP

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def inbox(user: str, kind: str) -> list[Any]:
    from chalicelib.models.messages import Message, inbox_pk

    return [m for m in Message.query(inbox_pk("acme", user), Message.SK.startswith("MSG#")) if m.kind == kind]


# ---------------------------------------------------------------- inbound
def _tamper(case: str, secret: str, expense_id: str) -> tuple[bytes, dict[str, str]]:
    body = paid_event(expense_id)
    now = datetime.now(UTC)
    if case == "wrong_secret":
        return signed("whsec_" + "QUJD" * 8, body)
    raw, headers = signed(secret, body, at=now - timedelta(seconds=301) if case == "old_301s" else None)
    if case == "future_301s":
        raw, headers = signed(secret, body, at=now + timedelta(seconds=301))
    elif case == "bad_signature":
        headers["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    elif case == "garbage_signature":
        headers["webhook-signature"] = "nonsense"
    elif case == "one_byte_changed":
        raw = raw.replace(b'"paid"', b'"pai\x64"', 1).replace(b"R-1", b"R-2", 1)
    elif case == "id_changed":
        headers["webhook-id"] = "wh_2"
    elif case.startswith("missing_"):
        headers.pop(case.removeprefix("missing_").replace("_", "-"))
    elif case == "non_numeric_timestamp":
        headers["webhook-timestamp"] = "soon"
    return raw, headers


CASES = [
    "wrong_secret",
    "old_301s",
    "future_301s",
    "bad_signature",
    "garbage_signature",
    "one_byte_changed",
    "id_changed",
    "missing_webhook_id",
    "missing_webhook_timestamp",
    "missing_webhook_signature",
    "non_numeric_timestamp",
]


@pytest.mark.parametrize("case", CASES)
def test_inbound_webhook_with_bad_signature_or_time_is_401_and_writes_nothing(api, secret, ddb_requests, case):
    expense_id = approved_expense()
    raw, headers = _tamper(case, secret, expense_id)
    ddb_requests.reset()
    status, body = post_webhook(api, raw, headers)
    assert status == 401, body
    assert body["error"]["code"] == "invalid_signature"
    assert not WRITES & set(ddb_requests.calls), ddb_requests.calls
    assert expenses.load("acme", expense_id).payment_status == "unpaid"


def test_inbound_webhook_for_tenant_without_integration_is_401(api, secret):
    raw, headers = signed(secret, paid_event("exp_x"))
    assert post_webhook(api, raw, headers, tenant="globex")[0] == 401
    assert post_webhook(api, raw, headers, tenant="nobody")[0] == 401


def test_inbound_webhook_within_tolerance_is_accepted(api, secret):
    expense_id = approved_expense()
    raw, headers = signed(secret, paid_event(expense_id), at=datetime.now(UTC) - timedelta(seconds=290))
    assert post_webhook(api, raw, headers)[0] == 200


def test_payment_updated_sets_payment_status_and_notifies_submitter_once(api, secret):
    expense_id = approved_expense()
    raw, headers = signed(secret, paid_event(expense_id), "wh_pay")
    status, body = post_webhook(api, raw, headers)
    assert status == 200 and body == {"webhook_id": "wh_pay", "status": "applied"}
    status, again = post_webhook(api, raw, headers)
    assert status == 200 and again["status"] == "duplicate"
    _, expense = api.get(f"/v1/expenses/{expense_id}")
    assert expense["payment_status"] == "paid" and expense["status"] == "approved"
    assert len(inbox("rep_a", "expense_paid")) == 1


def test_payment_updated_failed_status_is_recorded(api, secret):
    expense_id = approved_expense()
    body = {"type": "expense.payment_updated", "data": {"expense_id": expense_id, "status": "failed"}}
    raw, headers = signed(secret, body, "wh_fail")
    assert post_webhook(api, raw, headers)[0] == 200
    assert expenses.load("acme", expense_id).payment_status == "failed"


def test_payment_updated_for_unapproved_expense_is_409_and_a_retry_can_apply_later(api, secret):
    e = expenses.create(
        REP, {"amount": "5.00", "category": "x", "occurred_on": "2026-11-03", "unit": {"type": "person", "id": "rep_a"}}
    )
    raw, headers = signed(secret, paid_event(e.expense_id), "wh_early")
    assert post_webhook(api, raw, headers)[0] == 409
    assert not webhooks.already_received("acme", "wh_early")
    expenses.submit(REP, e.expense_id)
    expenses.approve(MANAGER, e.expense_id, None)
    raw, headers = signed(secret, paid_event(e.expense_id), "wh_early")
    assert post_webhook(api, raw, headers)[0] == 200


@pytest.mark.parametrize(
    "body,status",
    [
        ({"type": "expense.payment_updated", "data": {"expense_id": "exp_nope", "status": "paid"}}, 422),
        ({"type": "expense.payment_updated", "data": {"expense_id": "x", "status": "lost"}}, 422),
        ({"type": "expense.payment_updated", "data": {"status": "paid"}}, 400),
        ({"type": "party.started", "data": {}}, 422),
        ({"data": {}}, 400),
    ],
)
def test_signed_but_invalid_event_is_4xx_and_not_recorded(api, secret, body, status):
    raw, headers = signed(secret, body, "wh_bad")
    assert post_webhook(api, raw, headers)[0] == status
    assert not webhooks.already_received("acme", "wh_bad")


def test_same_webhook_id_ten_times_at_once_applies_once_and_answers_2xx(api, secret, atomic_moto):
    expense_id = approved_expense()
    raw, headers = signed(secret, paid_event(expense_id), "wh_burst")
    results: list[Any] = []
    barrier = threading.Barrier(10)

    def deliver() -> None:
        barrier.wait()
        try:
            results.append(webhook_handlers.receive_finance("acme", raw, headers)["status"])
        except Exception as exc:  # noqa: BLE001 - any error fails the assertion below
            results.append(repr(exc))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["applied"] + ["duplicate"] * 9
    assert len(inbox("rep_a", "expense_paid")) == 1
    assert int(expenses.load("acme", expense_id).version) == 4  # created 1, submit 2, approve 3, paid 4


def test_budget_updated_creates_budget_once_keeping_usage(api, secret):
    e = expenses.create(
        REP,
        {
            "amount": "300.00",
            "category": "x",
            "occurred_on": "2026-11-03",
            "unit": {"type": "department", "id": "east"},
        },
    )
    expenses.submit(REP, e.expense_id)
    event = {
        "type": "budget.updated",
        "data": {
            "unit_type": "department",
            "unit_id": "east",
            "period": "2026-11",
            "amount": "1000.00",
            "currency": "CNY",
        },
    }
    raw, headers = signed(secret, event, "wh_budget")
    assert post_webhook(api, raw, headers) == (200, {"webhook_id": "wh_budget", "status": "applied"})
    assert post_webhook(api, raw, headers)[1]["status"] == "duplicate"
    status, budget = api.get("/v1/budgets/department/east/2026-11", as_="fin")
    assert status == 200
    assert (budget["amount"], budget["reserved"], budget["remaining"], budget["mode"]) == (
        "1000.00",
        "300.00",
        "700.00",
        "block",
    )


def test_budget_updated_lowering_the_amount_fires_crossed_thresholds_once(api, secret):
    api.put(
        "/v1/budgets/department/east/2026-11",
        {"amount": "1000.00", "currency": "CNY", "mode": "warn", "thresholds": [80]},
        as_="fin",
    )
    e = expenses.create(
        REP,
        {
            "amount": "500.00",
            "category": "x",
            "occurred_on": "2026-11-03",
            "unit": {"type": "department", "id": "east"},
        },
    )
    expenses.submit(REP, e.expense_id)
    assert inbox("mgr_east", "budget_alert") == []
    event = {
        "type": "budget.updated",
        "data": {
            "unit_type": "department",
            "unit_id": "east",
            "period": "2026-11",
            "amount": "600.00",
            "currency": "CNY",
        },
    }
    for webhook_id in ("wh_low_1", "wh_low_2"):
        raw, headers = signed(secret, event, webhook_id)
        assert post_webhook(api, raw, headers)[0] == 200
    assert len(inbox("mgr_east", "budget_alert")) == 1
    _, budget = api.get("/v1/budgets/department/east/2026-11", as_="fin")
    assert [a["threshold"] for a in budget["alerts"]] == [80] and budget["mode"] == "warn"


# ---------------------------------------------------------------- outbound
@pytest.fixture
def sim(api: Any) -> Any:
    with FinanceSim(secret_for=lambda t: org.get_finance_integration(t).secret) as simulator:
        org.put_finance_integration("acme", simulator.url)
        yield simulator


def pump(chalice_client: Any, urls: dict[str, str], queue: str = "webhooks") -> list[dict[str, Any]]:
    """Hand every visible message to webhook_deliveries as Lambda would; delete on success."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    outcomes = []
    got = sqs.receive_message(QueueUrl=urls[queue], MaxNumberOfMessages=1, AttributeNames=["All"])
    for m in got.get("Messages", []):
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fieldsales-webhooks",
                    "awsRegion": "us-east-1",
                }
            ]
        }
        try:
            chalice_client.lambda_.invoke("webhook_deliveries", event)
            sqs.delete_message(QueueUrl=urls[queue], ReceiptHandle=m["ReceiptHandle"])
            outcomes.append({"ok": True, "attempt": int(m["Attributes"]["ApproximateReceiveCount"])})
        except webhooks.RetryLater as retry:
            outcomes.append({"ok": False, "delay": retry.delay_s})
    return outcomes


def queue_depth(urls: dict[str, str], queue: str) -> int:
    import boto3

    attrs = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=urls[queue], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_approval_delivers_signed_expense_approved_webhook(sim, chalice_client, aws):
    expense_id = approved_expense()
    assert pump(chalice_client, aws) == [{"ok": True, "attempt": 1}]
    [delivery] = sim.received("expense.approved")
    assert delivery["verified"] and delivery["data"]["id"] == expense_id
    assert delivery["data"]["status"] == "approved" and delivery["data"]["amount"] == "100.00"
    record = webhooks.delivery_record("acme", delivery["webhook_id"])
    assert record.outcome == "delivered" and int(record.attempts) == 1
    assert queue_depth(aws, "webhooks") == 0


def test_failed_delivery_retries_with_backoff_and_the_same_webhook_id(sim, chalice_client, aws, monkeypatch):
    delays: list[int] = []
    monkeypatch.setattr(webhooks, "delay_retry", lambda handle, delay: delays.append(delay))
    monkeypatch.setenv("WEBHOOK_BACKOFF_BASE_S", "30")
    sim.answer_next(500, 503)
    approved_expense()
    outcomes = []
    for _ in range(3):
        outcomes += pump(chalice_client, aws)
        _make_visible(aws)
    assert [o["ok"] for o in outcomes] == [False, False, True]
    assert delays == [60, 120]  # base * 2**attempt
    attempts = sim.received("expense.approved")
    assert len(attempts) == 3
    assert len({a["webhook_id"] for a in attempts}) == 1
    assert len({json.dumps(a["data"], sort_keys=True) for a in attempts}) == 1


def _make_visible(urls: dict[str, str]) -> None:
    """The test's stand-in for waiting out the backoff: a visibility of 0 for all in flight."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    from moto.backends import get_backend

    queue = get_backend("sqs")["123456789012"]["us-east-1"].queues["fieldsales-webhooks"]
    for message in queue._messages:
        message.change_visibility(0)
    del sqs


def test_delivery_answered_410_stops_retrying_and_is_recorded(sim, chalice_client, aws):
    sim.answer_next(410)
    approved_expense()
    assert pump(chalice_client, aws) == [{"ok": True, "attempt": 1}]
    _make_visible(aws)
    assert pump(chalice_client, aws) == []
    [attempt] = sim.received("expense.approved")
    assert webhooks.delivery_record("acme", attempt["webhook_id"]).outcome == "gone"


def test_delivery_failing_every_time_goes_to_the_dlq_after_8_attempts(sim, chalice_client, aws, monkeypatch):
    monkeypatch.setenv("WEBHOOK_BACKOFF_BASE_S", "0")
    sim.answer_next(*([500] * 20))
    approved_expense()
    for _ in range(12):
        pump(chalice_client, aws)
        _make_visible(aws)
    attempts = sim.received("expense.approved")
    assert len(attempts) == 8 and len({a["webhook_id"] for a in attempts}) == 1
    assert queue_depth(aws, "webhooks") == 0 and queue_depth(aws, "webhooks_dlq") == 1
    assert webhooks.delivery_record("acme", attempts[0]["webhook_id"]).outcome == "dead"


def test_delivery_to_private_target_in_deployed_stage_is_refused_without_a_call(sim, chalice_client, aws, monkeypatch):
    from dataclasses import replace

    from chalicelib import config

    deployed = replace(config.settings(), stage="prod", allow_private_webhook_targets=False)
    monkeypatch.setattr(webhooks, "settings", lambda: deployed)
    approved_expense()
    assert pump(chalice_client, aws) == [{"ok": True, "attempt": 1}]
    assert sim.received(verified_only=False) == []
    [record] = [r for r in _delivery_records() if r.type == "expense.approved"]
    assert record.outcome == "refused"


def _delivery_records() -> list[Any]:
    from chalicelib.models.webhooks import DeliveryRecord

    return list(DeliveryRecord.scan(DeliveryRecord.entity == DeliveryRecord))  # test-only inspection


def test_budget_threshold_crossing_sends_budget_webhook_and_event(sim, chalice_client, aws, api):
    api.put(
        "/v1/budgets/department/east/2026-11",
        {"amount": "100.00", "currency": "CNY", "mode": "warn", "thresholds": [50]},
        as_="fin",
    )
    e = expenses.create(
        REP,
        {"amount": "60.00", "category": "x", "occurred_on": "2026-11-03", "unit": {"type": "department", "id": "east"}},
    )
    expenses.submit(REP, e.expense_id)
    pump(chalice_client, aws)
    [delivery] = sim.received("budget.threshold_crossed")
    assert delivery["data"]["threshold"] == 50 and delivery["data"]["usage"] == "60.00"


def test_outbox_entry_left_by_a_crash_is_queued_by_the_hourly_job(sim, chalice_client, aws, monkeypatch):
    monkeypatch.setattr(webhooks, "flush", lambda entry: None)  # the request dies after its commit
    approved_expense()
    monkeypatch.undo()
    assert pump(chalice_client, aws) == []
    assert webhooks.sweep_outbox(older_than_s=-60) == 1
    assert webhooks.sweep_outbox(older_than_s=-60) == 0

    assert pump(chalice_client, aws) == [{"ok": True, "attempt": 1}]
    assert len(sim.received("expense.approved")) == 1


def test_messages_are_not_sent_twice_for_a_replayed_alert(api):
    assert messages.send(messages.NewMessage("acme", "rep_a", "budget_alert", "t", dedupe_key="k")) is not None
    assert messages.send(messages.NewMessage("acme", "rep_a", "budget_alert", "t", dedupe_key="k")) is None


# ---------------------------------------------------------------- inbound: hostile deliveries
def test_inbound_body_over_256_kib_is_413_before_any_verification_or_read(api, secret, ddb_requests):
    body = {"type": "expense.payment_updated", "data": {"expense_id": "exp_x", "status": "paid", "pad": "x" * 262144}}
    raw, headers = signed(secret, body, "wh_big")
    ddb_requests.reset()
    status, answer = post_webhook(api, raw, headers)
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    assert ddb_requests.calls == []  # not even the tenant's secret was read


def test_replayed_webhook_id_with_another_event_is_422_and_applies_and_notifies_nothing(api, secret):
    first, second = approved_expense(), approved_expense("20.00")
    raw, headers = signed(secret, paid_event(first), "wh_reused")
    assert post_webhook(api, raw, headers)[1]["status"] == "applied"
    raw, headers = signed(secret, paid_event(second), "wh_reused")
    status, answer = post_webhook(api, raw, headers)
    assert status == 422 and answer["error"]["code"] == "webhook_id_reused"
    assert expenses.load("acme", second).payment_status == "unpaid"
    assert len(inbox("rep_a", "expense_paid")) == 1  # only the first expense's message
    # a true retry (same event, new timestamp and spacing) is still acknowledged
    retry = json.dumps(paid_event(first), indent=2).encode()
    at = datetime.now(UTC) + timedelta(seconds=5)
    headers = {
        "webhook-id": "wh_reused",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign("wh_reused", at, retry.decode()),
    }
    assert post_webhook(api, retry, headers) == (200, {"webhook_id": "wh_reused", "status": "duplicate"})


def test_replayed_budget_webhook_id_with_another_amount_is_422_and_the_budget_keeps_the_first(api, secret):
    event = {
        "type": "budget.updated",
        "data": {
            "unit_type": "department",
            "unit_id": "east",
            "period": "2026-11",
            "amount": "500.00",
            "currency": "CNY",
        },
    }
    raw, headers = signed(secret, event, "wh_b")
    assert post_webhook(api, raw, headers)[0] == 200
    event["data"]["amount"] = "900000.00"
    raw, headers = signed(secret, event, "wh_b")
    assert post_webhook(api, raw, headers)[1]["error"]["code"] == "webhook_id_reused"
    assert api.get("/v1/budgets/department/east/2026-11", as_="fin")[1]["amount"] == "500.00"


def test_budget_updated_switching_currency_under_reservations_is_422_and_changes_nothing(api, secret):
    api.put("/v1/budgets/department/east/2026-11", {"amount": "1000.00", "currency": "CNY", "mode": "block"}, as_="fin")
    e = expenses.create(
        REP,
        {"amount": "40.00", "category": "x", "occurred_on": "2026-11-03", "unit": {"type": "department", "id": "east"}},
    )
    expenses.submit(REP, e.expense_id)  # 40.00 CNY reserved
    before = api.get("/v1/budgets/department/east/2026-11", as_="fin")[1]
    event = {
        "type": "budget.updated",
        "data": {
            "unit_type": "department",
            "unit_id": "east",
            "period": "2026-11",
            "amount": "800.00",
            "currency": "USD",
        },
    }
    raw, headers = signed(secret, event, "wh_usd")
    status, answer = post_webhook(api, raw, headers)
    assert status == 422 and answer["error"]["code"] == "currency_change_refused"
    assert api.get("/v1/budgets/department/east/2026-11", as_="fin")[1] == before
    assert not webhooks.already_received("acme", "wh_usd")
    body = {"amount": "800.00", "currency": "USD", "mode": "block"}  # the admin route: the same rule
    assert (
        api.put("/v1/budgets/department/east/2026-11", body, as_="fin")[1]["error"]["code"] == "currency_change_refused"
    )
    event["data"]["currency"] = "CNY"  # the same currency is a normal update
    raw, headers = signed(secret, event, "wh_cny")
    assert post_webhook(api, raw, headers)[1]["status"] == "applied"


def test_signed_body_nested_too_deep_to_parse_is_400_not_a_signature_failure(api, secret):
    raw = b'{"type": "budget.updated", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    at = datetime.now(UTC)
    headers = {
        "webhook-id": "wh_deep",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign("wh_deep", at, raw.decode()),
    }
    status, body = post_webhook(api, raw, headers)
    assert status == 400 and body["error"]["code"] == "too_deeply_nested"
    assert not webhooks.already_received("acme", "wh_deep")


def test_every_inbound_event_type_has_a_service_applying_it():
    assert set(webhook_handlers.APPLY) == set(webhooks.EVENT_MODELS)


def _stamped(expense_id: str, status: str, at: datetime) -> dict[str, Any]:
    data = {"expense_id": expense_id, "status": status, "reference": f"R-{status}"}
    return {"type": "expense.payment_updated", "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}


def test_a_payment_event_older_than_the_one_applied_is_stale_and_changes_nothing(api, secret):
    # red-team pass (issue 24): the finance system's "paid" arrives, then an older "failed"
    # delivered out of order (a retry) under its own webhook-id; it turned the paid expense
    # into failed and told the submitter so. Latest wins by the event's own time.
    expense_id = approved_expense()
    now = datetime.now(UTC)
    raw, headers = signed(secret, _stamped(expense_id, "paid", now), "wh_new")
    assert post_webhook(api, raw, headers)[1]["status"] == "applied"
    raw, headers = signed(secret, _stamped(expense_id, "failed", now - timedelta(seconds=120)), "wh_old")
    status, body = post_webhook(api, raw, headers)
    assert status == 200 and body == {"webhook_id": "wh_old", "status": "stale"}
    assert post_webhook(api, raw, headers)[1]["status"] == "duplicate"  # its retry: applied once
    _, expense = api.get(f"/v1/expenses/{expense_id}")
    assert expense["payment_status"] == "paid" and expense["payment_reference"] == "R-paid"
    assert [m.title for m in inbox("rep_a", "expense_paid")] == [inbox("rep_a", "expense_paid")[0].title]
    raw, headers = signed(secret, _stamped(expense_id, "failed", now + timedelta(seconds=1)), "wh_newer")
    assert post_webhook(api, raw, headers)[1]["status"] == "applied"  # a later event still applies
    assert api.get(f"/v1/expenses/{expense_id}")[1]["payment_status"] == "failed"


def test_a_budget_update_older_than_the_one_applied_is_stale_and_the_budget_keeps_the_newer(api, secret):
    now = datetime.now(UTC)

    def update(amount: str, at: datetime) -> dict[str, Any]:
        data = {"unit_type": "person", "unit_id": "rep_c", "period": "2026-12", "amount": amount, "currency": "CNY"}
        return {"type": "budget.updated", "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}

    raw, headers = signed(secret, update("900.00", now), "wh_budget_new")
    assert post_webhook(api, raw, headers)[1]["status"] == "applied"
    raw, headers = signed(secret, update("100.00", now - timedelta(seconds=120)), "wh_budget_old")
    status, body = post_webhook(api, raw, headers)
    assert status == 200 and body["status"] == "stale"
    assert api.get("/v1/budgets/person/rep_c/2026-12", as_="fin")[1]["amount"] == "900.00"
    raw, headers = signed(secret, update("300.00", now + timedelta(seconds=1)), "wh_budget_newer")
    assert post_webhook(api, raw, headers)[1]["status"] == "applied"
    assert api.get("/v1/budgets/person/rep_c/2026-12", as_="fin")[1]["amount"] == "300.00"
