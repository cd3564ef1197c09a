"""CDK entry point: ``python app_synth.py`` (what cdk.json runs) or ``python -m app_synth``.

Synthesizes offline: no credentials, no AWS calls, an environment-agnostic stack.
Context: ``stage`` (dev | prod, or "dev,prod" for both), ``alarmEmail``,
``deletionProtection`` (dev), ``logRetentionDays``, ``corsOrigins``, ``apiThrottleRate``,
``apiThrottleBurst``, ``pushCredentials`` (``apns=<secret>,fcm=<secret>``), ``pushRevision``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fieldsales_infra.settings import stage_settings  # noqa: E402
from fieldsales_infra.stack import FieldsalesStack  # noqa: E402

CONTEXT_KEYS = (
    "alarmEmail",
    "deletionProtection",
    "logRetentionDays",
    "corsOrigins",
    "apiThrottleRate",
    "apiThrottleBurst",
    "pushCredentials",
    "pushRevision",
)


def build_app() -> cdk.App:
    app = cdk.App()
    stages = str(app.node.try_get_context("stage") or "dev")
    context = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    for stage in (s.strip() for s in stages.split(",") if s.strip()):
        FieldsalesStack(app, stage_settings(stage, context))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
