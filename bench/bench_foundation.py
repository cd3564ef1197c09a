"""Cold start of `app` against its own libraries, and the org lookups' request counts."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import BENCH_ENV, ROOT, count_dynamodb, median_seconds_of_each, moto_stack, table, verdict

RUNS = 15
TARGET_RATIO = 1.3

LIBS_OF_APP = """
import json, sys, sysconfig
stdlib = sysconfig.get_paths()["stdlib"]
before = set(sys.modules)
import app
roots = []
for name in list(sys.modules):
    if name in before:
        continue
    mod = sys.modules[name]
    path = getattr(mod, "__file__", None) or ""
    if "site-packages" in path:
        roots.append(name)
print(json.dumps(roots))
"""


def third_party_roots_of_app() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", LIBS_OF_APP],
        env={**BENCH_ENV, "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_import() -> tuple[str, bool]:
    modules = third_party_roots_of_app()
    # Every third-party module `import app` loads, in the order it loaded them, plus the
    # Powertools objects the app creates: "its libraries' own import".
    lib_code = (
        "import importlib\n"
        f"for _m in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(_m)\n"
        "    except Exception:\n"
        "        pass\n"
        "from aws_lambda_powertools import Logger, Metrics\n"
        "Logger(service='x'); Metrics(namespace='x')"
    )
    libs = sorted({m.split(".")[0] for m in modules if not m.startswith("_")})
    # app.py pauses the garbage collector while it initialises, which also spares the
    # libraries it imports; the third column gives them the same pause, so that ratio is
    # the app's own code alone.
    app_s, libs_s, paused_s = median_seconds_of_each(
        ["import app", lib_code, "import gc; gc.disable()\n" + lib_code], RUNS
    )
    ratio, own_ratio = app_s / libs_s, app_s / paused_s
    ok = ratio <= TARGET_RATIO
    rows = [
        ["`import app` (everything: handlers, services, models, schemas)", f"{app_s * 1000:.0f} ms", ""],
        [f"its third-party libraries alone ({', '.join(libs)})", f"{libs_s * 1000:.0f} ms", f"{ratio:.2f}x"],
        [
            "the same libraries with the collector paused, as app.py pauses it",
            f"{paused_s * 1000:.0f} ms",
            f"{own_ratio:.2f}x",
        ],
    ]
    text = (
        f"### Cold import (median of {RUNS} fresh interpreters each, taking turns)\n\n"
        "Both sides load compiled bytecode: an untimed warm-up import of each writes it for "
        "every module it loads, libraries and app alike.\n\n"
        + table(["what", "time", "app is"], rows)
        + "\n\n"
        + verdict(ok, f"app import is {ratio:.2f}x its libraries' own import (target <= {TARGET_RATIO}x)")
        + f" ({own_ratio:.2f}x against the libraries given the same collector pause)"
    )
    return text, ok


def org_lookups() -> tuple[str, bool]:
    from chalicelib.services.org import org

    rows = []
    counts = {}
    with moto_stack():
        for tenant, size in (("small", 10), ("large", 2000)):
            org.put_department(tenant, "d", "D", None, None)
            org.put_user(tenant, org.NewUser("boss", "Boss", "d", None, None, None))
            org.put_department(tenant, "d", "D", None, "boss")
            parents = ["boss"]
            for i in range(size):
                org.put_user(tenant, org.NewUser(f"u{i}", f"u{i}", "d", parents[i // 5], None, None))
                parents.append(f"u{i}")
            with count_dynamodb() as c:
                subs = org.subordinate_ids(tenant, "boss")
            sub_requests, sub_items = c.total, c.items_read
            with count_dynamodb() as c:
                members = org.department_member_ids(tenant, "boss")
            with count_dynamodb() as c2:
                below = org.is_subordinate(tenant, "boss", f"u{size - 1}")
            assert len(subs) == size and len(members) == size + 1 and below
            counts[size] = (sub_requests, c.total, c2.total)
            rows.append([size, sub_requests, sub_items, c.total, c.items_read, c2.total])
    ok = counts[10] == counts[2000]
    text = (
        "### Organisation lookups: DynamoDB requests by org size\n\n"
        + table(
            [
                "users",
                "subordinates: requests",
                "items read",
                "department members: requests",
                "items read",
                "is-subordinate: requests",
            ],
            rows,
        )
        + "\n\n"
        + verdict(ok, "request counts identical for 10 and 2,000 users (materialised paths + begins_with)")
    )
    return text, ok


def run() -> str:
    parts = ["## Foundation"]
    for fn in (cold_import, org_lookups):
        text, _ = fn()
        parts.append(text)
    return "\n\n".join(parts)
