"""Start the local stack (`make run`'s code path) in a subprocess and talk to it over HTTP.

Used by the end-to-end tests and the load test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from local.switches import time_scale

# How long a stack may take to start (seed the demo org on its moto server): about 30 s with
# the stand-in's speed-ups, 8x that on moto as shipped (MOTO_PATCHES=off), which copies the
# whole table for every transaction the seed writes.
START_TIMEOUT_S = 120 * time_scale()
# How long a control request may wait for the stack to deliver everything pending. A drain
# after a burst delivers its backlog: the end-to-end burst of 100 submissions left 29 stream
# batches and 68 queue deliveries, 31 s on an idle machine and past 120 s with the other
# suites of `make test` beside it. Each delivery still has its function's Lambda timeout;
# this is only how long the caller waits for all of them. (The end-to-end tests scale their
# HTTP waits by time_scale() themselves.)
CONTROL_WAIT_S = 600

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStack:
    def __init__(self, api_port: int, control_port: int, moto_port: int, secret: str, log_path: Path) -> None:
        self.base_url = f"http://127.0.0.1:{api_port}"
        self.control_url = f"http://127.0.0.1:{control_port}"
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        self.secret = secret
        self.log_path = log_path
        self.http = requests.Session()
        self.finance_url = ""  # the finance simulator (local/finance_sim.py), once started

    def token(self, user: str, tenant: str | None = None, groups: list[str] | None = None) -> str:
        from chalicelib.auth import issue_local_token
        from local.seed import GROUPS, TENANT

        tenant = tenant or TENANT
        if groups is None:
            groups = GROUPS.get(user, []) if tenant == TENANT else []
        return issue_local_token(user, tenant, groups, secret=self.secret)

    def headers(self, user: str | None, tenant: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **extra}
        if user:
            headers["Authorization"] = f"Bearer {self.token(user, tenant)}"
        return headers

    def call(self, method: str, path: str, body: Any = None, as_: str | None = "rep_a", **kw: Any) -> requests.Response:
        headers = self.headers(as_, kw.pop("tenant", None), **kw.pop("headers", {}))
        data = None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body))
        session = kw.pop("session", None) or self.http
        return session.request(method, self.base_url + path, data=data, headers=headers, timeout=30, **kw)

    def fire(self, schedule: str) -> dict[str, Any]:
        """Fire an EventBridge schedule now (as its cadence would) and drain what follows."""
        return self._control(f"/fire/{schedule}")

    def drain(self) -> dict[str, Any]:
        """Deliver everything pending: stream records, S3 events, bus events, queue messages."""
        return self._control("/drain")

    def redeliver(self, last: int) -> dict[str, Any]:
        """The stream's last ``last`` delivered records go through its consumers again (as
        Lambda retries a batch: at least once)."""
        return self._control(f"/redeliver?last={int(last)}")

    def _control(self, path: str) -> dict[str, Any]:
        """POST to the control endpoint; a failure names what failed (its answer's body)."""
        response = requests.post(f"{self.control_url}{path}", timeout=CONTROL_WAIT_S)
        if not response.ok:
            raise RuntimeError(f"the local stack's control endpoint {path}: {response.status_code} {response.text}")
        return response.json()

    def status(self) -> dict[str, Any]:
        return requests.get(f"{self.control_url}/status", timeout=10).json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _ports() -> tuple[int, int, int, int]:
    """(api, control, finance, moto): ``STACK_PORT_BASE`` and the three after it when set (a
    shared machine gives each engineer a range), else free ports (moto: chosen by the stack)."""
    base = int(os.environ.get("STACK_PORT_BASE", "0"))
    if base:
        return base, base + 1, base + 2, base + 3
    return free_port(), free_port(), free_port(), 0


def stack_command(ready: Path, seed: bool = True) -> list[str]:
    """The local stack on free ports (or STACK_PORT_BASE's), writing its ports to ``ready``
    once it serves, and ending with the process that started it (local/orphans.py)."""
    api_port, control_port, finance_port, moto_port = _ports()
    command = [sys.executable, "-m", "local.stack", "--port", str(api_port), "--control-port", str(control_port)]
    command += ["--finance-port", str(finance_port)] + (["--moto-port", str(moto_port)] if moto_port else [])
    return command + ["--ready-file", str(ready), "--quiet", "--exit-with-parent"] + ([] if seed else ["--no-seed"])


@contextmanager
def running_stack(secret: str = "harness-secret-of-sufficient-length-0123", seed: bool = True) -> Iterator[LocalStack]:
    workdir = Path(tempfile.mkdtemp(prefix="fieldsales-stack-"))
    ready = workdir / "ready.json"
    log_path = workdir / "stack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"LOCAL_JWT_SECRET": secret, "PYTHONUNBUFFERED": "1"})
    with open(log_path, "w") as log:
        process = subprocess.Popen(stack_command(ready, seed), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + float(os.environ.get("STACK_START_TIMEOUT_S", START_TIMEOUT_S))
            while not ready.exists():
                if process.poll() is not None or time.time() > deadline:
                    raise RuntimeError("local stack did not start:\n" + log_path.read_text()[-4000:])
                time.sleep(0.2)
            ports = json.loads(ready.read_text())
            running = LocalStack(ports["api"], ports["control"], ports["moto"], secret, log_path)
            running.finance_url = f"http://127.0.0.1:{ports['finance']}"
            yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
