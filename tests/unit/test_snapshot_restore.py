"""SnapStart: one initialised process is snapshotted and restored into many execution
environments. Simulated here with fork(): the parent runs the API function's init
(``PRIME_ON_INIT=true``, ``import app``), each child is one restored environment, which
gets its own credentials (as Lambda hands them over) and runs the registered after-restore
hooks, as the runtime does, before making ids, transaction tokens, jitter and clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

RESTORE_TWICE = r"""
import json, os, random, sys

import snapshot_restore_py

import app
from chalicelib import aws
from chalicelib.ids import new_id
from chalicelib.models import base as models_base
from chalicelib.models.base import Tx

before_snapshot = {s: aws.client(s) for s in app.API_CLIENTS}  # held: a freed client's id() can be reused
primed = all(s.__pydantic_complete__ for op in app.web.REGISTRY for s in (op.body, op.query) if s is not None)
snapshot_random_state = random.getstate()
tokens = []


class RecordingTransactWrite:
    def __init__(self, connection, client_request_token):
        tokens.append(client_request_token)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def restored_environment(n):
    # A restore brings back the memory image as it was, `random`'s state included; fork()
    # alone would reseed it (random registers an at-fork hook), so put the snapshot's back.
    random.setstate(snapshot_random_state)
    os.environ["AWS_ACCESS_KEY_ID"] = f"restored-{n}"  # this environment's own credentials
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():
        hook(*args, **kwargs)
    models_base.TransactWrite = RecordingTransactWrite  # the models' one transaction helper
    Tx().commit()
    s3 = aws.client("s3")
    return {
        "id": new_id("exp"),
        "tx_token": tokens[-1],
        "jitter": random.random(),
        "s3_is_new": s3 is not before_snapshot["s3"],
        "access_key": s3._request_signer._credentials.access_key,
    }


results = []
for n in range(2):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, json.dumps(restored_environment(n)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        results.append(json.loads(pipe.read()))
    os.waitpid(pid, 0)
print(json.dumps({"primed": primed, "hooks": len(snapshot_restore_py.get_after_restore()), "restored": results}))
"""


@pytest.fixture(scope="module")
def restored() -> dict:
    env = {**os.environ, "PRIME_ON_INIT": "true", "AWS_ACCESS_KEY_ID": "at-init"}
    proc = subprocess.run(
        [sys.executable, "-c", RESTORE_TWICE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_environments_restored_from_one_snapshot_make_different_ids_tokens_and_jitter(restored: dict) -> None:
    first, second = restored["restored"]
    assert first["id"] != second["id"]
    assert first["tx_token"] != second["tx_token"]
    assert first["jitter"] != second["jitter"]  # the `random` state is reseeded per environment


def test_clients_are_remade_after_restore_with_that_environments_credentials(restored: dict) -> None:
    assert restored["hooks"] >= 2
    for n, env in enumerate(restored["restored"]):
        assert env["s3_is_new"]
        assert env["access_key"] == f"restored-{n}"  # never the credentials init resolved


def test_api_init_builds_every_request_validator_before_the_snapshot(restored: dict) -> None:
    assert restored["primed"]
