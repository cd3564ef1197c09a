"""One tenant's corrupt item never stops another tenant's work: every schedule and stream
consumer skips it, logs it with its tenant and key, counts ``BadItemSkipped`` and goes on.

Each test plants an item as an older build (or a hand edit) could have stored it: a
year-1 timestamp written as ``1-01-01T00:00:00Z``, a missing attribute.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib import observability
from chalicelib.models.budgets import DUE_PK, Budget
from chalicelib.models.schedule import Plan
from chalicelib.models.signins import SignIn, Visit
from chalicelib.models.uploads import Upload
from chalicelib.services.expenses import budgets
from chalicelib.services.fieldwork import signins
from chalicelib.services.schedule import reminders
from chalicelib.timeutil import iso
from tests.fixtures.images import jpeg
from tests.support import (
    DUE,
    Stream,
    alerts_for,
    at,
    deliver,
    make_plan,
    put,
    put_budget,
    reminders_for,
    replace_projection,
    sign,
    start_upload,
    submit,
)

OTHER = "globex"
YEAR_1 = "1-01-01T00:00:00Z"  # what the old formatter wrote for 0001-01-01T00:00:00Z


@pytest.fixture
def skipped(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every ``BadItemSkipped`` count and its log line's fields."""
    seen: list[dict[str, Any]] = []
    original_count, original_warning = observability.count, observability.logger.warning

    def counting(name: str, value: float = 1) -> None:
        if name == "BadItemSkipped":
            seen.append({})
        original_count(name, value)

    def warning(msg: str, *args: Any, **kwargs: Any) -> None:
        if msg == "bad item skipped" and seen:
            seen[-1].update(kwargs.get("extra") or {})
        original_warning(msg, *args, **kwargs)

    monkeypatch.setattr(observability, "count", counting)
    monkeypatch.setattr(observability.logger, "warning", warning)
    return seen


def plant(item: Any, drop: tuple[str, ...] = ()) -> None:
    """Store an item as it is, bypassing the model's checks (as old code or a hand edit
    did), without the ``drop`` attributes."""
    item.set_keys()
    raw = {k: v for k, v in item.serialize(null_check=False).items() if k not in drop}
    boto3.client("dynamodb").put_item(TableName=os.environ["TABLE_NAME"], Item=raw)


def plant_visit(visit_id: str, **fields: Any) -> None:
    visit = Visit(
        tenant_id=OTHER,
        visit_id=visit_id,
        user_id="ghost",
        status="open",
        checkin_id="sgn_x",
        **{"started_at": YEAR_1, "close_after": "1-01-02T00:00:00Z", **fields},
    )
    plant(visit)


def test_close_open_visits_skips_a_corrupt_visit_and_closes_the_healthy_tenants(api, skipped):
    plant_visit("vis_year1")
    plant_visit("vis_nostart", started_at=None, close_after="1970-01-01T00:00:00Z")
    status, checkin = sign(api, when=datetime.now(UTC).replace(microsecond=0) - timedelta(days=3))
    assert status == 201, checkin

    closed = signins.close_open_visits()

    assert closed >= 1
    visit = Visit.get(Visit.pk("acme", checkin["visit_id"]), "VISIT")
    assert visit.status == "closed" and visit.closed_by == "system"
    bad = [s for s in skipped if s.get("consumer") == "close_open_visits"]
    assert {s["key"] for s in bad} == {"vis_year1"} and bad[0]["tenant_id"] == OTHER
    assert Visit.get(Visit.pk(OTHER, "vis_nostart"), "VISIT").status == "closed"  # readable enough to close
    assert sign(api)[0] == 201  # and the healthy user's next sign-in


def test_plan_reminders_skip_a_corrupt_plan_and_deliver_the_healthy_tenants_and_move_on(api, skipped):
    make_plan(api)
    bad = Plan(
        tenant_id=OTHER,
        plan_id="pln_year1",
        user_id="ghost",
        date="2030-01-15",
        title="corrupt",
        status="planned",
        start_time=YEAR_1,
        remind_minutes_before=30,
        remind_at=iso(DUE),
        created_at=iso(DUE),
        updated_at=iso(DUE),
    )
    plant(bad)
    reminders.run(now=at(-120))

    result = reminders.run(now=at(30))

    assert result.delivered == 1 and result.skipped == 1 and result.complete, result
    assert len(reminders_for("rep_a")) == 1
    assert [s["key"] for s in skipped if s.get("consumer") == "plan_reminders"] == ["pln_year1"]
    assert reminders.read_checkpoint() == result.until  # the run went past the bad minute


def test_stream_consumer_skips_a_corrupt_record_and_applies_the_healthy_ones(api, chalice_client, skipped):
    stream = Stream(chalice_client)
    corrupt = SignIn(
        tenant_id=OTHER,
        signin_id="sgn_year1",
        activity_id="act_year1",
        user_id="ghost",
        kind="check_in",
        lat=0.0,
        lng=0.0,
        accuracy_m=1.0,
        client_time=YEAR_1,
        server_time=YEAR_1,
    )
    plant(corrupt)
    status, healthy = sign(api)
    assert status == 201
    records = stream.read()
    assert any("sgn_year1" in str(r) for r in records)

    result = chalice_client.lambda_.invoke("table_stream", {"Records": records})

    assert result.payload == {"batchItemFailures": []}  # skipped, not retried forever
    bad = [s for s in skipped if str(s.get("consumer", "")).startswith("table_stream")]
    assert bad and bad[0]["tenant_id"] == OTHER and "sgn_year1" in bad[0]["key"]
    mine = api.get("/v1/feed?types=signin&limit=100", as_="rep_a")[1]["items"]
    assert [a["signin_id"] for a in mine] == [healthy["id"]]


def test_stream_consumer_still_retries_a_record_that_failed_for_a_transient_reason(
    api, chalice_client, monkeypatch, skipped
):
    stream = Stream(chalice_client)
    assert sign(api)[0] == 201
    records = [r for r in stream.read() if "SignIn" in str(r)]

    def down(*args: Any) -> None:
        raise ConnectionError("the table is unreachable")

    replace_projection(monkeypatch, "redrive", down)
    result = chalice_client.lambda_.invoke("table_stream", {"Records": records})

    assert len(result.payload["batchItemFailures"]) == len(records) > 0
    assert skipped == []


def test_photo_processor_skips_a_corrupt_upload_and_verifies_the_next_one(api, chalice_client, skipped):
    data = jpeg()
    bad = start_upload(api, size=len(data), as_="rep_b")
    Upload.get(Upload.pk("acme", bad["upload_id"]), "UPLOAD").update(actions=[Upload.expires_at.set(YEAR_1)])
    stored = put(bad, data)

    outcome = deliver(chalice_client, bad["fields"]["key"], stored.get("VersionId"))

    assert outcome["outcome"] == "skipped"
    assert [s["key"] for s in skipped if s.get("consumer") == "object_created"] == [bad["fields"]["key"]]
    good = start_upload(api, size=len(data))
    stored = put(good, data)
    assert deliver(chalice_client, good["fields"]["key"], stored.get("VersionId"))["outcome"] == "ready"


def test_budget_alerts_skip_a_corrupt_budget_and_alert_the_healthy_tenant(api, monkeypatch, skipped):
    corrupt = Budget(tenant_id=OTHER, unit_type="department", unit_id="ghost", period="2026-01", amount_cents=1)
    plant(corrupt, drop=("unit_type",))
    boto3.client("dynamodb").update_item(  # into the due index, as a usage change puts it
        TableName=os.environ["TABLE_NAME"],
        Key={"PK": {"S": corrupt.PK}, "SK": {"S": corrupt.SK}},
        UpdateExpression="SET GSI1PK = :pk, GSI1SK = :sk",
        ExpressionAttributeValues={":pk": {"S": DUE_PK}, ":sk": {"S": f"{OTHER}#~corrupt"}},
    )
    put_budget(api, "100.00", thresholds=[50])
    original = budgets._deliver_alert
    monkeypatch.setattr(budgets, "_deliver_alert", lambda alert: (_ for _ in ()).throw(RuntimeError("crash")))
    assert submit(api, "60.00")[0] == 200  # the alert is left to the hourly job
    monkeypatch.setattr(budgets, "_deliver_alert", original)

    budgets.run_due()

    assert len(alerts_for("mgr_east")) == 1
    bad = [s for s in skipped if s.get("consumer") == "budget_alerts"]
    assert len(bad) == 1 and bad[0]["tenant_id"] == OTHER


def test_stream_consumer_retries_a_bug_in_a_projection_and_never_skips_it(api, chalice_client, monkeypatch, skipped):
    stream = Stream(chalice_client)
    assert sign(api)[0] == 201
    records = [r for r in stream.read() if "SignIn" in str(r)]

    def bug(*args: Any) -> None:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")

    replace_projection(monkeypatch, "digest", bug)
    result = chalice_client.lambda_.invoke("table_stream", {"Records": records})

    assert len(result.payload["batchItemFailures"]) == len(records) > 0, "a bug is retried, then the DLQ"
    assert skipped == []


def test_stream_consumer_logs_counts_and_skips_an_undecodable_record(api, chalice_client, skipped):
    stream = Stream(chalice_client)
    image = {
        "entity": {"S": "User"},
        "tenant_id": {"S": OTHER},
        "PK": {"S": "T#globex#USER#ghost"},
        "SK": {"S": "PROFILE"},
        "user_id": {"S": "ghost"},
        "name": {"N": "7"},  # a number where the entity has a string: it cannot be decoded
    }
    assert sign(api)[0] == 201
    records = stream.read()
    broken = {
        **records[0],
        "eventName": "MODIFY",
        "dynamodb": {**records[0]["dynamodb"], "NewImage": image, "OldImage": image},
    }

    result = chalice_client.lambda_.invoke("table_stream", {"Records": [broken, *records]})

    assert result.payload == {"batchItemFailures": []}
    bad = [s for s in skipped if str(s.get("consumer", "")).startswith("table_stream")]
    assert bad and {s["tenant_id"] for s in bad} == {OTHER} and all("ghost" in s["key"] for s in bad)
    assert all("UndecodableItem" in s["error"] for s in bad)
