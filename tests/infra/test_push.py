"""SNS mobile push in the synthesized stack: platform applications made by a custom
resource from Secrets Manager credentials, their ARNs in every function's environment,
endpoint-only IAM, failure-rate alarms; and the platform table equal to the app's."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.infra.conftest import STAGES, Synth

os.environ.setdefault("TABLE_NAME", "fieldsales-drift-test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from fieldsales_infra import push as infra_push  # noqa: E402

from chalicelib.services.push import platforms  # noqa: E402

CONFIGURED = {"apns": "APNS", "apns_sandbox": "APNS_SANDBOX", "fcm": "GCM"}  # conftest's PUSH_CREDENTIALS
SNS_ENDPOINT_ACTIONS = {"sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"}


@pytest.fixture(scope="module", params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    return request.param


def _sns_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::IAM::Policy":
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                if any(a.startswith("sns:") for a in actions):
                    found.append((name, {**st, "Action": actions}))
    return found


def test_platform_table_is_the_apps_own(stage: str) -> None:
    assert {p: s.sns_platform for p, s in platforms.PLATFORMS.items()} == infra_push.PUSH_PLATFORMS
    for platform in infra_push.PUSH_PLATFORMS:
        assert infra_push.application_name(stage, platform) == platforms.application_name(stage, platform)


def test_a_platform_application_per_configured_platform_from_its_secret(synth: Synth, stage: str) -> None:
    apps = synth.resources(stage, "Custom::SnsPlatformApplication")
    by_platform = {a["Properties"]["Platform"]: a["Properties"] for a in apps.values()}
    assert set(by_platform) == set(CONFIGURED.values())  # baidu has no credentials: no application
    for platform, sns_platform in CONFIGURED.items():
        props = by_platform[sns_platform]
        assert props["Name"] == f"fieldsales-{stage}-{platform.replace('_', '-')}"
        assert "fieldsales/push/" in json.dumps(props["SecretId"])
        assert "PlatformCredential" not in json.dumps(props)  # the credential never enters the template
    (handler,) = [
        r for r in synth.resources(stage, "AWS::Lambda::Function").values() if "platform applications" in json.dumps(r)
    ]
    tokens = {json.dumps(a["Properties"]["ServiceToken"]) for a in apps.values()}
    assert len(tokens) == 1 and handler["Properties"]["Handler"] == "index.handler"


def test_every_function_gets_the_application_arns(synth: Synth, stage: str) -> None:
    for name, fn in synth.resources(stage, "AWS::Serverless::Function").items():
        env = fn["Properties"]["Environment"]["Variables"]
        pushed = {k: v for k, v in env.items() if k.startswith("PUSH_APP_ARN_")}
        assert set(pushed) == {f"PUSH_APP_ARN_{p.upper()}" for p in CONFIGURED}, name
        assert all("Fn::GetAtt" in v and v["Fn::GetAtt"][1] == "Arn" for v in pushed.values())


def test_sns_grants_are_endpoint_actions_on_these_applications_only(synth: Synth, stage: str) -> None:
    statements = _sns_statements(synth.templates[stage])
    by_sid = {st["Sid"]: (policy, st) for policy, st in statements}
    assert set(by_sid) == {"CreatePushEndpoints", "KeepPushEndpoints", "PublishPushes", "ManagePlatformApplications"}
    policy, create = by_sid["CreatePushEndpoints"]
    assert "ApiRole" in policy and create["Action"] == ["sns:CreatePlatformEndpoint"]
    assert all("Fn::GetAtt" in r for r in create["Resource"])  # the applications' own ARNs
    policy, keep = by_sid["KeepPushEndpoints"]
    assert "ApiRole" in policy and set(keep["Action"]) == SNS_ENDPOINT_ACTIONS
    policy, publish = by_sid["PublishPushes"]
    assert "WorkerRole" in policy and publish["Action"] == ["sns:Publish"]
    for st in (keep, publish):
        arns = json.dumps(st["Resource"])
        assert arns.count(":endpoint/") == len(CONFIGURED) and f"fieldsales-{stage}-" in arns
    policy, manage = by_sid["ManagePlatformApplications"]
    assert "PushHandlerRole" in policy and ":app/" in json.dumps(manage["Resource"])
    assert not any("*" in a for _, st in statements for a in st["Action"])


def test_push_failure_rate_alarms_per_application_and_for_the_fan_out(synth: Synth, stage: str) -> None:
    alarms = synth.resources(stage, "AWS::CloudWatch::Alarm")
    push = {name: a["Properties"] for name, a in alarms.items() if "PushDeliveryFailureRate" in name}
    assert len(push) == len(CONFIGURED)
    for props in push.values():
        metrics = json.dumps(props["Metrics"])
        assert "NumberOfNotificationsFailed" in metrics and "NumberOfNotificationsDelivered" in metrics
        assert props["Threshold"] == infra_push_alarm_threshold() and props["AlarmActions"]
    (publish,) = [a["Properties"] for name, a in alarms.items() if "PushPublishFailureRate" in name]
    assert "PushFailed" in json.dumps(publish["Metrics"]) and "PushSent" in json.dumps(publish["Metrics"])


def infra_push_alarm_threshold() -> float:
    from fieldsales_infra.monitoring import PUSH_FAILURE_RATE

    return PUSH_FAILURE_RATE
