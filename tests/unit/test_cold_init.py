"""What `import app` must not do: every cold start (and the API's snapshot) pays for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

COUNT_CA_LOADS = """
import ssl
loads = []
original = ssl.SSLContext.load_default_certs
def counting(self, *args, **kwargs):
    loads.append(1)
    return original(self, *args, **kwargs)
ssl.SSLContext.load_default_certs = counting
import app
print(len(loads))
"""


def test_import_app_loads_no_ca_store() -> None:
    """A TLS context (CA store parsed, ~100 ms) is made on the first outbound call, never at import."""
    proc = subprocess.run(
        [sys.executable, "-c", COUNT_CA_LOADS],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "0"
