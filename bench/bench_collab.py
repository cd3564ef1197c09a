"""Collaboration lists and queues: DynamoDB requests per page at 10 and 1,000 users.

A manager (``boss``) over N reps assigns 30 of them tasks, sends them instructions, and
they ask for leave. Per page (limit 20), measured at the service: the task lists
(assigned, created, team), the instruction lists (received, sent, unacked) and the
approval-request queue (waiting). Each is one Query of write-time entries plus one
BatchGet of the items, whatever the tenant's size.
"""

from __future__ import annotations

from typing import Any

from bench.common import count_dynamodb, moto_stack, table, verdict

TENANT = "bench"
ACTIVE = 30  # reps with tasks, instructions and requests


def _build(users: int) -> None:
    from chalicelib.auth import Principal
    from chalicelib.services.collab import instructions, requests, tasks
    from chalicelib.services.org import org

    org.put_department(TENANT, "d", "D", None, None)
    org.put_user(TENANT, org.NewUser("boss", "Boss", "d", None, None, None))
    for i in range(users):
        org.put_user(TENANT, org.NewUser(f"rep{i}", f"Rep {i:04d}", "d", "boss", None, None))
    boss = Principal("boss", TENANT, frozenset())
    reps = [f"rep{i}" for i in range(min(users, ACTIVE))]
    for n in range(ACTIVE):
        due = f"2030-01-{1 + n % 28:02d}T09:00:00Z"
        tasks.create(boss, tasks.NewTask(title=f"Task {n}", assignee_ids=[reps[n % len(reps)], reps[0]], due_at=due))
        instructions.create(boss, f"Instruction {n}", [reps[n % len(reps)], reps[0]], None)
        leave = requests.NewRequest(kind="leave", title=f"Leave {n}", from_date="2030-02-01", to_date="2030-02-02")
        requests.create(Principal(reps[n % len(reps)], TENANT, frozenset()), leave)


def _rows() -> list[list[Any]]:
    from chalicelib.auth import Principal
    from chalicelib.services.collab import instructions, requests, tasks

    boss, rep = Principal("boss", TENANT, frozenset()), Principal("rep0", TENANT, frozenset())
    pages = {
        "tasks assigned (rep)": lambda: tasks.list_page(rep, "assigned", None, None, 20, None),
        "tasks created (boss)": lambda: tasks.list_page(boss, "created", "open", None, 20, None),
        "tasks team (boss)": lambda: tasks.list_page(boss, "team", None, "2030-02-01T00:00:00Z", 20, None),
        "instructions received (rep)": lambda: instructions.list_page(rep, "received", False, 20, None),
        "instructions sent, unacked (boss)": lambda: instructions.list_page(boss, "sent", True, 20, None),
        "approval requests waiting (boss)": lambda: requests.list_page(boss, "waiting", None, 20, None),
    }
    rows = []
    for users in (10, 1000):
        with moto_stack():
            _build(users)
            for label, page in pages.items():
                with count_dynamodb() as c:
                    items, _ = page()
                rows.append([users, label, len(items), dict(c.ops), c.total])
    return rows


def run() -> str:
    rows = _rows()
    by_label: dict[str, set[int]] = {}
    for _, label, _, _, total in rows:
        by_label.setdefault(label, set()).add(total)
    ok = all(len(totals) == 1 and max(totals) <= 2 for totals in by_label.values())
    return (
        "## Collaboration lists and queues (pages of 20)\n\n"
        + table(["users", "list", "rows", "requests by kind", "requests"], rows)
        + "\n\n"
        + verdict(ok, "1 Query (write-time entries) + 1 BatchGet (the items) per page at 10 and 1,000 users")
        + "\n"
    )
