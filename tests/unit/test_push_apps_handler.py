"""The infra custom resource that makes SNS platform applications from Secrets Manager
credentials (infra/fieldsales_infra/push_apps/index.py), run against moto: create, update
in place (a rotated secret), replace (a new name), delete, and a failure reported to
CloudFormation without the credential."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))

from fieldsales_infra.push_apps import index  # noqa: E402


def event(request_type: str, name: str = "fieldsales-dev-apns", physical: str = "", **old: str) -> dict[str, Any]:
    out = {
        "RequestType": request_type,
        "ResourceProperties": {"Name": name, "Platform": "APNS", "SecretId": "fieldsales/push/apns", "Revision": "1"},
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "ApnsApplication",
        "ResponseURL": "https://cloudformation-response.example/x",
    }
    if physical:
        out["PhysicalResourceId"] = physical
    if old:
        out["OldResourceProperties"] = {"Platform": "APNS", **old}
    return out


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch):
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(
            Name="fieldsales/push/apns",
            SecretString=json.dumps({"PlatformCredential": "KEY-1", "PlatformPrincipal": "K1"}),
        )
        yield boto3.client("sns"), secrets


def attributes(sns: Any, arn: str) -> dict[str, str]:
    return sns.get_platform_application_attributes(PlatformApplicationArn=arn)["Attributes"]


def test_create_update_replace_delete_follow_the_stack(cloud) -> None:
    sns, secrets = cloud
    arn = index.apply(event("Create"))
    assert arn.endswith(":app/APNS/fieldsales-dev-apns") and attributes(sns, arn)["PlatformCredential"] == "KEY-1"
    secrets.put_secret_value(SecretId="fieldsales/push/apns", SecretString=json.dumps({"PlatformCredential": "KEY-2"}))
    assert index.apply(event("Update", physical=arn, Name="fieldsales-dev-apns")) == arn
    assert attributes(sns, arn)["PlatformCredential"] == "KEY-2"
    renamed = index.apply(event("Update", name="fieldsales-dev-apns-2", physical=arn, Name="fieldsales-dev-apns"))
    assert renamed != arn and renamed.endswith("fieldsales-dev-apns-2")
    index.apply(event("Delete", physical=arn))
    names = [a["PlatformApplicationArn"] for a in sns.list_platform_applications()["PlatformApplications"]]
    assert names == [renamed]


def test_failure_is_reported_to_cloudformation_without_the_credential(cloud, monkeypatch) -> None:
    sent: list[dict[str, Any]] = []

    class Answer:
        def read(self) -> bytes:
            return b""

    def urlopen(request: Any, timeout: int) -> Answer:
        sent.append(json.loads(request.data))
        return Answer()

    monkeypatch.setattr(index.urllib.request, "urlopen", urlopen)
    bad = event("Create")
    bad["ResourceProperties"]["SecretId"] = "fieldsales/push/missing"
    index.handler(bad, type("Context", (), {"log_stream_name": "stream"})())
    assert sent[0]["Status"] == "FAILED" and "KEY-1" not in json.dumps(sent)
    index.handler(event("Create"), type("Context", (), {"log_stream_name": "stream"})())
    assert sent[1]["Status"] == "SUCCESS" and sent[1]["Data"]["Arn"] == sent[1]["PhysicalResourceId"]
