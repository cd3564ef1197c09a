"""A small finance-system simulator on loopback, for `make run` users and the tests.

It receives the backend's outbound webhooks (``POST /hook``), verifies each with the
Standard Webhooks library and records it, answering 200 unless told otherwise (a script
of status codes lets a test watch retries, 410 and the dead-letter queue). It can also
send signed events back to the backend's inbound route.

    python -m local.finance_sim --port 8002 --api http://127.0.0.1:8000 --tenant acme --secret whsec_...

HTTP control (same port):
- ``GET /deliveries``: what arrived, oldest first, with ``verified`` and ``duplicate``;
- ``POST /script`` ``{"statuses": [500, 500, 410]}``: answer the next deliveries so;
- ``POST /send`` ``{"type": "expense.payment_updated", "data": {...}, "webhook_id"?: "..."}``:
  sign and send an event to the backend; answers the backend's status and body;
- ``POST /reset``: forget deliveries and the script.

In-process (tests, local/stack.py): ``FinanceSim(secret=... | secret_for=callable).start()``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

DEFAULT_PORT = 8002
HOOK_PATH = "/hook"


class FinanceSim:
    def __init__(
        self,
        secret: Optional[str] = None,
        *,
        secret_for: Optional[Callable[[str], Optional[str]]] = None,
        tenant: str = "acme",
        api_url: Optional[str] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_s: float = 0.0,
    ) -> None:
        self._secret, self._secret_for = secret, secret_for
        self.tenant, self.api_url, self.host, self.port = tenant, api_url, host, port
        self.delay_s = delay_s
        self.deliveries: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.lock = threading.Lock()
        self.server: Optional[ThreadingHTTPServer] = None

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{HOOK_PATH}"

    def secret(self) -> Optional[str]:
        if self._secret_for is not None:
            return self._secret_for(self.tenant)
        return self._secret

    def start(self) -> FinanceSim:
        self.server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True, name="finance-sim").start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> FinanceSim:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ receiving
    def reset(self) -> None:
        with self.lock:
            self.deliveries.clear()
            self.script.clear()

    def answer_next(self, *statuses: int) -> None:
        with self.lock:
            self.script.extend(statuses)

    def received(self, type_: Optional[str] = None, verified_only: bool = True) -> list[dict[str, Any]]:
        with self.lock:
            return [
                d
                for d in self.deliveries
                if (type_ is None or d["type"] == type_) and (d["verified"] or not verified_only)
            ]

    def wait_for(self, count: int, type_: Optional[str] = None, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.received(type_)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.received(type_)

    def _receive(self, raw: bytes, headers: dict[str, str]) -> int:
        from standardwebhooks import Webhook

        secret = self.secret()
        verified, body = False, None
        try:
            body = Webhook(secret).verify(raw, headers) if secret else None
            verified = body is not None
        except Exception:  # noqa: BLE001 - recorded as unverified
            verified = False
        if body is None:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
        with self.lock:
            status = self.script.pop(0) if self.script else 200
            webhook_id = headers.get("webhook-id", "")
            duplicate = any(d["webhook_id"] == webhook_id and d["status"] < 300 for d in self.deliveries)
            self.deliveries.append(
                {
                    "webhook_id": webhook_id,
                    "timestamp": headers.get("webhook-timestamp"),
                    "type": (body or {}).get("type"),
                    "data": (body or {}).get("data"),
                    "verified": verified,
                    "duplicate": duplicate,
                    "status": status if verified else 401,
                    "received_at": time.time(),
                }
            )
        if self.delay_s:
            time.sleep(self.delay_s)
        return status if verified else 401

    # ------------------------------------------------------------ sending
    def sign(self, body: bytes, webhook_id: str, at: Optional[datetime] = None) -> dict[str, str]:
        from standardwebhooks import Webhook

        secret = self.secret()
        if not secret:
            raise RuntimeError("the simulator has no secret for the tenant")
        at = at or datetime.now(UTC)
        return {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, at, body.decode()),
        }

    def send(
        self, type_: str, data: dict[str, Any], webhook_id: Optional[str] = None, at: Optional[datetime] = None
    ) -> tuple[int, Any]:
        """Sign an event and POST it to the backend's inbound route."""
        if not self.api_url:
            raise RuntimeError("the simulator was started without --api")
        webhook_id = webhook_id or f"fin_{uuid.uuid4().hex}"
        raw = json.dumps({"type": type_, "timestamp": datetime.now(UTC).isoformat(), "data": data}).encode()
        request = urllib.request.Request(
            f"{self.api_url.rstrip('/')}/v1/webhooks/finance/{self.tenant}",
            data=raw,
            method="POST",
            headers={"Content-Type": "application/json", **self.sign(raw, webhook_id, at)},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback by design
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    # ------------------------------------------------------------ HTTP
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path == "/deliveries":
                    self._answer(200, sim.received(verified_only=False))
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self._body()
                if self.path == HOOK_PATH:
                    status = sim._receive(raw, {k.lower(): v for k, v in self.headers.items()})
                    self._answer(status, {"ok": 200 <= status < 300})
                    return
                try:
                    body = json.loads(raw or b"{}")
                    if self.path == "/script":
                        sim.answer_next(*[int(s) for s in body.get("statuses", [])])
                        self._answer(200, {"script": sim.script})
                    elif self.path == "/send":
                        status, answer = sim.send(body["type"], body.get("data", {}), body.get("webhook_id"))
                        self._answer(200, {"status": status, "body": answer})
                    elif self.path == "/reset":
                        sim.reset()
                        self._answer(200, {})
                    else:
                        self._answer(404, {"error": "not found"})
                except (ValueError, KeyError, RuntimeError) as exc:
                    self._answer(400, {"error": str(exc)})

        return Handler


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the backend's base URL")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--secret", help="the whsec_ secret PUT /v1/admin/integrations/finance answered")
    args = parser.parse_args(argv)
    sim = FinanceSim(args.secret, tenant=args.tenant, api_url=args.api, port=args.port).start()
    print(f"finance simulator on {sim.url} (control: GET /deliveries, POST /script, /send, /reset)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
