"""cfn-lint and cdk-nag on the synthesized templates."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from tests.infra.conftest import STAGES, Synth


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_finds_no_errors(synth: Synth, stage: str) -> None:
    template = (synth.outdir / f"{stage}.template.json").read_text()
    matches = _lint(template)
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert not errors, "\n".join(f"{m.rule.id} {m.path}: {m.message}" for m in errors)


def _lint(template: str) -> list:
    return lint(template, config=ManualArgs(regions=["us-east-1", "ap-southeast-1"]))


def test_cdk_nag_has_no_unacknowledged_findings(synth: Synth) -> None:
    """cdk-nag v3 runs as a policy-validation plugin: a finding not acknowledged in
    infra/fieldsales_infra/nag.py fails the synth itself, and lands in this report."""
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        assert not plugin["violations"], [v["ruleName"] for v in plugin["violations"]]


@pytest.mark.parametrize("stage", STAGES)
def test_every_acknowledged_finding_states_a_reason(synth: Synth, stage: str) -> None:
    metadata = json.loads((synth.outdir / f"{stage}.metadata.json").read_text())
    acknowledged = {
        f"{path} {rule}": reason
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    nag = [key for key in acknowledged if "AwsSolutions-" in key]
    assert nag, "no cdk-nag acknowledgements recorded: is AwsSolutionsChecks still registered?"
    for key, reason in acknowledged.items():
        assert len(reason.strip()) >= 30, f"{key}: reason too thin: {reason!r}"
