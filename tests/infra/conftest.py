"""One synth per session (both stages, in a subprocess like `make package`), shared by
every infra test. The subprocess keeps chalice's import of app.py and its environment
changes out of the test process."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# These tests need the infra toolchain (.infra-venv, via `make infra-test`); under the app's
# venv they are left out instead of failing on imports.
if importlib.util.find_spec("aws_cdk") is None:
    collect_ignore_glob = ["test_*.py"]

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
# The CDK app's own modules (settings, packaging), importable as app_synth.py imports them.
sys.path.insert(0, str(INFRA))
STAGES = ("dev", "prod")
# push platforms with credentials (a secret by name, one by ARN); baidu left out: no application
PUSH_CREDENTIALS = (
    "apns=fieldsales/push/apns,apns_sandbox=fieldsales/push/apns-sandbox,"
    "fcm=arn:aws:secretsmanager:us-east-1:123456789012:secret:fieldsales/push/fcm-AbCdEf"
)


@dataclass(frozen=True)
class Synth:
    outdir: Path
    templates: dict[str, dict[str, Any]]

    def resources(self, stage: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stage]["Resources"].items() if v["Type"] == type_}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))},
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(
            {"stage": ",".join(STAGES), "alarmEmail": "ops@example.com", "pushCredentials": PUSH_CREDENTIALS}
        ),
        # Offline: no credentials, no account, no network calls to AWS.
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    proc = subprocess.run(
        [sys.executable, "app_synth.py"], cwd=INFRA, env=env, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        pytest.fail(f"synth failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    templates = {stage: json.loads((outdir / f"{stage}.template.json").read_text()) for stage in STAGES}
    return Synth(outdir=outdir, templates=templates)


@pytest.fixture(scope="session")
def transformed(synth: Synth) -> dict[str, dict[str, Any]]:
    """The templates after the SAM transform, as CloudFormation will deploy them."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return {stage: transform(copy.deepcopy(t), {}, NoManagedPolicies()) for stage, t in synth.templates.items()}
