"""A bounded red-team pass over real HTTP against a local stack (loopback only): hostile
requests as a hostile user would send them, and the invariants every answer must keep.

``run(stack)`` sends every probe once (well under 1,500 requests) and returns the results;
``violations(results)`` lists what broke an invariant:
- never a 5xx; every error in the contract's shape with a request id;
- ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store`` on every answer;
- no credential (the caller's token, the webhook signature) echoed in a body or header;
- the status a probe expects, where it names one.
Probes tagged with ``scope`` other than "edge" belong to fixes made elsewhere (issue 12's
time/JSON-depth items); their 5xx are reported separately by the test.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Optional
from urllib.parse import urlsplit

import jwt
from standardwebhooks import Webhook

from chalicelib.auth import LOCAL_AUDIENCE, LOCAL_ISSUER

MAX_REQUESTS = 1500
SECURITY = {"x-content-type-options": "nosniff", "cache-control": "no-store"}


@dataclass
class Probe:
    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Optional[bytes] = None
    expect: tuple[int, ...] = ()  # empty: any 4xx/2xx is fine
    scope: str = "edge"
    secrets: tuple[str, ...] = ()  # must not come back


@dataclass
class Result:
    probe: Probe
    status: int
    headers: dict[str, str]
    body: bytes


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def forged_tokens(stack: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "rep_a", "tenant_id": "acme", "iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "iat": now}
    good = stack.token("rep_a")
    head, payload, sig = good.split(".")
    return {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**claims, 'exp': now + 600})}.",
        "alg_none_upper": f"{_b64({'alg': 'NONE'})}.{_b64({**claims, 'exp': now + 600})}.",
        "wrong_secret": jwt.encode({**claims, "exp": now + 600}, "x" * 40, algorithm="HS256"),
        "expired": jwt.encode({**claims, "exp": now - 3600}, stack.secret, algorithm="HS256"),
        "future_nbf": jwt.encode({**claims, "exp": now + 900, "nbf": now + 600}, stack.secret, algorithm="HS256"),
        "tampered_tenant": f"{head}.{_b64({**claims, 'tenant_id': 'globex', 'exp': now + 600})}.{sig}",
        "admin_group_forged": f"{head}.{_b64({**claims, 'groups': ['admin'], 'exp': now + 600})}.{sig}",
        "hs512": jwt.encode({**claims, "exp": now + 600}, stack.secret, algorithm="HS512"),
        "kid_traversal": jwt.encode(
            {**claims, "exp": now + 600}, stack.secret, algorithm="HS256", headers={"kid": "../../etc/passwd"}
        ),
        "no_sub": jwt.encode(
            {k: v for k, v in {**claims, "exp": now + 600}.items() if k != "sub"}, stack.secret, algorithm="HS256"
        ),
        "sub_with_hash": jwt.encode({**claims, "sub": "rep_a#x", "exp": now + 600}, stack.secret, algorithm="HS256"),
        "tenant_unicode": jwt.encode(
            {**claims, "tenant_id": "acme\u202e", "exp": now + 600}, stack.secret, algorithm="HS256"
        ),
        "huge": "a" * 7000 + "." + "b" * 100 + ".c",
        "garbage": "not-a-jwt",
        "three_dots": "...",
    }


def token_probes(stack: Any) -> Iterator[Probe]:
    for name, token in forged_tokens(stack).items():
        for path in ("/v1/me", "/v1/messages", "/v1/expenses"):
            headers = {"Authorization": f"Bearer {token}"}
            # a kid is never a file or URL to fetch: locally it is ignored, the token is valid
            expect = (200,) if name == "kid_traversal" else (401,)
            yield Probe(f"token:{name}:{path}", "GET", path, headers, expect=expect, secrets=(token,))
    for header in ("Basic cmVwX2E6eA==", "Bearer", "bearer  ", "Token abc", "Bearer a b c", "Bearer\t" + "x" * 50):
        yield Probe(f"authz_header:{header[:12]!r}", "GET", "/v1/me", {"Authorization": header}, expect=(401,))
    other = stack.token("rep_x", "globex")
    yield Probe("other_tenant_reads_acme_user", "GET", "/v1/signins?user_id=rep_a", _auth(other), expect=(404,))


def _auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **extra}


def route_probes(stack: Any) -> Iterator[Probe]:
    token = stack.token("rep_a")
    paths = [
        "/",
        "/v1",
        "/v1/",
        "/v2/me",
        "/v1/nope",
        "/v1/ME",
        "/v1/me/",
        "/v1/me/x",
        "/v1//me",
        "/v1/accounts/a/b/c/d/e",
        "/v1/../v1/me",
        "/v1/accounts/..%2F..%2Fetc%2Fpasswd",
        "/v1/accounts/%2e%2e",
        "/v1/accounts/%00",
        "/v1/accounts/%E2%80%AE",
        "/v1/accounts/%F0%9F%92%A9",
        "/v1/accounts/" + "a" * 65,
        "/v1/accounts/a%23b",
        "/v1/accounts/a;b",
        "/v1/accounts/%FF%FE",
        "/v1/expenses/exp_1/approve/..",
        "/.env",
        "/v1/openapi.json/../../.chalice/config.json",
        "/v1/" + "x" * 4000,
    ]
    for path in paths:
        yield Probe(f"path:{path[:40]}", "GET", path, _auth(token), expect=(400, 404, 200), secrets=(token,))
    for method in ("DELETE", "PUT", "PATCH", "POST", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "QUERY", "CONNECTX"):
        yield Probe(f"method:{method}:/v1/me", method, "/v1/me", _auth(token), b"{}", expect=(405,), secrets=(token,))
    yield Probe("method:TRACE:unknown", "TRACE", "/v1/nope", _auth(token), expect=(404,), secrets=(token,))
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        yield Probe(f"override:{header}", "GET", "/v1/me", _auth(token, **{header: "DELETE"}), expect=(200,))
    yield Probe("override:_method", "POST", "/v1/me?_method=GET", _auth(token), b"{}", expect=(405,))


def body_probes(stack: Any) -> Iterator[Probe]:
    token = stack.token("rep_a")
    bodies: dict[str, tuple[bytes, tuple[int, ...], str]] = {
        "over_256k": (json.dumps({"name": "x" * 270_000}).encode(), (413,), "edge"),
        "exactly_limit_padding": (b" " * (256 * 1024 + 1), (413,), "edge"),
        "invalid_utf8": (b'{"name": "\xff\xfe"}', (400,), "edge"),
        "lone_surrogate": (b'{"name": "\\ud800"}', (400, 422), "edge"),
        "nul_in_name": (b'{"name": "a\\u0000b"}', (400,), "edge"),
        "rtl_override": ('{"name": "\u202egnp.exe"}'.encode(), (400,), "edge"),
        "zero_width_only": ('{"name": "\u200b\u200b"}'.encode(), (400,), "edge"),
        "nan": (b'{"name": "a", "location": {"lat": NaN, "lng": 0}}', (400,), "edge"),
        "big_number": (b'{"name": "a", "location": {"lat": 1e400, "lng": 0}}', (400,), "edge"),
        "huge_int": (b'{"name": "a", "location": {"lat": ' + b"9" * 5000 + b', "lng": 0}}', (400,), "edge"),
        "duplicate_keys": (b'{"name": "a", "name": "b", "owner_id": "rep_b", "owner_id": "rep_a"}', (), "edge"),
        "array_root": (b"[]", (400,), "edge"),
        "string_root": (b'"x"', (400,), "edge"),
        "empty": (b"", (400,), "edge"),
        "mass_assign": (b'{"name": "a", "tenant_id": "globex", "status": "x"}', (400,), "edge"),
        "deep_64": (b'{"name": "a", "address": ' + b'{"a":' * 64 + b"1" + b"}" * 64 + b"}", (400,), "edge"),
        "deep_3000": (b'{"x": ' + b"[" * 3000 + b"]" * 3000 + b"}", (400,), "json_depth"),
        "other_owner": (b'{"name": "seized", "owner_id": "rep_x"}', (400, 403, 404, 422), "edge"),
    }
    for name, (body, expect, scope) in bodies.items():
        yield Probe(f"body:{name}", "POST", "/v1/accounts", _auth(token), body, expect, scope, (token,))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/html; charset=utf-7", ""):
        headers = {**_auth(token), "Content-Type": content_type}
        yield Probe(f"content_type:{content_type!r}", "POST", "/v1/accounts", headers, b'{"name": "a"}', (415, 400))
    for key in ("k" * 256, "", "a\tb"):
        headers = _auth(token, **{"Idempotency-Key": key})
        yield Probe(f"idempotency_key:{len(key)}", "POST", "/v1/accounts", headers, b'{"name": "k"}', (400, 201))
    limits = ("limit=-1", "limit=0", "limit=99999999999999999999", "limit=1&limit=2", "cursor=AAAA", "cursor=%00")
    for query in limits:
        yield Probe(f"query:{query}", "GET", f"/v1/feed?{query}", _auth(token), expect=(400, 422))
    for query in ("since=9999-12-31T23:59:59-01:00", "until=0001-01-01T00:00:00%2B01:00"):
        yield Probe(f"query:{query}", "GET", f"/v1/feed?{query}", _auth(token), expect=(400, 422), scope="time")


def upload_probes(stack: Any) -> Iterator[Probe]:
    token = stack.token("rep_a")
    cases = {
        "size_over_10mib": {
            "purpose": "signin_photo",
            "content_type": "image/jpeg",
            "size_bytes": 10 * 1024 * 1024 + 1,
        },
        "negative_size": {"purpose": "signin_photo", "content_type": "image/jpeg", "size_bytes": -1},
        "html_type": {"purpose": "signin_photo", "content_type": "text/html", "size_bytes": 10},
        "svg_type": {"purpose": "receipt", "content_type": "image/svg+xml", "size_bytes": 10},
        "unknown_purpose": {"purpose": "avatar", "content_type": "image/png", "size_bytes": 10},
        "float_size": {"purpose": "receipt", "content_type": "image/png", "size_bytes": 1.5},
    }
    for name, body in cases.items():
        yield Probe(f"upload:{name}", "POST", "/v1/uploads", _auth(token), json.dumps(body).encode(), (400,))
    yield Probe(
        "upload:other_users_id", "GET", "/v1/uploads/upl_00000000000000000000000000", _auth(token), expect=(404,)
    )


def webhook_probes(stack: Any, secret: str) -> Iterator[Probe]:
    path = "/v1/webhooks/finance/acme"
    event = {"type": "expense.payment_updated", "data": {"expense_id": "exp_missing", "status": "paid"}}

    def signed(body: dict[str, Any] | bytes, webhook_id: str, at: datetime) -> tuple[bytes, dict[str, str]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        signature = Webhook(secret).sign(webhook_id, at, raw.decode(errors="replace"))
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        }
        return raw, headers

    now = datetime.now(UTC)
    yield Probe(
        "webhook:unsigned", "POST", path, {"Content-Type": "application/json"}, json.dumps(event).encode(), (401,)
    )
    raw, headers = signed(event, "rt_stale", now - timedelta(minutes=10))
    yield Probe("webhook:stale", "POST", path, headers, raw, (401,), secrets=(headers["webhook-signature"],))
    raw, headers = signed(event, "rt_future", now + timedelta(minutes=10))
    yield Probe("webhook:future", "POST", path, headers, raw, (401,))
    raw, headers = signed(event, "rt_other_tenant", now)
    yield Probe("webhook:other_tenant_path", "POST", "/v1/webhooks/finance/globex", headers, raw, (401,))
    yield Probe("webhook:traversal_tenant", "POST", "/v1/webhooks/finance/..%2Facme", headers, raw, (400, 401, 404))
    big = {**event, "pad": "x" * 300_000}
    raw, headers = signed(big, "rt_big", now)
    yield Probe("webhook:over_256k_signed", "POST", path, headers, raw, (413,))
    budget = {
        "type": "budget.updated",
        "data": {"unit_type": "person", "unit_id": "rep_a", "period": "2026-11", "amount": "10.00", "currency": "CNY"},
    }
    raw, headers = signed(budget, "rt_replay", now)
    yield Probe("webhook:first", "POST", path, headers, raw, (200,))
    yield Probe("webhook:replay_same", "POST", path, headers, raw, (200,))
    budget["data"]["amount"] = "99999.00"
    raw, headers = signed(budget, "rt_replay", now)
    yield Probe("webhook:replay_other_body", "POST", path, headers, raw, (422,))
    raw, headers = signed(b'{"type": "x", "data": ' + b"[" * 2000 + b"]" * 2000 + b"}", "rt_deep", now)
    yield Probe("webhook:deep_signed", "POST", path, headers, raw, (400,))
    raw, headers = signed(b"\xff\xfe not json", "rt_bytes", now)
    yield Probe("webhook:not_utf8", "POST", path, headers, raw, (400, 401))
    raw, headers = signed({"type": "fx.rates_updated", "data": {"date": "2026-11-01", "rates": {}}}, "rt_fx", now)
    yield Probe("webhook:unknown_type_or_empty_rates", "POST", path, headers, raw, (200, 400, 422))


def every_operation_probes(stack: Any) -> Iterator[Probe]:
    """Each documented operation without a token, with an ``alg: none`` token, and with the
    victim's user id under another tenant's token (path ids of the demo tenant's users)."""
    document = stack.http.get(stack.base_url + "/v1/openapi.json", timeout=30).json()
    none = forged_tokens(stack)["alg_none"]
    cross = stack.token("rep_a", "globex")
    for template, operations in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "rep_b", template)
        for method, operation in operations.items():
            if not operation.get("security", document.get("security")) or "webhooks" in template:
                continue
            body = b"{}" if method in ("post", "put", "patch") else None
            verb = method.upper()
            yield Probe(
                f"op:no_token:{verb} {template}", verb, path, {"Content-Type": "application/json"}, body, (401,)
            )
            yield Probe(f"op:alg_none:{verb} {template}", verb, path, _auth(none), body, (401,), secrets=(none,))
            yield Probe(f"op:cross_tenant:{verb} {template}", verb, path, _auth(cross), body, secrets=(cross,))


LISTS = (
    "/v1/accounts", "/v1/contacts", "/v1/opportunities", "/v1/leads", "/v1/feed", "/v1/messages", "/v1/users",
    "/v1/team", "/v1/departments", "/v1/projects", "/v1/approvals", "/v1/tasks", "/v1/instructions",
    "/v1/approval-requests", "/v1/reports", "/v1/expenses", "/v1/me/devices", "/v1/report-templates",
)  # fmt: skip


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def round3_probes(stack: Any) -> Iterator[Probe]:
    """The closing pass of issue 24 (new classes): time zones, oversized collections,
    look-alike ids, references to another tenant's people, time-of-day edges, cursors on
    every list, forged sync cursors and calendar-feed tokens. Each is refused, none stored."""
    admin, mgr, rep = (_auth(stack.token(u)) for u in ("admin", "mgr_east", "rep_a"))
    for zone in ("localtime", "Factory", "right/Asia/Shanghai", "posix/Asia/Shanghai", "Etc/GMT+14"):
        yield Probe(f"r3:timezone:{zone}", "PUT", "/v1/admin/settings", admin, _json({"timezone": zone}), (422,))
    discount = {"kind": "discount", "title": "d", "amount": "5.00", "currency": "QQQ"}
    yield Probe("r3:request_currency", "POST", "/v1/approval-requests", rep, _json(discount), (422,))
    yield from _oversized_probes(admin, mgr, rep)
    yield from _reference_probes(admin, mgr, rep)
    yield from _list_probes(mgr, rep)


TEMPLATE = {"name": "Big", "period": "daily", "due_time": "18:00"}


def _oversized_probes(admin: dict[str, str], mgr: dict[str, str], rep: dict[str, str]) -> Iterator[Probe]:
    many = [f"u{i}" for i in range(5000)]
    fields = [{"key": f"f{i}", "label": "L" * 50, "type": "text"} for i in range(10_000)]
    template = TEMPLATE
    related = [{"type": "lead", "id": f"ld_{i}"} for i in range(5000)]
    stages = [{"key": f"s{i}", "probability": 1, "outcome": "open"} for i in range(3000)]
    big = [
        ("tasks", "POST", "/v1/tasks", mgr, {"title": "t", "assignee_ids": many}, (400,)),
        ("instructions", "POST", "/v1/instructions", mgr, {"content": "x", "recipient_ids": many}, (400,)),
        ("template_10000", "PUT", "/v1/admin/report-templates/big", admin, {**template, "fields": fields}, (413,)),
        (
            "template_1000",
            "PUT",
            "/v1/admin/report-templates/big",
            admin,
            {**template, "fields": fields[:1000]},
            (400,),
        ),
        ("related", "POST", "/v1/activities", rep, {"type": "post", "content": "x", "related": related}, (400,)),
        (
            "mentions",
            "POST",
            "/v1/activities/act_x/comments",
            rep,
            {"content": "x", "mentions": ["rep_b"] * 5000},
            (400,),
        ),
        ("bulk", "POST", "/v1/approvals/bulk", mgr, {"action": "approve", "expense_ids": many[:51]}, (400,)),
        (
            "holidays",
            "PUT",
            "/v1/admin/work-calendar/2027",
            admin,
            {"holidays": ["2027-01-01"] * 5000, "workdays": []},
            (400,),
        ),
        ("pipeline", "PUT", "/v1/admin/settings", admin, {"pipeline": stages}, (400,)),
        ("muted", "PUT", "/v1/me/notification-settings", rep, {"muted_kinds": ["comment"] * 10_000}, (400,)),
        (
            "members",
            "PUT",
            "/v1/admin/projects/p1",
            admin,
            {"name": "P", "owner_id": "rep_a", "member_ids": many},
            (400,),
        ),
    ]
    for name, method, path, headers, body, expect in big:
        yield Probe(f"r3:oversized:{name}", method, path, headers, _json(body), expect)


def _reference_probes(admin: dict[str, str], mgr: dict[str, str], rep: dict[str, str]) -> Iterator[Probe]:
    """Look-alike ids, another tenant's people, time-of-day edges."""
    for value in ("\uff52\uff45\uff50_\uff41", "rep_a\u200b", "rep\u2010a"):  # fullwidth, zero-width, hyphen
        yield Probe(f"r3:lookalike_id:{ascii(value)}", "GET", "/v1/users/" + value, rep, expect=(400,))
        task = {"title": "t", "assignee_ids": [value]}
        yield Probe(f"r3:lookalike_assignee:{ascii(value)}", "POST", "/v1/tasks", mgr, _json(task), (400,))
    foreign = [
        ("task", "POST", "/v1/tasks", mgr, {"title": "t", "assignee_ids": ["rep_x"]}),
        ("instruction", "POST", "/v1/instructions", admin, {"content": "x", "recipient_ids": ["boss"]}),
        ("delegate", "PUT", "/v1/me/delegate", mgr, {"delegate_id": "rep_x", "from": "2030-01-01", "to": "2030-01-02"}),
        (
            "project_member",
            "PUT",
            "/v1/admin/projects/p2",
            admin,
            {"name": "P", "owner_id": "rep_a", "member_ids": ["rep_x"]},
        ),
        ("department_head", "PUT", "/v1/admin/departments/d9", admin, {"name": "D", "head_user_id": "boss"}),
    ]
    for name, method, path, headers, body in foreign:
        yield Probe(f"r3:other_tenants_user:{name}", method, path, headers, _json(body), (422,))
    day_edges = [
        (
            "plan_24h",
            "POST",
            "/v1/plans",
            rep,
            {"date": "2027-03-14", "title": "p", "start_time": "2027-03-14T24:00:00Z"},
            (400,),
        ),
        (
            "quiet_24h",
            "PUT",
            "/v1/me/notification-settings",
            rep,
            {"muted_kinds": [], "quiet_hours": {"from": "24:00", "to": "07:00"}},
            (400,),
        ),
        (
            "due_24h",
            "PUT",
            "/v1/admin/report-templates/t24",
            admin,
            {**TEMPLATE, "due_time": "24:00", "fields": []},
            (400,),
        ),
        ("feb_29", "POST", "/v1/plans", rep, {"date": "2027-02-29", "title": "p"}, (422,)),
        (
            "dst_gap_reversed",
            "POST",
            "/v1/plans",
            rep,
            {
                "date": "2027-03-14",
                "title": "p",
                "start_time": "2027-03-14T07:30:00Z",
                "end_time": "2027-03-14T06:30:00Z",
            },
            (422,),
        ),
    ]
    for name, method, path, headers, body, expect in day_edges:
        yield Probe(f"r3:time_of_day:{name}", method, path, headers, _json(body), expect)


def _list_probes(mgr: dict[str, str], rep: dict[str, str]) -> Iterator[Probe]:
    """Cursors on every list, a forged sync cursor, guessed calendar-feed tokens."""
    for path in LISTS:
        yield Probe(f"r3:cursor_garbage:{path}", "GET", path + "?cursor=%00%ff..%2F", mgr, expect=(422,))
        yield Probe(f"r3:cursor_huge:{path}", "GET", path + "?cursor=" + "A" * 5000, mgr, expect=(400,))
    forged = base64.urlsafe_b64encode(json.dumps({"u": "rep_a", "t": "acme", "s": "2000"}).encode()).decode()
    yield Probe("r3:sync_forged", "GET", "/v1/sync?types=accounts&since=" + forged, rep, expect=(410,))
    for token in ("A" * 43, "a" * 43, "-" * 43, "A" * 42, "A" * 44, "%2e%2e%2f" + "A" * 34):
        yield Probe(f"r3:calendar_token:{token[:12]}", "GET", f"/v1/calendar-feed/{token}.ics", expect=(400, 404))


def probes(stack: Any, secret: str) -> list[Probe]:
    out = [
        *every_operation_probes(stack),
        *token_probes(stack),
        *route_probes(stack),
        *body_probes(stack),
        *upload_probes(stack),
        *webhook_probes(stack, secret),
        *round3_probes(stack),
    ]
    assert len(out) <= MAX_REQUESTS
    return out


# ---------------------------------------------------------------- raw HTTP (what requests refuses to send)
def raw_request(base_url: str, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base_url)
    assert parts.hostname == "127.0.0.1"  # loopback only
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(rest) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    words = lines[0].split() if lines else []
    status = int(words[1]) if len(words) > 1 and words[0].startswith("HTTP/") and words[1].isdigit() else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def raw_probes(stack: Any) -> list[tuple[str, bytes, tuple[int, ...]]]:
    token = stack.token("rep_a")
    auth = f"Authorization: Bearer {token}\r\n".encode()
    return [
        (
            "raw:lying_content_length",
            b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n" + auth + b"\r\n{}",
            (413,),
        ),
        (
            "raw:negative_content_length",
            b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n" + auth + b"\r\n",
            (400,),
        ),
        (
            "raw:text_content_length",
            b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n" + auth + b"\r\n",
            (400,),
        ),
        (
            "raw:header_injection_value",
            b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n X-Injected: yes\r\n" + auth + b"\r\n",
            (200, 400),
        ),
        ("raw:request_line_garbage", b"GET /v1/me HTTP/1.1 extra\r\nHost: x\r\n\r\n", (400,)),
        (
            "raw:absolute_uri_other_host",
            b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
            (400, 404),
        ),
        (
            "raw:huge_header",
            b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n" + auth + b"\r\n",
            (400, 431),
        ),
    ]


def run(stack: Any, secret: str) -> list[Result]:
    results = []
    for probe in probes(stack, secret):
        response = stack.http.request(
            probe.method, stack.base_url + probe.path, data=probe.body, headers=probe.headers, timeout=30
        )
        results.append(
            Result(probe, response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)
        )
    for name, request, expect in raw_probes(stack):
        status, headers, body = raw_request(stack.base_url, request)
        results.append(
            Result(Probe(name, "RAW", "", expect=expect, secrets=(stack.token("rep_a"),)), status, headers, body)
        )
    return results


def violations(results: list[Result]) -> list[str]:
    found = []
    for r in results:
        p = r.probe
        problems = []
        if r.status >= 500 or r.status == 0:
            problems.append(f"status {r.status}")
        if p.expect and r.status not in p.expect:
            problems.append(f"status {r.status}, expected {p.expect}")
        if not SECURITY.items() <= r.headers.items():
            problems.append("missing nosniff/no-store")
        if r.status >= 400 and p.method != "HEAD":
            try:
                error = json.loads(r.body)["error"]
                assert error["code"] and error["request_id"] and isinstance(error["message"], str)
            except (ValueError, KeyError, TypeError, AssertionError):
                problems.append(f"not the contract's error shape: {r.body[:120]!r}")
        echoed = [s for s in p.secrets if s and (s.encode() in r.body or any(s in v for v in r.headers.values()))]
        if echoed:
            problems.append("credential echoed")
        if problems:
            found.append(f"{p.scope}:{p.name}: {'; '.join(problems)}")
    return found
