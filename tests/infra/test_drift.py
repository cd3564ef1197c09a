"""Local and deployed cannot drift: the synthesized table, bucket CORS and webhook redrive
equal what the models and the local stack (local/resources.py) use."""

from __future__ import annotations

import json
import os

import pytest

from tests.infra.conftest import STAGES, Synth

os.environ.setdefault("TABLE_NAME", "fieldsales-drift-test")  # chalicelib.models needs it at import
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from chalicelib import limits  # noqa: E402
from chalicelib.models.base import table_schema  # noqa: E402
from chalicelib.web import SECURITY_HEADERS  # noqa: E402
from local.gateway import GATEWAY_RESPONSES as LOCAL_GATEWAY_RESPONSES  # noqa: E402
from local.pumps import DEFAULT_TIMEOUT_S, FUNCTION_TIMEOUT_S, MAX_STREAM_ATTEMPTS  # noqa: E402
from local.resources import MAX_JOB_RECEIVES, MAX_WEBHOOK_ATTEMPTS, MAX_WORK_ATTEMPTS, UPLOAD_CORS  # noqa: E402


def _template_table_schema(table: dict) -> dict:
    props = table["Properties"]
    return {
        "KeySchema": sorted((k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]),
        "AttributeDefinitions": sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]),
        "GlobalSecondaryIndexes": sorted(
            (
                g["IndexName"],
                tuple(sorted((k["AttributeName"], k["KeyType"]) for k in g["KeySchema"])),
                g["Projection"]["ProjectionType"],
            )
            for g in props["GlobalSecondaryIndexes"]
        ),
        "TimeToLiveAttribute": props["TimeToLiveSpecification"]["AttributeName"],
        "StreamViewType": props["StreamSpecification"]["StreamViewType"],
    }


@pytest.mark.parametrize("stage", STAGES)
def test_deployed_table_equals_the_models_table(synth: Synth, stage: str) -> None:
    (table,) = synth.resources(stage, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["TimeToLiveSpecification"]["Enabled"] is True
    assert _template_table_schema(table) == table_schema()


@pytest.mark.parametrize("stage", STAGES)
def test_deployed_bucket_cors_equals_the_local_bucket(synth: Synth, stage: str) -> None:
    (local_rule,) = UPLOAD_CORS["CORSRules"]
    buckets = [b for b in synth.resources(stage, "AWS::S3::Bucket").values() if "CorsConfiguration" in b["Properties"]]
    (rule,) = buckets[0]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == local_rule["AllowedMethods"]
    assert rule["AllowedHeaders"] == local_rule["AllowedHeaders"]
    assert rule["AllowedOrigins"] == local_rule["AllowedOrigins"]  # default context: any origin
    assert rule["MaxAge"] == local_rule["MaxAgeSeconds"]


@pytest.mark.parametrize("stage", STAGES)
def test_webhook_redrive_equals_the_local_queue(synth: Synth, stage: str) -> None:
    redrives = [
        q["Properties"]["RedrivePolicy"]
        for q in synth.resources(stage, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert sorted(r["maxReceiveCount"] for r in redrives) == sorted(
        [MAX_WEBHOOK_ATTEMPTS, MAX_JOB_RECEIVES, MAX_WORK_ATTEMPTS]
    )


def _snake(logical_id: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in logical_id).lstrip("_")


@pytest.mark.parametrize("stage", STAGES)
def test_local_lambda_contexts_count_down_from_each_deployed_timeout(synth: Synth, stage: str) -> None:
    """local/pumps.py gives every invocation its function's deployed timeout (and fails one
    that runs past it); the stream is retried as often as the deployed mapping tries."""
    functions = synth.resources(stage, "AWS::Serverless::Function")
    globals_timeout = synth.templates[stage].get("Globals", {}).get("Function", {}).get("Timeout")
    for logical_id, fn in functions.items():
        deployed = fn["Properties"].get("Timeout", globals_timeout)
        local = FUNCTION_TIMEOUT_S.get(_snake(logical_id), DEFAULT_TIMEOUT_S)
        assert deployed == local, (logical_id, deployed, local)
    (stream,) = [
        e["Properties"]
        for fn in functions.values()
        for e in (fn["Properties"].get("Events") or {}).values()
        if e["Type"] == "DynamoDB"
    ]
    assert 1 + stream["MaximumRetryAttempts"] == MAX_STREAM_ATTEMPTS


def test_infra_restates_the_apps_limits() -> None:
    """Timeouts, reserved concurrency and the per-tenant rate: infra never imports chalicelib,
    so the figures are restated there; the local stack reads chalicelib/limits.py."""
    from fieldsales_infra import messaging, settings

    assert settings.FUNCTION_TIMEOUT_S == limits.FUNCTION_TIMEOUT_S
    assert settings.RESERVED_CONCURRENCY == limits.RESERVED_CONCURRENCY
    assert settings.WORK_QUEUE_MAX_CONCURRENCY == limits.WORK_QUEUE_MAX_CONCURRENCY
    assert (limits.TENANT_RATE.rate, limits.TENANT_RATE.burst) == settings.TENANT_RATE
    assert messaging.MAX_WORK_ATTEMPTS == MAX_WORK_ATTEMPTS
    assert limits.timeout_s("fanout_worker") == messaging.WORKER_TIMEOUT_S


@pytest.mark.parametrize("stage", STAGES)
def test_local_gateway_answers_equal_the_deployed_gateway_responses(synth: Synth, stage: str) -> None:
    (api,) = synth.resources(stage, "AWS::Serverless::Api").values()
    deployed = api["Properties"]["GatewayResponses"]
    for response_type, (status, code, message) in LOCAL_GATEWAY_RESPONSES.items():
        row = deployed[response_type]
        assert row["StatusCode"] == str(status), response_type
        error = json.loads(row["ResponseTemplates"]["application/json"])["error"]
        assert (error["code"], error["message"]) == (code, message), response_type
        headers = row["ResponseParameters"]["Headers"]
        assert {k: headers[k] for k in SECURITY_HEADERS} == {k: f"'{v}'" for k, v in SECURITY_HEADERS.items()}


@pytest.mark.parametrize("stage", STAGES)
def test_stream_mapping_filters_are_what_the_projection_registry_derives(synth: Synth, stage: str) -> None:
    """Records no projection reads never invoke the stream consumer: the mapping's filter
    patterns are the registry's (services/flows/projections.py), at most the 5 a mapping takes."""
    from chalicelib.services.flows.projections import REGISTRY

    events = [
        event["Properties"]
        for fn in synth.resources(stage, "AWS::Serverless::Function").values()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]
    (mapping,) = events
    filters = mapping["FilterCriteria"]["Filters"]
    assert [json.loads(f["Pattern"]) for f in filters] == REGISTRY.filter_patterns()
    assert 0 < len(filters) <= 5
    assert all(len(f["Pattern"]) <= 4096 for f in filters)
