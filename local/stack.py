"""`make run`: the whole API on one machine, with an embedded AWS stand-in.

Starts a moto server on loopback, creates the table, bucket, queues and bus tap from
the same definitions the app uses, seeds the demo tenant, serves the API with
``chalice local`` semantics on http://127.0.0.1:8000 and runs the asynchronous side as
AWS would (local/pumps.py). Ctrl-C stops everything it started.

A control endpoint (default http://127.0.0.1:8001) lets tests and curious developers
see the pumps and fire a schedule now: ``GET /status``, ``POST /fire/<schedule>``,
``POST /drain`` (deliver everything pending, then answer), and run the upgrade's index
backfill to the end: ``POST /backfill?tenant_id=<tenant or all>``; what was pushed to a user's
phones (local/pushes.py): ``GET /pushes?tenant_id=&user_id=``; deliver the stream's last
``n`` delivered records again (at-least-once, as Lambda retries): ``POST /redeliver?last=<n>``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from chalicelib.config import aws_read_timeout_s
from local.orphans import exit_with_parent
from local.switches import time_scale

ROOT = Path(__file__).resolve().parent.parent
TABLE = "fieldsales-local"
BUCKET = "fieldsales-local-uploads"
MAX_SETTLE_ROUNDS = 20  # drains after the demo org (a few are enough: its jobs' pages and their records)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet_libraries() -> None:
    import logging
    import warnings

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="The HMAC key is")


def configure_environment(moto_url: str) -> None:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "TABLE_NAME": TABLE,
            "BUCKET_NAME": BUCKET,
            "STAGE": "local",
            "AUTH_MODE": "local",
            "FIELDSALES_LOCAL_EMULATION": "1",
            "EVENT_BUS_NAME": "default",
            "POWERTOOLS_SERVICE_NAME": "fieldsales",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.setdefault("AWS_READ_TIMEOUT_S", str(aws_read_timeout_s() * time_scale()))
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("LOCAL_JWT_SECRET", "local-dev-secret")
    os.environ.pop("AWS_PROFILE", None)


class Stack:
    def __init__(
        self, host: str, port: int, moto_port: int, control_port: int, finance_port: int, seed: bool, quiet: bool
    ) -> None:
        self.host, self.port, self.moto_port, self.control_port = host, port, moto_port, control_port
        self.finance_port = finance_port
        self.seed, self.quiet = seed, quiet
        self.pumps: dict[str, Any] = {}
        self.servers: list[Any] = []
        self.stopped = threading.Event()

    def log(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def start(self) -> None:
        quiet_libraries()
        self.moto = subprocess.Popen(
            [sys.executable, "-m", "local.motoserver", "--port", str(self.moto_port)]
            + ["--ignore-interrupt", "--exit-with-parent"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        self._wait_port(self.moto_port, "the AWS stand-in")
        configure_environment(f"http://127.0.0.1:{self.moto_port}")
        sys.path.insert(0, str(ROOT))

        import boto3

        from local.resources import create_all

        urls = create_all(BUCKET)
        os.environ["WEBHOOK_QUEUE_URL"] = urls["webhooks"]
        stream_arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        os.environ["TABLE_STREAM_ARN"] = stream_arn
        # The tenant's finance system: a loopback receiver that verifies signed deliveries
        # and can send signed events back (local/finance_sim.py).
        from chalicelib.services.org import org
        from local.finance_sim import FinanceSim

        def finance_secret(tenant: str) -> str | None:
            integration = org.get_finance_integration(tenant)
            return integration.secret if integration else None

        os.environ["FINANCE_SIM_PORT"] = str(self.finance_port)
        self.finance = FinanceSim(
            secret_for=finance_secret,
            api_url=f"http://{self.host}:{self.port}",
            port=self.finance_port,
        ).start()
        from chalice.cli.factory import CLIFactory
        from chalice.local import (
            CustomLocalChalice,
            HTTPServerThread,
            LocalChalice,
            LocalDevServer,
            ThreadedHTTPServer,
        )

        from local import pumps
        from local.gateway import ContractRequestHandler

        factory = CLIFactory(str(ROOT))
        config = factory.create_config_obj(chalice_stage_name="local")
        app = factory.load_chalice_app(environment_variables=config.environment_variables)
        self.pumps = {
            "schedules": pumps.SchedulePump(app, self.log),
            "events": pumps.EventBusPump(app, BUCKET, urls["events_tap"], self.log),
            "stream": pumps.StreamPump(app, stream_arn, self.log),
            "sqs": pumps.SqsPump(app, self.log),
        }
        if self.seed:
            self._seed()
        for pump in self.pumps.values():
            pump.start()
        from local.pushes import PushLog

        self.pushes = PushLog().attach()  # GET /pushes on the control endpoint
        # As chalice.local.create_local_server, plus every other method routed to the app so an
        # undeclared method is a 405 in the contract's shape (API Gateway never answers 501).
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice

        pumps_to_wake = [self.pumps[name] for name in ("stream", "events", "sqs")]

        class Handler(ContractRequestHandler):  # unknown routes: 404 as deployed (local/gateway.py)
            disable_nagle_algorithm = True  # else a response body waits 40 ms for the client's delayed ACK

            def _handle_write(self) -> None:
                self._generic_handle()
                for pump in pumps_to_wake:  # the write's stream records and events are due now
                    pump.wake()

            do_POST = do_PUT = do_PATCH = do_DELETE = _handle_write  # noqa: N815 - http.server API

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):  # any other method (TRACE, QUERY...) goes to the app
                    return self._generic_handle
                raise AttributeError(name)

        class Server(ThreadedHTTPServer):
            request_queue_size = 512  # a phone fleet's retries, not 5 connections at a time

        self.api_thread = HTTPServerThread(
            lambda: LocalDevServer(app, config, self.host, self.port, handler_cls=Handler, server_cls=Server)
        )
        self.api_thread.start()
        self.servers.append(self._control_server())
        self._wait_port(self.port, "the API")

    def _seed(self) -> None:
        """The demo org, then its asynchronous side settled (its heads' org jobs), then the
        demo data: as a new tenant's admin sets the org up before the reps write. Seeded all
        at once, the four jobs of the heads ran after the data and re-indexed all of it again,
        for the same indexes: 30% of a stack's work in the half-minute after it started."""
        from local import seed

        seed.seed_org()
        for _ in range(MAX_SETTLE_ROUNDS):
            before = self.status()
            if self.drain() == before:
                break
        seed.seed_data()

    def _wait_port(self, port: int, what: str) -> None:
        # 90 s: under make test's five suites at once, starting the stand-in (importing moto
        # in a fresh process) has taken over 30 s on these 2 cores; the harness waits 120 s
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{what} did not start on port {port}")

    def drain(self) -> dict[str, Any]:
        """Deliver everything pending now (stream records, S3 objects, bus events, queues)."""
        for name in ("stream", "events", "stream", "sqs", "stream"):
            pump = self.pumps[name]
            with pump.lock:
                busy = pump.tick()
                # a schedule's fan-out tasks arrive 10 a batch: deliver them all (bounded)
                for _ in range(100 if name == "sqs" else 0):
                    if not busy:
                        break
                    busy = pump.tick()
        return self.status()

    def status(self) -> dict[str, Any]:
        return {
            name: {
                "deliveries": p.deliveries,
                "errors": p.errors,
                "wakes": p.wakes,
                **({"dead": len(p.dead)} if name == "stream" else {}),
            }
            for name, p in self.pumps.items()
        }

    def _control_server(self) -> ThreadingHTTPServer:
        stack = self

        class Control(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path.startswith("/pushes?"):
                    self._pushes()
                    return
                if self.path == "/tenant_rate":
                    self._tenant_rate()
                    return
                self._answer(200, stack.status()) if self.path == "/status" else self._answer(404, {})

            def _tenant_rate(self, changed: Optional[str] = None) -> None:
                """The API's per-tenant limit in force (chalicelib/limits.py's unless TENANT_RATE
                says otherwise); ``changed`` (``rate=<r>&burst=<b>``) replaces it first (e2e:
                a fraction of the deployed figures where the machine serves fewer requests)."""
                from urllib.parse import parse_qs

                from chalicelib.limits import TenantRate  # after the stack configured the env
                from chalicelib.services.platform import ratelimit

                if changed is not None:
                    query = {k: v[0] for k, v in parse_qs(changed).items()}
                    ratelimit.reset(TenantRate(rate=float(query["rate"]), burst=int(query["burst"])))
                limit = ratelimit.buckets().limit
                self._answer(200, {"rate": limit.rate, "burst": limit.burst} if limit else {"off": True})

            def _pushes(self) -> None:
                """What was published to the stand-in's SNS for one user's devices."""
                from urllib.parse import parse_qs, urlsplit

                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                ids = [query.get("tenant_id", ""), query.get("user_id", "")]
                if not all(i.replace("-", "").replace("_", "").isalnum() and len(i) <= 64 for i in ids):
                    self._answer(400, {"error": "tenant_id and user_id are ids"})
                    return
                self._answer(200, {"items": stack.pushes.for_user(ids[0], ids[1])})

            def _backfill(self, tenant_id: str) -> None:
                """The upgrade's index backfill of one tenant (or ``all``), run to the end."""
                from chalicelib.services.flows import backfill  # after the stack configured the env

                if not tenant_id.replace("-", "").replace("_", "").isalnum() or len(tenant_id) > 64:
                    self._answer(400, {"error": "tenant_id is not an id"})
                    return
                with stack.pumps["schedules"].lock:
                    self._answer(200, backfill_to_end(backfill, tenant_id))

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                try:
                    if self.path == "/drain":
                        self._answer(200, stack.drain())
                    elif self.path.startswith("/fire/team_digest?tenant_id="):
                        from chalicelib.services.performance import digest  # after the stack configured the env

                        tenant_id = self.path.split("=", 1)[1]
                        if not tenant_id.replace("-", "").replace("_", "").isalnum() or len(tenant_id) > 64:
                            self._answer(400, {"error": "tenant_id is not an id"})
                            return
                        with stack.pumps["schedules"].lock:
                            sent = digest.run_tenant(tenant_id)
                        self._answer(200, {"sent": sent, **stack.drain()})
                    elif self.path.startswith("/tenant_rate?"):
                        self._tenant_rate(self.path.split("?", 1)[1])
                    elif self.path.startswith("/backfill?tenant_id="):
                        self._backfill(self.path.split("=", 1)[1])
                    elif self.path.startswith("/redeliver?last="):
                        last = self.path.split("=", 1)[1]
                        if not last.isdigit():
                            self._answer(400, {"error": "last is a count"})
                            return
                        pump = stack.pumps["stream"]
                        with pump.lock:
                            again = pump.redeliver(int(last))
                        self._answer(200, {"redelivered": again, **stack.drain()})
                    elif self.path.startswith("/fire/"):
                        name = self.path.removeprefix("/fire/")
                        pump = stack.pumps["schedules"]
                        if name not in pump.schedules:
                            self._answer(404, {"error": f"no schedule {name}"})
                            return
                        with pump.lock:
                            pump.fire(name)
                        self._answer(200, stack.drain())
                    else:
                        self._answer(404, {})
                except Exception as exc:  # noqa: BLE001 - report, keep serving
                    self._answer(500, {"error": f"{type(exc).__name__}: {exc}"})

        server = ThreadingHTTPServer(("127.0.0.1", self.control_port), Control)
        threading.Thread(target=server.serve_forever, daemon=True, name="control").start()
        return server

    def banner(self) -> str:
        from local.seed import TENANT, USERS, token

        base = f"http://{self.host}:{self.port}"
        lines = [
            "",
            f"Fieldsales API ready on {base}  (AWS stand-in on http://127.0.0.1:{self.moto_port}, "
            f"control on http://127.0.0.1:{self.control_port}, finance simulator on {self.finance.url})",
            f"Demo tenant '{TENANT}'. Local tokens (valid 12 h):",
        ]
        for user in USERS:
            lines.append(f"  {user:9} {token(user)}")
        rep = token("rep_a")
        lines += [
            "",
            "Try:",
            f"  curl -s {base}/v1/health",
            f"  curl -s -H 'Authorization: Bearer {rep}' {base}/v1/me",
            f"  curl -s -H 'Authorization: Bearer {rep}' '{base}/v1/feed?limit=5'",
            f"  curl -s -H 'Authorization: Bearer {rep}' {base}/v1/messages",
            f"  curl -s -X PUT -H 'Authorization: Bearer {rep}' -H 'Content-Type: application/json' "
            f"""-d '{{"platform": "fcm", "token": "my-phone-token"}}' {base}/v1/me/devices/my-phone-1""",
            "",
            "Pushes: every message is published to the stand-in's SNS for each enabled device; watch them with",
            f"  curl -s 'http://127.0.0.1:{self.control_port}/pushes?tenant_id={TENANT}&user_id=rep_a'",
            f"  curl -s {base}/v1/openapi.json | head -c 300",
            "",
            "Schedules, S3 events, the table stream and queues are running. Ctrl-C stops everything.",
        ]
        return "\n".join(lines)

    def stop(self) -> None:
        for pump in self.pumps.values():
            pump.stop()
        for pump in self.pumps.values():  # let a poll in flight finish before moto goes
            if pump.is_alive():
                pump.join(timeout=5)
        for server in self.servers:
            server.shutdown()
        if getattr(self, "api_thread", None):
            self.api_thread.shutdown()
        if getattr(self, "finance", None):
            self.finance.stop()
        if getattr(self, "moto", None):
            self.moto.terminate()
            try:
                self.moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.moto.kill()
        self.stopped.set()


def backfill_to_end(backfill: Any, tenant_id: str) -> dict[str, Any]:
    """Invoke the backfill until done, as an administrator would (``all``: discover the
    tenants with one Scan segment first, then every tenant of the registry)."""
    runs, cursor = 0, None
    while tenant_id == "all":
        found = backfill.discover(0, 1, cursor)
        runs, cursor = runs + 1, found["cursor"]
        if found["done"]:
            break
    while True:
        out = backfill.run_all(cursor) if tenant_id == "all" else backfill.run(tenant_id, cursor)
        runs, cursor = runs + 1, out["cursor"]
        if out["done"] or out.get("error"):
            return {"runs": runs, "last": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--moto-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--control-port", type=int, default=0, help="0 means API port + 1")
    parser.add_argument("--finance-port", type=int, default=0, help="0 means API port + 2")
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--ready-file", help="write the ports and status here once serving")
    parser.add_argument("--exit-with-parent", action="store_true", help="end when the process that started it ends")
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        exit_with_parent()  # its moto server follows it: that one ends with its own parent

    stack = Stack(
        args.host,
        args.port,
        args.moto_port or free_port(),
        args.control_port or args.port + 1,
        args.finance_port or args.port + 2,
        seed=not args.no_seed,
        quiet=args.quiet,
    )

    def _terminate(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        stack.start()
        if not args.quiet:
            print(stack.banner(), flush=True)
        if args.ready_file:
            Path(args.ready_file).write_text(
                json.dumps(
                    {
                        "api": args.port,
                        "moto": stack.moto_port,
                        "control": stack.control_port,
                        "finance": stack.finance_port,
                    }
                )
            )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
