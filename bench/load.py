"""`make load`: a bounded load test on loopback against the local stack, then reconciliation.

Mixed traffic from several reps at once: check-ins, feed reads, expense creates and
submits, and 10% duplicate retries (the same request re-sent with its Idempotency-Key, as
a phone on a bad network does). Afterwards every user's sign-ins and expenses are read
back through the API and compared with what the clients were told was created: zero lost,
zero duplicated. Any 5xx fails the run. Writes bench/LOAD.md.

    python -m bench.load [--seconds 45] [--workers 8] [--max-requests 3000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from bench.common import table, verdict
from local.harness import LocalStack, running_stack

REPS = ["rep_a", "rep_b", "rep_c", "mgr_east", "mgr_west"]
OUT = Path(__file__).parent / "LOAD.md"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Load:
    def __init__(self, stack: LocalStack, seconds: float, workers: int, max_requests: int) -> None:
        self.stack, self.seconds, self.workers, self.max_requests = stack, seconds, workers, max_requests
        self.lock = threading.Lock()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.sent: list[tuple[str, str, dict[str, Any], str, str]] = []  # (user, path, body, key, id)
        self.signins: dict[str, set[str]] = defaultdict(set)
        self.expenses: dict[str, set[str]] = defaultdict(set)
        self.submitted: dict[str, set[str]] = defaultdict(set)
        self.replay_mismatches = 0
        self.requests = 0
        self.accounts: dict[str, str] = {}

    def call(self, name: str, method: str, path: str, body: Any, user: str, session: requests.Session, key: str = ""):
        headers = {"Idempotency-Key": key} if key else {}
        started = time.perf_counter()
        response = self.stack.call(method, path, body, as_=user, headers=headers, session=session)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.requests += 1
            self.statuses[(name, response.status_code)] += 1
            self.latency[name].append(elapsed)
        return response

    def setup(self) -> None:
        with requests.Session() as s:
            for user in REPS:
                r = self.call(
                    "setup",
                    "POST",
                    "/v1/accounts",
                    {"name": f"Load account of {user}", "location": {"lat": 31.23, "lng": 121.47}},
                    user,
                    s,
                )
                r.raise_for_status()
                self.accounts[user] = r.json()["id"]

    def check_in(self, user: str, s: requests.Session) -> None:
        key = str(uuid.uuid4())
        body = {
            "kind": "check_in",
            "location": {"lat": 31.2301, "lng": 121.4701, "accuracy_m": 15},
            "client_time": now_iso(),
            "account_id": self.accounts[user],
        }
        r = self.call("check_in", "POST", "/v1/signins", body, user, s, key)
        if r.status_code == 201:
            signin_id = r.json()["id"]
            with self.lock:
                self.signins[user].add(signin_id)
                self.sent.append((user, "/v1/signins", body, key, signin_id))

    def feed(self, user: str, s: requests.Session) -> None:
        self.call("feed", "GET", "/v1/feed?limit=20", None, user, s)

    def expense(self, user: str, s: requests.Session) -> None:
        key = str(uuid.uuid4())
        body = {
            "amount": f"{random.randint(1, 300)}.{random.randint(0, 99):02d}",
            "currency": "CNY",
            "category": "travel",
            "occurred_on": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "unit": {"type": "person", "id": user},
            "description": "load test taxi",
        }
        r = self.call("expense_create", "POST", "/v1/expenses", body, user, s, key)
        if r.status_code != 201:
            return
        expense_id = r.json()["id"]
        with self.lock:
            self.expenses[user].add(expense_id)
            self.sent.append((user, "/v1/expenses", body, key, expense_id))
        submit = self.call(
            "expense_submit", "POST", f"/v1/expenses/{expense_id}/submit", {}, user, s, str(uuid.uuid4())
        )
        if submit.status_code == 200:
            with self.lock:
                self.submitted[user].add(expense_id)

    def retry(self, user: str, s: requests.Session) -> None:
        with self.lock:
            if not self.sent:
                return
            owner, path, body, key, created_id = random.choice(self.sent)
        r = self.call("duplicate_retry", "POST", path, body, owner, s, key)
        if r.status_code != 201 or r.json().get("id") != created_id:
            with self.lock:
                self.replay_mismatches += 1

    def worker(self, index: int) -> None:
        rng = random.Random(index)
        deadline = time.time() + self.seconds
        with requests.Session() as s:
            while time.time() < deadline and self.requests < self.max_requests:
                user = rng.choice(REPS)
                roll = rng.random()
                if roll < 0.35:
                    self.check_in(user, s)
                elif roll < 0.70:
                    self.feed(user, s)
                elif roll < 0.90:
                    self.expense(user, s)
                else:
                    self.retry(user, s)

    def read_back(self, path: str, user: str) -> list[dict[str, Any]]:
        items, cursor = [], None
        with requests.Session() as s:
            while True:
                url = f"{path}?user_id={user}&limit=100" + (f"&cursor={cursor}" if cursor else "")
                r = self.call("reconcile", "GET", url, None, user, s)
                r.raise_for_status()
                page = r.json()
                items.extend(page["items"])
                cursor = page.get("next_cursor")
                if not cursor:
                    return items

    def reconcile(self) -> list[list[Any]]:
        rows = []
        for user in REPS:
            signins = [i["id"] for i in self.read_back("/v1/signins", user)]
            expenses = self.read_back("/v1/expenses", user)
            expense_ids = [e["id"] for e in expenses]
            load_expenses = {e["id"] for e in expenses if e.get("description") == "load test taxi"}
            submitted = {e["id"] for e in expenses if e["id"] in load_expenses and e["status"] == "submitted"}
            rows.append(
                [
                    user,
                    len(self.signins[user]),
                    len(self.signins[user] - set(signins)),
                    len(signins) - len(set(signins)),
                    len(self.expenses[user]),
                    len(self.expenses[user] - set(expense_ids)),
                    len(load_expenses - self.expenses[user]),
                    len(self.submitted[user] ^ submitted),
                ]
            )
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bounded load test against the local stack")
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=3000)
    args = parser.parse_args(argv)

    with running_stack() as stack:
        load = Load(stack, args.seconds, args.workers, args.max_requests)
        load.setup()
        started = time.time()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(load.worker, range(args.workers)))
        duration = time.time() - started
        stack.drain()
        rows = load.reconcile()
        log = stack.log()

    five_xx = sum(n for (name, status), n in load.statuses.items() if status >= 500)
    lost = sum(r[2] + r[5] for r in rows)
    duplicated = sum(r[3] + r[6] for r in rows) + load.replay_mismatches
    state_mismatch = sum(r[7] for r in rows)
    ok = five_xx == 0 and lost == 0 and duplicated == 0 and state_mismatch == 0
    by_op = []
    for name in sorted(load.latency):
        samples = sorted(load.latency[name])
        statuses = {s: n for (op, s), n in load.statuses.items() if op == name}
        by_op.append(
            [
                name,
                len(samples),
                json.dumps(dict(sorted(statuses.items()))),
                f"{statistics.median(samples) * 1000:.0f}",
                f"{samples[int(len(samples) * 0.95) - 1] * 1000:.0f}",
            ]
        )
    report = "\n\n".join(
        [
            "# Load test (local stack on loopback)",
            f"{args.workers} workers for {duration:.0f} s, {load.requests} requests "
            f"({load.requests / duration:.0f}/s) against moto over HTTP on 2 cores. Latency here measures "
            "the local stand-in, not AWS; what matters is correctness under concurrency.",
            table(["operation", "requests", "statuses", "p50 ms", "p95 ms"], by_op),
            "## Reconciliation (read back through the API)",
            table(
                [
                    "user",
                    "sign-ins created",
                    "lost",
                    "duplicated",
                    "expenses created",
                    "lost",
                    "unexpected extra",
                    "submit state mismatches",
                ],
                rows,
            ),
            f"Duplicate retries answered with a different response: {load.replay_mismatches}.",
            verdict(ok, f"{five_xx} responses 5xx, {lost} lost, {duplicated} duplicated writes"),
        ]
    )
    OUT.write_text(report + "\n")
    print(report)
    if not ok:
        print(log[-5000:], file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
