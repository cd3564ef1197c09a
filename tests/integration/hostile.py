"""Shared kit for the hostile-input, fault and event-delivery tests.

- ``world``: a module-scoped moto account with the demo org, one extra department head who
  is nobody's manager (``kam`` heads ``east_key``, rep_a's department), and one of every
  object owned by rep_a; plus factories for fresh objects, so a test that changes state
  never changes what another test reads. Building it once per module keeps hundreds of
  cells fast.
- ``DynamoHook``: every DynamoDB call of the app passes through botocore's
  ``BaseClient._make_api_call``; the hook records the writes (and the partition keys they
  touch) and fails the n-th write with the error AWS would send, after botocore's own
  retries (so PynamoDB and the services see exactly what production would).
- ``table_items`` / ``restore``: a full snapshot of the table and a way back to it.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

import pytest

from local.motoserver import drop_stream_records, forget_tracked_instances

TENANT = "acme"
PERIOD = "2026-01"  # expenses and budgets of the world live in this month
DAY = "2026-01-14"  # the world's plan, log and expense day
FEED_AT = "2024-03-03T03:03:03Z"  # the world's activity: a time no other activity uses (past: stamps ahead are 422)
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
THROTTLE = "ProvisionedThroughputExceededException"
CONFLICT = "TransactionConflictException"

# role -> (user, tenant, groups); None is "no token at all"
ROLES: dict[str, Optional[tuple[str, str, tuple[str, ...]]]] = {
    "rep_a": ("rep_a", "acme", ()),  # the owner of every object in the world
    "rep_b": ("rep_b", "acme", ()),  # peer: same manager
    "mgr_east": ("mgr_east", "acme", ()),  # manager; heads east
    "vp": ("vp", "acme", ()),  # manager's manager; heads sales
    "ceo": ("ceo", "acme", ()),  # top of the chain; heads hq
    "kam": ("kam", "acme", ()),  # heads east_key (rep_a's department), manages nobody
    "rep_c": ("rep_c", "acme", ()),  # other department
    "mgr_west": ("mgr_west", "acme", ()),  # other department's manager
    "fin": ("fin", "acme", ("finance",)),
    "admin": ("admin", "acme", ("admin",)),
    "rep_x": ("rep_x", "globex", ()),  # other tenant
    "x_admin": ("boss", "globex", ("admin", "finance")),  # other tenant, every group there
    "x_rep_a": ("rep_a", "globex", ()),  # the owner's user id, other tenant's token
    "rep_t": ("rep_t", "acme", ()),  # on the team of accounts made with team={"rep_t": ...}; nobody's report
    "ghost": ("ghost", "acme", ()),  # a valid token of a user the org does not have
    "rep_gone": ("rep_gone", "acme", ()),  # a rep of east who was deactivated (handover to rep_b)
    "anon": None,
}


# ---------------------------------------------------------------- DynamoDB hook
def _keys(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(PK, SK) of every item a write touches."""

    def pk(item: Optional[dict[str, Any]]) -> tuple[str, str]:
        item = item or {}
        return str((item.get("PK") or {}).get("S", "?")), str((item.get("SK") or {}).get("S", "?"))

    if operation == "PutItem":
        return [pk(params.get("Item"))]
    if operation in ("UpdateItem", "DeleteItem"):
        return [pk(params.get("Key"))]
    if operation == "TransactWriteItems":
        out = []
        for entry in params.get("TransactItems", []):
            for kind, op in entry.items():
                out.append(pk(op.get("Item") if kind == "Put" else op.get("Key")))
        return out
    if operation == "BatchWriteItem":
        out = []
        for requests in params.get("RequestItems", {}).values():
            for r in requests:
                out.append(pk((r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key")))
        return out
    return []


def aws_error(operation: str, code: str, params: dict[str, Any]) -> Exception:
    """The error AWS answers, as botocore raises it. A transaction meets a conflict as
    TransactionCanceledException with a TransactionConflict reason; plain writes as
    TransactionConflictException."""
    from botocore.exceptions import ClientError

    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": "injected"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    if operation == "TransactWriteItems" and code == CONFLICT:
        n = len(params.get("TransactItems", []))
        response["Error"] = {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled [TransactionConflict]",
        }
        response["CancellationReasons"] = [{"Code": "TransactionConflict", "Message": "injected"}] + [
            {"Code": "None"}
        ] * (n - 1)
    return ClientError(response, operation)


class DynamoHook:
    """Records the app's DynamoDB writes while armed; fails the n-th one if told to."""

    def __init__(self) -> None:
        self.armed = False
        self.writes: list[tuple[str, list[str]]] = []
        self.fail_nth: Optional[int] = None
        self.error: Optional[str | type[BaseException]] = None
        self.fired: list[str] = []
        self.touched: set[tuple[str, str]] = set()  # every key written, armed or not

    @contextmanager
    def arm(self, fail_nth: Optional[int] = None, error: Optional[str | type[BaseException]] = None) -> Iterator[Any]:
        self.writes, self.fired = [], []
        self.fail_nth, self.error, self.armed = fail_nth, error, True
        try:
            yield self
        finally:
            self.armed, self.fail_nth, self.error = False, None, None

    def before(self, operation: str, params: dict[str, Any]) -> None:
        if operation not in WRITES:
            return
        keys = _keys(operation, params)
        self.touched.update(keys)
        if not self.armed:
            return
        self.writes.append((operation, [pk for pk, _ in keys]))
        if self.fail_nth is not None and len(self.writes) == self.fail_nth:
            self.fired.append(operation)
            if isinstance(self.error, str):
                raise aws_error(operation, self.error, params)
            assert self.error is not None
            raise self.error(f"injected crash before {operation}")

    @property
    def written_pks(self) -> list[str]:
        return [pk for _, pks in self.writes for pk in pks]


@contextmanager
def installed_hook() -> Iterator[DynamoHook]:
    from botocore.client import BaseClient

    hook = DynamoHook()
    original = BaseClient._make_api_call

    def hooked(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            hook.before(operation_name, api_params)
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BaseClient, "_make_api_call", hooked)
        yield hook


# ---------------------------------------------------------------- table snapshots
Key = tuple[str, str]
_clients: dict[str, Any] = {}


def _ddb() -> Any:
    """One boto3 client per world (creating one costs more than a scan), without botocore's
    parameter validation: it took 4 ms of each 25-item batch write that puts a world back
    (the requests are built here, from items the table answered)."""
    if "ddb" not in _clients:
        import boto3
        from botocore.config import Config

        _clients["ddb"] = boto3.client("dynamodb", config=Config(parameter_validation=False))
    return _clients["ddb"]


def table_items() -> dict[Key, dict[str, Any]]:
    """Every item of the table as a Scan answers it (attribute values in wire form), read
    from moto's in-process table: a Scan through boto3 of a few thousand items cost a
    second, and a fault cell takes up to forty of these snapshots."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].get_table(os.environ["TABLE_NAME"])
    out: dict[Key, dict[str, Any]] = {}
    for partition in table.items.values():
        for item in partition.values():
            attrs = item.to_json()["Attributes"]
            out[(attrs["PK"]["S"], attrs["SK"]["S"])] = attrs
    return out


def scanned_items() -> dict[Key, dict[str, Any]]:
    """The same, through a consistent Scan (what table_items must equal)."""
    ddb = _ddb()
    out: dict[Key, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": os.environ["TABLE_NAME"], "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for item in page["Items"]:
            out[(item["PK"]["S"], item["SK"]["S"])] = item
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def items_at(keys: set[Key]) -> dict[Key, Optional[dict[str, Any]]]:
    """These keys' items as the table holds them now (None where there is none)."""
    ddb = _ddb()
    table = os.environ["TABLE_NAME"]
    out: dict[Key, Optional[dict[str, Any]]] = dict.fromkeys(keys)
    ordered = sorted(keys)
    for start in range(0, len(ordered), 100):
        wanted = [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in ordered[start : start + 100]]
        page = ddb.batch_get_item(RequestItems={table: {"Keys": wanted, "ConsistentRead": True}})
        assert not page.get("UnprocessedKeys"), page["UnprocessedKeys"]
        for item in page["Responses"][table]:
            out[(item["PK"]["S"], item["SK"]["S"])] = item
    return out


def put_back(items: dict[Key, Optional[dict[str, Any]]]) -> None:
    """Write these items as given (None: delete the key)."""
    ddb = _ddb()
    table = os.environ["TABLE_NAME"]
    requests = [
        {"DeleteRequest": {"Key": {"PK": {"S": k[0]}, "SK": {"S": k[1]}}}}
        if item is None
        else {"PutRequest": {"Item": item}}
        for k, item in items.items()
    ]
    for start in range(0, len(requests), 25):
        ddb.batch_write_item(RequestItems={table: requests[start : start + 25]})


def restore(snapshot: dict[Key, dict[str, Any]], touched: Optional[set[Key]] = None) -> None:
    """Put the table back exactly as it was when the snapshot was taken; with
    ``touched`` (every key written since, see DynamoHook) without reading the table."""
    if touched is None:
        now = table_items()
        gone = [k for k in now if k not in snapshot]
        back = [k for k, item in snapshot.items() if now.get(k) != item]
    else:
        gone = [k for k in touched if k not in snapshot]
        back = [k for k in touched if k in snapshot]
    put_back({**dict.fromkeys(gone), **{k: snapshot[k] for k in back}})


_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{16,}")  # ULIDs, hashes
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z")


def _shape(value: str) -> str:
    return _TS.sub("<ts>", _ID.sub("<id>", value))


def changes(before: dict[Key, dict[str, Any]], after: dict[Key, dict[str, Any]]) -> Counter:
    """What a request did to the table, with ids and times blanked: which kinds of item
    it added and removed, and for each changed item which attributes moved and by how
    much for numbers. Two runs of one request from the same state give equal answers;
    a write applied twice (or half) does not."""
    out: Counter = Counter()
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        item = new or old or {}
        entity = str((item.get("entity") or {}).get("S", "?"))
        shape = (_shape(key[0]), _shape(key[1]))
        if old is None:
            out[("added", entity, shape)] += 1
        elif new is None:
            out[("removed", entity, shape)] += 1
        else:
            moved = []
            for name in sorted(old.keys() | new.keys()):
                a, b = old.get(name), new.get(name)
                if a == b:
                    continue
                if a and b and "N" in a and "N" in b:
                    moved.append((name, float(b["N"]) - float(a["N"])))
                elif a and b and "S" in a and "S" in b and _shape(a["S"]) == _shape(b["S"]):
                    continue  # only a time or an id moved
                else:
                    moved.append((name, None))
            out[("changed", entity, shape, tuple(moved))] += 1
    return out


# ---------------------------------------------------------------- calls
@dataclass
class Call:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: Optional[bytes] = None  # sent as is (signed webhooks)
    probe: Any = None  # what a test checks afterwards (not sent)


def headers_for(role: str) -> dict[str, str]:
    from chalicelib.auth import issue_local_token

    who = ROLES[role]
    out = {"Content-Type": "application/json"}
    if who is not None:
        user, tenant, groups = who
        out["Authorization"] = f"Bearer {issue_local_token(user, tenant, list(groups))}"
    return out


def principal(role: str) -> Any:
    from chalicelib.auth import Principal

    who = ROLES[role]
    assert who is not None
    return Principal(who[0], who[1], frozenset(who[2]))


# ---------------------------------------------------------------- the world
@dataclass
class Prepared:
    """What a cell's build made: its call, the table items it wrote (as it left them) and
    the world's ids after it."""

    key: str
    call: Call
    items: dict[Key, Optional[dict[str, Any]]]
    ids: dict[str, str]


class World:
    """rep_a's objects, ids by name, and factories for fresh ones."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ids: dict[str, str] = {}
        self.hook: DynamoHook  # set by the fixture
        self.snapshot: dict[Key, dict[str, Any]] = {}
        self._prepared: Optional[Prepared] = None
        self._n = 0

    def prepared(self, key: str, build: Callable[[], Call]) -> Call:
        """The call ``build`` makes, built once for the run of cells that share ``key`` (a
        matrix row: one case, every role). The first cell builds; each next one gets the
        build's items written back as the build left them (the clean world took them away
        after the last cell), so every role acts on the same fresh objects, at the cost of
        one batch write instead of the services' whole build. Only the table is put back:
        a build's other effects (an upload's object, a message on a queue) stay."""
        done = self._prepared
        if done is not None and done.key == key:
            put_back(done.items)
            self.ids = dict(done.ids)
            return done.call
        before = set(self.hook.touched)
        call = build()
        self._prepared = Prepared(key, call, items_at(self.hook.touched - before), dict(self.ids))
        return call

    # ------------------------------------------------------------ HTTP
    def send(self, role: str, call: Call, key: Optional[str] = None) -> tuple[int, Any]:
        headers = {**headers_for(role), **call.headers}
        if key is not None:
            headers["Idempotency-Key"] = key
        if call.raw is not None:
            raw: Any = call.raw
        elif call.body is None:
            raw = None
        else:
            raw = json.dumps(call.body)
        response = getattr(self.client.http, call.method.lower())(call.path, body=raw, headers=headers)
        try:
            payload = json.loads(response.body) if response.body else None
        except ValueError:
            payload = response.body
        return response.status_code, payload

    def unique(self, prefix: str) -> str:
        """A fresh id or name (id-shaped, so table changes compare across runs)."""
        from chalicelib.ids import new_id

        return new_id(prefix.strip().lower().replace(" ", ""))

    # ------------------------------------------------------------ factories (services, not HTTP)
    def account(self, owner: str = "rep_a", team: Optional[dict[str, str]] = None) -> str:
        from chalicelib.services.crm import crm

        acc = crm.create_object(
            principal(owner),
            "account",
            {"name": self.unique("Account "), "location": {"lat": 31.2286, "lng": 121.4479}, "address": "1 Bund"},
        )
        for user, role in (team or {}).items():
            crm.put_team_member(principal(owner), acc.object_id, user, role)
        return acc.object_id

    def crm_object(self, kind: str, owner: str = "rep_a") -> str:
        from chalicelib.services.crm import crm

        fields: dict[str, Any] = {"name": self.unique(f"{kind} ")}
        if kind in ("contact", "opportunity"):
            fields["account_id"] = self.ids["account"]
        if kind == "opportunity":
            fields.update(stage="qualify", amount="1000.00")
        return crm.create_object(principal(owner), kind, fields).object_id

    def plan(self, owner: str = "rep_a", day: str = "2026-02-02") -> str:
        from chalicelib.services.schedule import schedule

        return schedule.create_plan(principal(owner), schedule.NewPlan(date_=day, title=self.unique("Plan "))).plan_id

    def expense(
        self, state: str = "draft", amount: str = "86.50", owner: str = "rep_a", day: str = f"{PERIOD}-20"
    ) -> str:
        """A fresh expense of ``owner``: draft, submitted, or approved_l1 (level 1 of 2 done)."""
        from chalicelib.services.expenses import expenses

        e = expenses.create(
            principal(owner),
            {
                "amount": amount,
                "category": "transport",
                "occurred_on": day,
                "unit": {"type": "department", "id": "east"},
                "description": self.unique("Taxi "),
            },
        )
        if state in ("submitted", "approved_l1"):
            expenses.submit(principal(owner), e.expense_id)
        if state == "approved_l1":
            expenses.approve(principal("mgr_east"), e.expense_id, "level 1")
        return e.expense_id

    def approved_expense(self) -> str:
        from chalicelib.services.expenses import expenses

        expense_id = self.expense("submitted")
        expenses.approve(principal("mgr_east"), expense_id, None)
        return expense_id

    def message(self, user: str = "rep_a") -> str:
        from chalicelib.services.inbox import messages

        sent = messages.send(messages.NewMessage(TENANT, user, "comment", self.unique("Hello "), "body"))
        assert sent is not None
        return sent.message_id

    def upload(self, purpose: str = "signin_photo", owner: str = "rep_a") -> str:
        from chalicelib.services.uploads import uploads

        return uploads.create_upload(principal(owner), purpose, "image/jpeg", 1000)["upload_id"]

    def webhook_call(self, data: dict[str, Any], type_: str = "expense.payment_updated") -> Call:
        from chalicelib.services.integrations import webhooks
        from chalicelib.services.org import org

        integration = org.get_finance_integration(TENANT)
        assert integration is not None
        webhook_id = "msg_" + self.unique("w")
        payload = json.dumps({"type": type_, "data": data})
        headers = webhooks.sign(integration.secret, webhook_id, datetime.now(UTC), payload)
        return Call("POST", f"/v1/webhooks/finance/{TENANT}", headers=dict(headers), raw=payload.encode())

    # ------------------------------------------------------------ the fixed objects
    def build(self) -> None:
        from chalicelib.services.expenses import budgets, fx
        from chalicelib.services.feed import feed
        from chalicelib.services.fieldwork import signins
        from chalicelib.services.flows import offboarding
        from chalicelib.services.inbox import messages
        from chalicelib.services.org import org
        from chalicelib.services.schedule import schedule

        # kam heads east_key, rep_a's department, and manages nobody: a department head
        # who is no manager of the owner (the demo org's heads are all managers too).
        org.put_user(TENANT, org.NewUser("kam", "Key Account Head", "sales", "vp", None, None))
        org.put_department(TENANT, "east_key", "Key accounts East", "east", "kam")
        # rep_t: finance department (no head), no manager: sees only what a team gives
        org.put_user(TENANT, org.NewUser("rep_t", "Team member", "finance", None, None, None))
        org.put_user(
            TENANT, org.NewUser("rep_a", "Zhang Min (rep)", "east_key", "mgr_east", "rep_a@acme.example", None)
        )
        org.put_user(TENANT, org.NewUser("rep_gone", "Left the company", "east", "mgr_east", None, None))
        offboarding.deactivate(principal("admin"), "rep_gone", "rep_b")
        org.put_finance_integration(TENANT, "https://finance.example.com/hook")
        fx.put_rate(TENANT, "CNY", fx.NewRate("USD", "2026-03-01", "7.1234", source="test"))
        rep_a = principal("rep_a")
        ids = self.ids
        ids["account"] = self.account()
        for kind in ("contact", "opportunity", "lead"):
            ids[kind] = self.crm_object(kind)
        # the action matrix's objects (rep_t on the account's team): each test acts on them
        # and the clean world puts them back as built, as fresh as one made for the test
        ids["acted_account"] = self.account(team={"rep_t": "follow_up"})
        for kind in ("contact", "opportunity", "lead"):
            ids[f"acted_{kind}"] = self.crm_object(kind)
        act = feed.create_activity(
            rep_a, "instruction", "world activity", [("account", ids["account"])], occurred_at=FEED_AT
        )
        ids["activity"] = act["id"]
        ids["comment"] = feed.add_comment(rep_a, ids["activity"], "first")["id"]
        ids["photo"] = self.upload("signin_photo")
        ids["receipt"] = self.upload("receipt")
        when = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
        ids["signin_day"] = when.astimezone(org.tenant_zone(TENANT)).strftime("%Y-%m-%d")  # the list's days
        signin = signins.create_signin(
            rep_a,
            signins.NewSignIn(
                kind="check_in",
                lat=31.2286,
                lng=121.4479,
                accuracy_m=10,
                client_time=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                account_id=ids["account"],
                photo_upload_ids=[ids["photo"]],
            ),
        )
        ids["signin"] = signin["id"]
        ids["plan"] = schedule.create_plan(rep_a, schedule.NewPlan(date_=DAY, title="World plan")).plan_id
        ids["log"] = schedule.create_log(
            rep_a, schedule.NewLog(date_=DAY, content="World log", plan_id=ids["plan"])
        ).log_id
        fin = principal("fin")
        budgets.put_budget(fin, budgets.NewLimit("department", "east", PERIOD, "1000000.00", "CNY", "block", [80, 100]))
        budgets.put_budget(fin, budgets.NewLimit("person", "rep_a", PERIOD, "1000000.00", "CNY", "warn", [80, 100]))
        ids["expense"] = self.expense("submitted", day=f"{PERIOD}-05")
        ids["message"] = messages.send(
            messages.NewMessage(TENANT, "rep_a", "comment", "World message", "hi")
        ).message_id  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """One moto account per test module (see the module docstring)."""
    from moto import mock_aws

    from chalicelib import aws as aws_clients
    from chalicelib.config import settings
    from local.gateway import ContractClient as Client
    from local.motoserver import speed_ups
    from tests.support import shared_loader_default_session

    _clients.clear()
    speed_ups()  # as the local stack: moto's costs follow a request's items, not the table
    with mock_aws():
        aws_clients.reset_clients()
        shared_loader_default_session()
        settings.cache_clear()
        from local.resources import create_all
        from local.seed import seed_org

        urls = create_all(os.environ["BUCKET_NAME"])
        os.environ["WEBHOOK_QUEUE_URL"] = urls["webhooks"]
        settings.cache_clear()
        seed_org()
        from app import app

        with Client(app, stage_name="test") as client, installed_hook() as hook:
            w = World(client)
            w.hook = hook
            w.build()
            w.snapshot = table_items()
            yield w
        aws_clients.reset_clients()
    _clients.clear()


@pytest.fixture
def clean_world(world: World) -> Iterator[World]:
    """The module's world, put back as built after the test: the table never grows, so
    moto's queries (which read the whole table) stay as fast as in the first test."""
    world.hook.touched.clear()
    yield world
    restore(world.snapshot, set(world.hook.touched))
    world.hook.touched.clear()
    forget_tracked_instances()  # the world lives for the module: moto's instance lists would grow
    drop_stream_records()  # and so would its stream (no test of a clean world reads it)
