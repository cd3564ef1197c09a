"""schemathesis, all checks, against the running local stack's own OpenAPI document."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.harness import running_stack
from local.switches import time_scale

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e

# Examples per operation in the fuzzing phase (the coverage phase's boundary cases come on
# top): 100 by `make schemathesis`, 5 by `make test`, which runs it beside the other suites (the
# fuzzing phase is most of its CPU; the seed is fixed, so the same examples each run).
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100")


def test_schemathesis_all_checks_pass_against_the_local_stack(tmp_path: Path):
    # Its own stack: the fuzzer rewrites the org as an admin, which other e2e tests rely on.
    with running_stack("schemathesis-secret-of-sufficient-length-01") as stack:
        _run_schemathesis(stack)


def _run_schemathesis(stack) -> None:
    token = stack.token("admin")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{stack.base_url}/v1/openapi.json",
        "--checks",
        "all",
        # speed targets live in the benchmarks (bench/), not in timed tests: on a loaded CI
        # machine moto makes a bulk handover or an archive's re-index take seconds, so the
        # response-time limit is only a guard against a hang
        "--max-response-time",
        str(120 * time_scale()),
        "--max-examples",
        MAX_EXAMPLES,
        "--header",
        f"Authorization: Bearer {token}",
        # 4 workers: a request waits on the stack and on moto (one request at a time) in
        # turn, so more requests in flight keep both processes busy
        "--workers",
        "4",
        "--request-timeout",
        str(150 * time_scale()),
        "--suppress-health-check",
        "all",
        "--seed",
        "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=2700 * time_scale(), cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
