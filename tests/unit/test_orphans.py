"""A local moto server (and a local stack) ends with the process that started it: a parent
killed before it could stop its child left the child running, with its port and a core."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from local.harness import free_port

ROOT = Path(__file__).resolve().parents[2]

# The parent: starts a moto server as local/stack.py does, prints the server's pid, and
# waits for its port; then sleeps until it is killed.
PARENT = """
import subprocess, sys, socket, time
args = [sys.executable, "-m", "local.motoserver", "--port", sys.argv[1], "--ignore-interrupt"] + sys.argv[2:]
server = subprocess.Popen(args)
print(server.pid, flush=True)
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
print("ready", flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running: a zombie (ended, not yet reaped by its new parent) is not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def start(script: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """Run ``script`` as a parent process; the first line it prints is its child's pid."""
    parent = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def left_after_killing(parent: subprocess.Popen[str], processes: list[int], wait_s: float) -> list[int]:
    """SIGKILL ``parent`` (it stops nothing); the ``processes`` still running ``wait_s``
    later (each then killed here)."""
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + wait_s
    while any(alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in processes if alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def server_left_after_parent_killed(*flags: str) -> bool:
    """A parent starts a moto server with ``flags`` and is killed: is the server left?"""
    parent, server = start(PARENT, str(free_port()), *flags)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
    return left_after_killing(parent, [server], wait_s=5) == [server]


def test_a_moto_server_started_with_exit_with_parent_ends_when_its_parent_is_killed():
    assert not server_left_after_parent_killed("--exit-with-parent")


def test_without_the_flag_the_server_is_orphaned():
    """What the flag prevents (and what this test's check would miss if it could not see it)."""
    assert server_left_after_parent_killed()


# The harness's parent role: starts the stack as local/harness.py does (no demo org, to be
# quick), prints the stack's pid once it is ready, and sleeps until it is killed.
HARNESS = """
import pathlib, subprocess, sys, tempfile, time
from local.harness import stack_command
ready = pathlib.Path(tempfile.mkdtemp()) / "ready.json"
stack = subprocess.Popen(stack_command(ready, seed=False), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while not ready.exists():
    assert stack.poll() is None, "the stack did not start"
    time.sleep(0.2)
print(stack.pid, flush=True)
time.sleep(600)
"""


def children(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]


def test_a_stack_the_harness_started_and_its_moto_server_end_when_the_harness_is_killed():
    harness, stack = start(HARNESS)
    processes = [stack, *children(stack)]
    assert len(processes) >= 2, "the stack runs its moto server as a child process"
    left = left_after_killing(harness, processes, wait_s=10)
    assert left == [], "orphaned: the stack or its moto server outlived the harness"
