"""On moto as shipped (MOTO_PATCHES=off) the local stack's time is scaled: each function's
Lambda timeout, the app's AWS read timeout and the work queue's visibility; with the patches
they are the deployed values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import limits
from local import pumps
from local.switches import AS_SHIPPED_SLOWDOWN, time_scale

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("switch", "scale"), [("on", 1), ("off", AS_SHIPPED_SLOWDOWN), ("0", AS_SHIPPED_SLOWDOWN)])
def test_a_function_gets_its_deployed_timeout_times_the_scale(monkeypatch, switch, scale):
    monkeypatch.setenv("MOTO_PATCHES", switch)
    assert time_scale() == scale
    assert pumps.FakeContext("plan_reminders").timeout_s == limits.timeout_s("plan_reminders") * scale
    assert pumps.FakeContext("table_stream").timeout_s == limits.DEFAULT_TIMEOUT_S * scale


@pytest.mark.parametrize("took_s", [AS_SHIPPED_SLOWDOWN * limits.DEFAULT_TIMEOUT_S - 1, limits.DEFAULT_TIMEOUT_S + 1])
def test_an_invocation_within_its_scaled_timeout_succeeds(monkeypatch, took_s):
    monkeypatch.setenv("MOTO_PATCHES", "off")
    clock = [0.0]
    monkeypatch.setattr(pumps.time, "monotonic", lambda: clock[0])

    def handler(event, context):
        clock[0] += took_s
        return "done"

    assert pumps.call_with_timeout(handler, {}, "table_stream") == "done"


def test_an_invocation_past_its_scaled_timeout_fails(monkeypatch):
    monkeypatch.setenv("MOTO_PATCHES", "off")
    clock = [0.0]
    monkeypatch.setattr(pumps.time, "monotonic", lambda: clock[0])
    scaled = limits.DEFAULT_TIMEOUT_S * AS_SHIPPED_SLOWDOWN

    def handler(event, context):
        clock[0] += scaled + 1
        return "done"

    with pytest.raises(pumps.TimedOut, match=f"after {scaled} seconds"):
        pumps.call_with_timeout(handler, {}, "table_stream")


# What a stack process configures for the app, read in a fresh interpreter (the models read
# their timeout when they import).
PROBE = """
from local.stack import configure_environment
configure_environment("http://127.0.0.1:1")
from chalicelib import aws
from chalicelib.models.base import BaseItem
from local.resources import WORK_VISIBILITY_S
models = BaseItem._get_connection().connection.client  # the models' botocore client, as PynamoDB made it
print(aws.client("sqs").meta.config.read_timeout, models.meta.config.read_timeout, WORK_VISIBILITY_S)
"""


@pytest.mark.parametrize(("switch", "scale"), [("on", 1), ("off", AS_SHIPPED_SLOWDOWN)])
def test_the_stack_gives_the_app_read_timeouts_and_visibility_times_the_scale(switch, scale):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(MOTO_PATCHES=switch, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    client_s, models_s, visibility_s = out.stdout.split()
    assert (int(client_s), int(models_s), int(visibility_s)) == (
        10 * scale,
        10 * scale,
        6 * limits.timeout_s("fanout_worker") * scale,
    )
