"""Custom resource: one SNS platform application (CloudFormation has no resource for them),
made from the credentials a deployer stored in Secrets Manager.

Properties: ``Name``, ``Platform`` (APNS, APNS_SANDBOX, GCM, BAIDU), ``SecretId`` (the
secret: a JSON object of SNS platform-application attributes, e.g. ``{"PlatformCredential":
"<.p8 key>", "PlatformPrincipal": "<key id>", "ApplePlatformTeamID": "...",
"ApplePlatformBundleID": "..."}`` for token-based APNs, ``{"PlatformCredential":
"<service account JSON>"}`` for FCM HTTP v1, ``{"PlatformPrincipal": "<API key>",
"PlatformCredential": "<secret key>"}`` for Baidu) and ``Revision`` (change it to re-read a
rotated secret). Answers ``Arn``. The credential never appears in the template or the logs.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3


def _attributes(secret_id: str) -> dict[str, str]:
    value = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    if not isinstance(value, dict) or not value:
        raise ValueError("the secret must be a JSON object of platform-application attributes")
    return {str(k): str(v) for k, v in value.items()}


def apply(event: dict[str, Any]) -> str:
    """The platform application's ARN (its physical id) after the request."""
    props = event.get("ResourceProperties", {})
    old = event.get("OldResourceProperties", {})
    physical = event.get("PhysicalResourceId", "")
    sns = boto3.client("sns")
    if event["RequestType"] == "Delete":
        if physical.startswith("arn:"):
            sns.delete_platform_application(PlatformApplicationArn=physical)  # idempotent
        return physical
    attributes = _attributes(props["SecretId"])
    same = (old.get("Name"), old.get("Platform")) == (props["Name"], props["Platform"])
    if event["RequestType"] == "Update" and same and physical.startswith("arn:"):
        sns.set_platform_application_attributes(PlatformApplicationArn=physical, Attributes=attributes)
        return physical
    # Create, or a new name or platform: a new application (CloudFormation deletes the old one)
    return sns.create_platform_application(Name=props["Name"], Platform=props["Platform"], Attributes=attributes)[
        "PlatformApplicationArn"
    ]


def handler(event: dict[str, Any], context: Any) -> None:
    status, reason, physical = "SUCCESS", "", event.get("PhysicalResourceId") or context.log_stream_name
    try:
        physical = apply(event)
    except Exception as exc:  # noqa: BLE001 - reported to CloudFormation, never the secret
        status, reason = "FAILED", f"{type(exc).__name__}: {str(exc)[:300]}"
        print(json.dumps({"failed": event.get("LogicalResourceId"), "reason": reason}))
    body = {
        "Status": status,
        "Reason": reason or "see the function's log",
        "PhysicalResourceId": physical,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Arn": physical} if status == "SUCCESS" else {},
    }
    raw = json.dumps(body).encode()
    request = urllib.request.Request(event["ResponseURL"], data=raw, method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=30).read()  # noqa: S310 - CloudFormation's presigned S3 URL
