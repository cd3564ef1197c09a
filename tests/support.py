"""Helpers that several test modules share: requests that make demo data through the API
(expenses, approvals, budgets, uploads, sign-ins, plans, webhooks), readers of what the
app stored, and the table stream reader (``Stream``; the ``stream`` fixture in
tests/conftest.py hands one to a test). Test modules import helpers from here, never from
another test module."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Optional

import boto3
from standardwebhooks import Webhook

from app import app as chalice_app
from chalicelib.auth import Principal
from chalicelib.aws import botocore_session as aws_botocore_session
from chalicelib.aws import client
from chalicelib.models.base import BaseItem
from chalicelib.models.digest import LastCheckIn
from chalicelib.models.feed import FeedEntry
from chalicelib.models.messages import Message, inbox_pk
from chalicelib.services.expenses import expenses
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.org import org
from chalicelib.services.platform.projections import passes
from chalicelib.timeutil import iso
from local.motoserver import drop_stream_records, forget_tracked_instances
from local.pumps import StreamReader, call_with_timeout
from local.resources import JOBS_QUEUE

REP_A = Principal("rep_a", "acme", frozenset())


def shared_loader_default_session() -> None:
    """boto3's default session, which ``mock_aws`` drops when it starts, made on the app's
    shared loader (chalicelib/aws.py): the clients the tests and the stand-in make with
    ``boto3.client`` parse no service model or endpoint rules again (a new session parsed
    them for every test: 3% of the unit and integration tests' time)."""
    boto3.setup_default_session(botocore_session=aws_botocore_session())


def put_users(tenant: str, users: Iterable[org.NewUser]) -> None:
    """Many users written one by one as an admin's PUTs write them, for the tests that
    measure a large org. moto as shipped copies the table in every transaction, its
    stream's records included, and keeps a record of every copied item: 300 users took over
    25 minutes and 12 GB of memory there. So the stream's records (which these tests do not
    read) and moto's record of its instances are dropped as they go."""
    for n, user in enumerate(users, 1):
        org.put_user(tenant, user)
        if n % 20 == 0:
            drop_stream_records()
            forget_tracked_instances()
    drop_stream_records()


# ---------------------------------------------------------------- the table stream and the feed
class Stream:
    """Reads new records from the table's stream and hands them to ``table_stream``."""

    def __init__(self, chalice_client: Any, keep_records: bool = False) -> None:
        self.client = chalice_client
        self.keep_records = keep_records
        self.jobs = JobQueue()
        ddb = boto3.client("dynamodb")
        self.reader = StreamReader(ddb.describe_table(TableName=os.environ["TABLE_NAME"])["Table"]["LatestStreamArn"])
        self.read()  # skip history: the org seed and fixtures

    def read(self) -> list[dict[str, Any]]:
        """The records written since the last read. Unless ``keep_records`` (for a re-drive
        that reads them from the shard again, as the stream DLQ's does) the shard keeps none
        of them: on moto as shipped every transaction copies every record the shard holds (a
        test's history made the copies grow with each write), and a test re-delivers the
        records it was handed, not the shard's."""
        records = self.reader.read()
        if not self.keep_records:
            drop_stream_records()
        return records

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """To ``table_stream`` in batches of 100, as the mapping does: only the records its
        filter criteria pass (generated from the projection registry, as in infra/)."""
        patterns = REGISTRY.filter_patterns()
        records = [r for r in records if passes(patterns, r)]
        for start in range(0, len(records), 100):
            result = self.client.lambda_.invoke("table_stream", {"Records": records[start : start + 100]})
            assert result.payload == {"batchItemFailures": []}, result.payload

    def pump(self) -> list[dict[str, Any]]:
        """Deliver until quiet (the handler's own writes make records too, and the org
        changes' jobs they start run to the end, as the jobs queue's worker would); answers
        the records."""
        delivered = []
        for _ in range(20):
            records = self.read()
            if not records and not self.jobs.drain():
                return delivered
            self.deliver(records)
            delivered += records
        raise AssertionError("the stream did not go quiet")


def replace_projection(monkeypatch: Any, name: str, apply: Any) -> None:
    """Run ``apply`` in place of the named projection's for this test (the stream engine
    calls each projection through the registry)."""
    projection = REGISTRY.by_name[name]
    monkeypatch.setitem(REGISTRY.by_name, name, dataclasses.replace(projection, apply=apply))


# ---------------------------------------------------------------- the jobs queue
class JobQueue:
    def __init__(self, app: Any = None) -> None:
        self.handler = (app or chalice_app).handler_map["job_worker"]
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=JOBS_QUEUE)["QueueUrl"]
        self.invocations = 0
        self.failures = 0

    def receive(self) -> Optional[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=1, AttributeNames=["All"])
        messages = got.get("Messages", [])
        return messages[0] if messages else None

    def deliver(self, message: dict[str, Any]) -> bool:
        """One invocation with one message; True when it succeeded (the message deleted),
        else the message is visible again at once (SQS would wait for its visibility)."""
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:" + JOBS_QUEUE,
                    "awsRegion": "us-east-1",
                }
            ]
        }
        self.invocations += 1
        try:
            call_with_timeout(self.handler, event, "job_worker")
        except Exception:  # noqa: BLE001 - a failed invocation: SQS redelivers the message
            self.failures += 1
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            return False
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def drain(self, limit: int = 5000) -> int:
        """Deliver until the queue is empty; answers how many invocations ran."""
        ran = 0
        while ran < limit:
            message = self.receive()
            if message is None:
                return ran
            self.deliver(message)
            ran += 1
        raise AssertionError("the jobs queue did not drain")


def read_all(api, url: str, as_: str, limit: int, between_pages=None) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        status, page = api.get(f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""), as_=as_)
        assert status == 200, page
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return pages
        if between_pages:
            between_pages()


def ids_in(api, as_: str, scene: str = "all") -> set[str]:
    status, page = api.get(f"/v1/feed?scene={scene}&limit=100", as_=as_)
    assert status == 200, page
    return {i["id"] for i in page["items"]}


def index_snapshot() -> set[tuple[str, str]]:
    return {(i.PK, i.SK) for i in BaseItem.scan() if isinstance(i, FeedEntry)}


def make_account_activity(api, owner: str = "rep_a") -> tuple[str, str]:
    status, account = api.post("/v1/accounts", {"name": f"Account of {owner}"}, as_=owner)
    assert status == 201
    status, act = api.post(
        "/v1/activities",
        {"type": "sales_record", "content": "visit", "related": [{"type": "account", "id": account["id"]}]},
        as_=owner,
    )
    assert status == 201
    return account["id"], act["id"]


# ---------------------------------------------------------------- expenses
EAST = {"type": "department", "id": "east"}


def draft(api: Any, amount: str = "100.00", as_: str = "rep_a", **extra: Any) -> dict[str, Any]:
    body = {"amount": amount, "category": "travel", "occurred_on": "2026-11-03", "unit": EAST, **extra}
    status, expense = api.post("/v1/expenses", body, as_=as_)
    assert status == 201, expense
    return expense


def submitted(api: Any, amount: str = "100.00", as_: str = "rep_a", **extra: Any) -> dict[str, Any]:
    expense = draft(api, amount, as_, **extra)
    status, expense = api.post(f"/v1/expenses/{expense['id']}/submit", as_=as_)
    assert status == 200, expense
    return expense


def messages_of(api: Any, user: str, kind: str) -> list[dict[str, Any]]:
    status, body = api.get("/v1/messages?limit=100", as_=user)
    assert status == 200
    return [m for m in body["items"] if m["kind"] == kind]


# ---------------------------------------------------------------- approvals
def queue(api: Any, user: str, limit: int = 100) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        path = f"/v1/approvals?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.get(path, as_=user)
        assert status == 200, page
        assert set(page) == {"items", "next_cursor"}
        ids += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids
        assert len(page["items"]) == limit  # every page but the last is full


def move(api: Any, user: str, name: str, dept: str, manager: str) -> None:
    body = {"name": name, "department_id": dept, "manager_id": manager}
    status, out = api.put(f"/v1/admin/users/{user}", body, as_="admin")
    assert status == 200, out


# ---------------------------------------------------------------- budgets
BUDGET_PATH = "/v1/budgets/department/east/2026-11"


def put_budget(api: Any, amount: str, mode: str = "block", thresholds: list[int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": amount, "currency": "CNY", "mode": mode}
    if thresholds is not None:
        body["thresholds"] = thresholds
    status, budget = api.put(BUDGET_PATH, body, as_="fin")
    assert status == 200, budget
    return budget


def submit(api: Any, amount: str, as_: str = "rep_a") -> tuple[int, dict[str, Any]]:
    _, e = api.post(
        "/v1/expenses", {"amount": amount, "category": "x", "occurred_on": "2026-11-09", "unit": EAST}, as_=as_
    )
    return api.post(f"/v1/expenses/{e['id']}/submit", as_=as_)


def alerts_for(user: str) -> list[Message]:
    return [m for m in Message.query(inbox_pk("acme", user), Message.SK.startswith("MSG#")) if m.kind == "budget_alert"]


# ---------------------------------------------------------------- finance webhooks


MANAGER = Principal("mgr_east", "acme", frozenset())


def approved_expense(amount: str = "100.00") -> str:
    e = expenses.create(
        REP_A,
        {
            "amount": amount,
            "category": "travel",
            "occurred_on": "2026-11-03",
            "unit": {"type": "department", "id": "east"},
        },
    )
    expenses.submit(REP_A, e.expense_id)
    expenses.approve(MANAGER, e.expense_id, None)
    return e.expense_id


def signed(
    secret: str, body: dict[str, Any], webhook_id: str = "wh_1", at: datetime | None = None
) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    at = at or datetime.now(UTC)
    return raw, {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, raw.decode()),
    }


def post_webhook(api: Any, raw: bytes, headers: dict[str, str], tenant: str = "acme") -> tuple[int, Any]:
    return api.call("POST", f"/v1/webhooks/finance/{tenant}", raw, as_=None, headers=headers)


def paid_event(expense_id: str) -> dict[str, Any]:
    return {"type": "expense.payment_updated", "data": {"expense_id": expense_id, "status": "paid", "reference": "R-1"}}


# ---------------------------------------------------------------- uploads
BUCKET = os.environ["BUCKET_NAME"]


def start_upload(
    api: Any, content_type: str = "image/jpeg", size: int = 1000, purpose: str = "signin_photo", as_: str = "rep_a"
) -> dict[str, Any]:
    status, body = api.post(
        "/v1/uploads", {"purpose": purpose, "content_type": content_type, "size_bytes": size}, as_=as_
    )
    assert status == 201, body
    return body


def put(body: dict[str, Any], data: bytes, content_type: str | None = None) -> dict[str, Any]:
    """What the phone's multipart POST would store (moto ignores the policy anyway)."""
    return client("s3").put_object(
        Bucket=BUCKET, Key=body["fields"]["key"], Body=data, ContentType=content_type or body["fields"]["Content-Type"]
    )


def deliver(chalice_client: Any, key: str, version_id: str | None = None, size: int = 0) -> dict[str, Any]:
    detail = {
        "version": "0",
        "bucket": {"name": BUCKET},
        "object": {"key": key, "size": size, **({"version-id": version_id} if version_id else {})},
        "reason": "PostObject",
    }
    event = chalice_client.events.generate_cw_event("aws.s3", "Object Created", detail, [f"arn:aws:s3:::{BUCKET}"])
    return chalice_client.lambda_.invoke("object_created", event).payload


def upload_file(
    api: Any,
    chalice_client: Any,
    data: bytes,
    content_type: str = "image/jpeg",
    declared: str | None = None,
    as_: str = "rep_a",
    purpose: str = "signin_photo",
) -> dict[str, Any]:
    body = start_upload(api, declared or content_type, max(len(data), 1), purpose, as_)
    stored = put(body, data, content_type)
    body["outcome"] = deliver(chalice_client, body["fields"]["key"], stored.get("VersionId"), len(data))
    return body


def thumbnails() -> list[str]:
    listing = client("s3").list_objects_v2(Bucket=BUCKET, Prefix="thumbnails/")
    return [o["Key"] for o in listing.get("Contents", [])]


# ---------------------------------------------------------------- sign-ins
SHANGHAI = (31.2304, 121.4737)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def ts(dt: datetime) -> str:
    return iso(dt)


def sign(
    api: Any,
    kind: str = "check_in",
    where: tuple[float, float] = SHANGHAI,
    accuracy: float = 20,
    when: datetime | None = None,
    as_: str = "rep_a",
    headers: dict | None = None,
    **extra: Any,
):
    body = {
        "kind": kind,
        "location": {"lat": where[0], "lng": where[1], "accuracy_m": accuracy},
        "client_time": ts(when or now()),
        **extra,
    }
    return api.post("/v1/signins", body, as_=as_, headers=headers)


# ---------------------------------------------------------------- the team's day
def today_local() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()  # Asia/Shanghai


def day_of(api: Any, as_: str, date: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        path = f"/v1/team/day?date={date or today_local()}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.get(path, as_=as_)
        assert status == 200, page
        rows += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows
        assert len(page["items"]) == limit


# ---------------------------------------------------------------- plan reminders
# 2030-01-15 09:30 in Asia/Shanghai is 01:30 UTC; 30 minutes before is 01:00 UTC.
START_LOCAL = "2030-01-15T09:30:00+08:00"


DUE = datetime(2030, 1, 15, 1, 0, tzinfo=UTC)


def at(delta_s: float) -> datetime:
    return DUE + timedelta(seconds=delta_s)


def reminders_for(user: str, tenant: str = "acme") -> list[Message]:
    return [
        m for m in Message.query(inbox_pk(tenant, user), Message.SK.startswith("MSG#")) if m.kind == "plan_reminder"
    ]


def make_plan(api, start=START_LOCAL, remind=30, as_="rep_a", **extra) -> dict:
    status, body = api.post(
        "/v1/plans",
        {"title": "Visit Hangzhou client", "start_time": start, "remind_minutes_before": remind, **extra},
        as_=as_,
    )
    assert status == 201, body
    return body


# ---------------------------------------------------------------- goals, pipeline statistics, delegation
DEMO_ZONE = "Asia/Shanghai"  # the demo tenant's zone: local midnight is 16:00Z the day before


def period_now() -> str:
    return datetime.now(UTC).astimezone(org.tenant_zone("acme")).strftime("%Y-%m")


def goal(api, scope="user/rep_a", as_="mgr_east", period=None):
    return api.get(f"/v1/goals/{scope}/{period or period_now()}", as_=as_)


def opp(api, stage, amount, as_="rep_a", currency=None):
    _, acc = api.post("/v1/accounts", {"name": "A"}, as_=as_)
    body = {"name": "D", "account_id": acc["id"], "stage": stage, "amount": amount}
    if currency:
        body["currency"] = currency
    status, out = api.post("/v1/opportunities", body, as_=as_)
    assert status == 201, out
    return out["id"]


def stats(api, as_="rep_a", **q):
    query = "&".join(f"{k}={v}" for k, v in q.items())
    status, out = api.get(f"/v1/opportunity-stats?{query}", as_=as_)
    assert status == 200, out
    return out


def today() -> date:
    return datetime.now(UTC).astimezone(org.zone_named(DEMO_ZONE)).date()


def delegate(api: Any, user: str, to_user: str, start: date, end: date) -> tuple[int, Any]:
    body = {"delegate_id": to_user, "from": start.isoformat(), "to": end.isoformat()}
    return api.put("/v1/me/delegate", body, as_=user)


def ok_delegate(api: Any, user: str, to_user: str, start: date, end: date) -> dict[str, Any]:
    status, out = delegate(api, user, to_user, start, end)
    assert status == 200, out
    return out["delegation"]


def approve(api: Any, expense_id: str, user: str) -> tuple[int, Any]:
    return api.post(f"/v1/expenses/{expense_id}/approve", {}, as_=user)


# ---------------------------------------------------------------- the digest, activities, mentions
def stored_messages_of(user: str, kind: str) -> list[Message]:
    """The user's messages of a kind, read from the table (no API call)."""
    return [m for m in Message.scan() if isinstance(m, Message) and m.user_id == user and m.kind == kind]


def plant_checkin(user: str, day: str, tenant: str = "acme") -> None:
    LastCheckIn(tenant_id=tenant, user_id=user, day=day).save()


def account(api, as_="rep_a"):
    status, out = api.post("/v1/accounts", {"name": "Shop"}, as_=as_)
    assert status == 201
    return out["id"]


def activity(api, acc, as_="rep_a", **extra):
    body = {"type": "sales_record", "content": "visit", "related": [{"type": "account", "id": acc}], **extra}
    return api.post("/v1/activities", body, as_=as_)


def mention_messages(api, user):
    status, page = api.get("/v1/messages?limit=100", as_=user)
    assert status == 200
    return [m for m in page["items"] if m["kind"] == "mention"]


# One attribute of each DynamoDB type, nested ones and empty ones included, for the tests of
# what the moto stand-in answers (tests/unit/test_moto_speedups.py, test_moto_in_process.py).
EVERY_ATTRIBUTE_TYPE = {
    "s": {"S": "naïve 名字"},
    "n": {"N": "-12.50"},
    "b": {"B": b"\x00\xffbytes"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
    "l": {"L": []},
    "t": {"BOOL": True},
}
