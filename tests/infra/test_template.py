"""Assertions on the synthesized templates: what is deployed, and how it is protected."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import STAGES, Synth

EXPECTED_FUNCTIONS = {
    "APIHandler",
    "PlanReminders",
    "BudgetAlerts",
    "CloseOpenVisits",
    "TeamDigest",
    "DelegationBoundaries",
    "ObjectCreated",
    "TableStream",
    "WebhookDeliveries",
    "BackfillIndexes",
    "JobWorker",
    "FanoutWorker",
}
DATA_SERVICES = ("dynamodb", "s3", "sqs", "sns", "secretsmanager", "events", "kms", "logs", "cognito-idp")


@pytest.fixture(scope="module", params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def template(synth: Synth, stage: str) -> Template:
    return Template.from_json(synth.templates[stage])


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc.get("Statement", [])


def _all_policy_statements(tmpl: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, res in tmpl["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Policy":
            found += [(name, s) for s in _statements(props["PolicyDocument"])]
        if res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found += [(name, s) for s in _statements(policy["PolicyDocument"])]
    return found


def test_synth_defines_every_resource_once(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.resource_count_is("AWS::S3::Bucket", 2)  # uploads + its access logs
    template.resource_count_is("AWS::Cognito::UserPool", 1)
    template.resource_count_is("AWS::Cognito::UserPoolClient", 1)
    template.resource_count_is("AWS::Cognito::UserPoolGroup", 2)
    template.resource_count_is("AWS::SQS::Queue", 9)  # webhooks, jobs, work and their DLQs; 3 more DLQs
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::SecretsManager::Secret", 1)
    template.resource_count_is("AWS::Serverless::Api", 1)


def test_every_chalice_handler_is_deployed(synth: Synth, stage: str) -> None:
    functions = synth.resources(stage, "AWS::Serverless::Function")
    assert set(functions) == EXPECTED_FUNCTIONS


def test_table_is_protected_on_demand_and_encrypted(template: Template, stage: str) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                    "DeletionProtectionEnabled": stage == "prod",
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                }
            ),
        },
    )


def test_uploads_bucket_is_private_versioned_and_emits_events(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
            "CorsConfiguration": {"CorsRules": [Match.object_like({"AllowedMethods": ["POST", "GET"]})]},
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "uploads-bucket/"}),
        },
    )


def test_uploads_lifecycle_cleans_abandoned_uploads(synth: Synth, stage: str) -> None:
    (bucket,) = [
        b for b in synth.resources(stage, "AWS::S3::Bucket").values() if "VersioningConfiguration" in b["Properties"]
    ]
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-multipart"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rules["expire-abandoned-uploads"]["Prefix"] == "uploads/"
    assert rules["expire-abandoned-uploads"]["TagFilters"] == [{"Key": "upload-state", "Value": "pending"}]
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


def test_buckets_refuse_plain_http(synth: Synth, stage: str) -> None:
    policies = synth.resources(stage, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        denies = [s for s in _statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_queues_are_encrypted_and_webhooks_redrive_to_a_dlq(template: Template, synth: Synth, stage: str) -> None:
    for queue in synth.resources(stage, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 8}, "VisibilityTimeout": 180},
    )


def test_cognito_pool_has_tenant_attribute_and_groups(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "Schema": Match.array_with(
                [Match.object_like({"Name": "tenant_id", "AttributeDataType": "String", "Mutable": False})]
            ),
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"},
        },
    )
    for group in ("admin", "finance"):
        template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": group})


def test_app_client_cannot_write_its_tenant(synth: Synth, stage: str) -> None:
    (client,) = synth.resources(stage, "AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert "custom:tenant_id" in props["ReadAttributes"]
    assert not any("tenant" in a for a in props["WriteAttributes"])
    assert props["GenerateSecret"] is False


def test_schedules_and_s3_rule_have_a_dlq_and_lambda_on_failure_target(transformed: dict, stage: str) -> None:
    resources = transformed[stage]["Resources"]
    rules = {k: r for k, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
    schedules = sorted(
        r["Properties"].get("ScheduleExpression") for r in rules.values() if "ScheduleExpression" in r["Properties"]
    )
    # plan_reminders, budget_alerts, team_digest, close_open_visits, delegation_boundaries
    assert schedules == ["rate(1 hour)", "rate(1 hour)", "rate(1 minute)", "rate(15 minutes)", "rate(15 minutes)"]
    assert len(rules) == len(schedules) + 1  # the schedules + S3 Object Created
    invoke_configs = {
        r["Properties"]["FunctionName"]["Ref"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    for rule in rules.values():
        for target in rule["Properties"]["Targets"]:
            assert "Arn" in target["DeadLetterConfig"], rule
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
            function = target["Arn"]["Fn::GetAtt"][0]
            assert "Destination" in invoke_configs[function]["DestinationConfig"]["OnFailure"], function


def test_s3_rule_matches_object_created_on_the_uploads_bucket(transformed: dict, synth: Synth, stage: str) -> None:
    (bucket_id,) = [
        k for k, b in synth.resources(stage, "AWS::S3::Bucket").items() if "VersioningConfiguration" in b["Properties"]
    ]
    (rule,) = [
        r
        for r in transformed[stage]["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    ]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": bucket_id}]


def test_stream_mapping_reports_partial_failures_and_has_on_failure_dlq(
    transformed: dict, synth: Synth, stage: str
) -> None:
    (table_id,) = synth.resources(stage, "AWS::DynamoDB::Table")
    mappings = [
        r["Properties"]
        for r in transformed[stage]["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    (stream,) = [m for m in mappings if "StartingPosition" in m]
    assert stream["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert 0 < stream["MaximumRetryAttempts"] <= 10
    assert "Destination" in stream["DestinationConfig"]["OnFailure"]


def test_webhook_worker_consumes_the_stack_queue(transformed: dict, stage: str) -> None:
    resources = transformed[stage]["Resources"]
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    sqs_mappings = {m["FunctionName"]["Ref"]: m for m in mappings if "StartingPosition" not in m}
    assert set(sqs_mappings) == {"WebhookDeliveries", "FanoutWorker", "JobWorker"}
    webhooks, work = sqs_mappings["WebhookDeliveries"], sqs_mappings["FanoutWorker"]
    assert webhooks["EventSourceArn"] != work["EventSourceArn"]
    for mapping in (webhooks, work):
        assert "RedrivePolicy" in resources[mapping["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    assert webhooks["BatchSize"] == 1
    # the fan-out worker: a failed task alone is redelivered, at most its reserved concurrency at once
    assert work["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert work["ScalingConfig"] == {"MaximumConcurrency": 50}


def test_schedule_timeouts_and_the_workers_reserved_concurrency_follow_the_limits(synth: Synth, stage: str) -> None:
    from chalicelib import limits

    functions = synth.resources(stage, "AWS::Serverless::Function")
    by_name = {fn["Properties"]["Handler"].rpartition(".")[2]: fn["Properties"] for fn in functions.values()}
    for name, timeout in limits.FUNCTION_TIMEOUT_S.items():
        assert by_name[name]["Timeout"] == timeout, name
    reserved = {n: p["ReservedConcurrentExecutions"] for n, p in by_name.items() if "ReservedConcurrentExecutions" in p}
    assert reserved == limits.RESERVED_CONCURRENCY
    work = [
        q for q in synth.resources(stage, "AWS::SQS::Queue").values() if q["Properties"].get("VisibilityTimeout") == 720
    ]
    assert len(work) == 1  # 6x the worker's timeout


def test_job_worker_consumes_the_jobs_queue_with_a_dlq_its_timeout_and_an_alarm(
    transformed: dict, synth: Synth, stage: str
) -> None:
    resources = transformed[stage]["Resources"]
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    (jobs,) = [m for m in mappings if m["FunctionName"] == {"Ref": "JobWorker"}]
    queue = resources[jobs["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    worker = synth.resources(stage, "AWS::Serverless::Function")["JobWorker"]["Properties"]
    assert worker["Timeout"] == 60 and queue["VisibilityTimeout"] == 360  # 6x the timeout
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 6  # MAX_ATTEMPTS + the receive that records the failure
    assert jobs["BatchSize"] == 1 and jobs["ScalingConfig"] == {"MaximumConcurrency": 10}
    env = worker["Environment"]["Variables"]
    assert "JOBS_QUEUE_URL" in env and "JOBS_QUEUE_NAME" in env
    alarms = [
        _alarm_metric(a)
        for a in synth.resources(stage, "AWS::CloudWatch::Alarm").values()
        if not any("Expression" in q for q in a["Properties"].get("Metrics", []))  # push's rate alarms
    ]
    assert {
        "Namespace": "Fieldsales",
        "MetricName": "JobFailed",
        "Dimensions": [{"Name": "service", "Value": "fieldsales"}],
        "Period": 300,
    } in alarms


def _alarm_metric(alarm: dict[str, Any]) -> dict[str, Any]:
    """Namespace, MetricName, Dimensions and Period, whether CDK wrote a plain or a labelled metric."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return {k: props.get(k) for k in ("Namespace", "MetricName", "Dimensions", "Period")}
    (query,) = props["Metrics"]
    stat = query["MetricStat"]
    return {**stat["Metric"], "Period": stat["Period"]}


def test_alarms_cover_5xx_errors_throttles_dlqs_iterator_age_and_budget_alerts(synth: Synth, stage: str) -> None:
    alarms = list(synth.resources(stage, "AWS::CloudWatch::Alarm").values())
    rates = [a for a in alarms if any("Expression" in q for q in a["Properties"].get("Metrics", []))]  # test_push.py
    metrics = [_alarm_metric(a) for a in alarms if a not in rates]
    names = {(m["Namespace"], m["MetricName"]) for m in metrics}
    assert ("AWS/ApiGateway", "5XXError") in names
    assert ("AWS/Lambda", "IteratorAge") in names
    throttled = {m["Dimensions"][0]["Value"]["Ref"] for m in metrics if m["MetricName"] == "Throttles"}
    assert throttled == EXPECTED_FUNCTIONS
    assert len([m for m in metrics if m["MetricName"] == "ApproximateNumberOfMessagesVisible"]) == 6  # every DLQ
    budget = [
        m for m in metrics if m["MetricName"] == "Errors" and m["Dimensions"][0]["Value"] == {"Ref": "BudgetAlerts"}
    ]
    assert len(budget) == 1 and budget[0]["Period"] == 3600
    assert {"BadItemSkipped", "DigestTenantFailed", "ResponseShapeInvalid", "JobFailed"} <= {
        m["MetricName"] for m in metrics if m["Namespace"] == "Fieldsales"
    }
    deferred = [m for m in metrics if m["MetricName"] == "AfterCommitDeferred"]
    assert deferred == [
        {
            "Namespace": "Fieldsales",
            "MetricName": "AfterCommitDeferred",
            "Dimensions": [{"Name": "service", "Value": "fieldsales"}],
            "Period": 300,
        }
    ]
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"], alarm


def test_api_stage_has_access_logs_throttling_and_a_stage_name(synth: Synth, stage: str) -> None:
    (api,) = synth.resources(stage, "AWS::Serverless::Api").values()
    props = api["Properties"]
    assert props["Name"] == f"fieldsales-{stage}"
    assert "DestinationArn" in props["AccessLogSetting"]
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["MetricsEnabled"] is True


def test_every_function_logs_to_an_owned_group_with_retention(synth: Synth, stage: str) -> None:
    groups = synth.resources(stage, "AWS::Logs::LogGroup")
    for name, fn in synth.resources(stage, "AWS::Serverless::Function").items():
        ref = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[ref]["Properties"]["RetentionInDays"] == (90 if stage == "prod" else 14), name


def test_functions_get_real_resource_names_in_their_environment(synth: Synth, stage: str) -> None:
    for name, fn in synth.resources(stage, "AWS::Serverless::Function").items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["STAGE"] == stage and env["AUTH_MODE"] == "cognito", name
        for key in (
            "TABLE_NAME",
            "BUCKET_NAME",
            "COGNITO_USER_POOL_ID",
            "COGNITO_CLIENT_IDS",
            "WEBHOOK_QUEUE_URL",
            "WORK_QUEUE_URL",
        ):
            assert isinstance(env[key], dict), f"{name}.{key} is a placeholder: {env[key]!r}"
        assert "placeholder" not in json.dumps(env)


def test_no_wildcard_actions_anywhere_in_iam(synth: Synth, stage: str) -> None:
    for owner, statement in _all_policy_statements(synth.templates[stage]):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        for action in actions:
            assert "*" not in action or action.endswith(("GenerateDataKey*", "ReEncrypt*")), (owner, action)
            if statement["Effect"] == "Allow":
                assert action.split(":")[0] not in DATA_SERVICES or "*" not in action, (owner, action)
        if statement["Effect"] == "Allow" and any(a.split(":")[0] in DATA_SERVICES for a in actions):
            assert statement.get("Resource") != "*", (owner, statement)


def test_api_role_is_tenant_scoped_and_never_scans(synth: Synth, stage: str) -> None:
    roles = synth.resources(stage, "AWS::IAM::Role")
    (api_role,) = [k for k in roles if k.startswith("AppApiRole")]
    statements = [
        s for owner, s in _all_policy_statements(synth.templates[stage]) if _policy_of(synth, stage, owner) == api_role
    ]
    dynamo = [
        s for s in statements if any(a.startswith("dynamodb:") and a != "dynamodb:DescribeTable" for a in _actions(s))
    ]
    assert dynamo
    for statement in dynamo:
        assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*"]}}
    scanners = {
        _policy_of(synth, stage, owner)
        for owner, s in _all_policy_statements(synth.templates[stage])
        if "dynamodb:Scan" in _actions(s)
    }
    assert scanners == {_role_of(synth, stage, "BackfillIndexes")}  # the one-off tenant discovery only


def _role_of(synth: Synth, stage: str, function: str) -> str:
    role = synth.resources(stage, "AWS::Serverless::Function")[function]["Properties"]["Role"]
    return role["Fn::GetAtt"][0]


def test_backfill_runs_alone_with_table_items_only_and_time_to_resume(synth: Synth, stage: str) -> None:
    fn = synth.resources(stage, "AWS::Serverless::Function")["BackfillIndexes"]["Properties"]
    assert fn["Timeout"] == 900 and not fn.get("Events")  # invoked by an administrator
    role = _role_of(synth, stage, "BackfillIndexes")
    assert role not in {_role_of(synth, stage, "APIHandler"), _role_of(synth, stage, "TableStream")}
    statements = [
        s for owner, s in _all_policy_statements(synth.templates[stage]) if _policy_of(synth, stage, owner) == role
    ]
    actions = {a for s in statements for a in _actions(s)}
    assert {a.split(":")[0] for a in actions} == {"dynamodb", "logs"}
    assert not actions & {"dynamodb:GetRecords", "dynamodb:DeleteTable", "dynamodb:UpdateTable"}
    for s in statements:
        if "dynamodb:PutItem" in _actions(s):
            assert s["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*"]}}
        if "dynamodb:Scan" in _actions(s):
            assert _actions(s) == ["dynamodb:Scan"] and "index" not in json.dumps(s["Resource"])


def test_tenant_data_role_limits_keys_to_the_session_tenant(synth: Synth, stage: str) -> None:
    statements = [s for owner, s in _all_policy_statements(synth.templates[stage]) if s.get("Sid") == "OwnTenantItems"]
    assert statements and all(
        s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["T#${aws:PrincipalTag/tenant_id}#*"]
        for s in statements
    )


def test_outputs_name_what_the_app_and_operators_need(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    for name in ("ApiUrl", "UserPoolId", "UserPoolClientId", "BucketName", "TableName"):
        assert name in outputs


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else actions


def _policy_of(synth: Synth, stage: str, owner: str) -> str:
    res = synth.templates[stage]["Resources"][owner]
    if res["Type"] == "AWS::IAM::Policy":
        return res["Properties"]["Roles"][0]["Ref"]
    return owner


GATEWAY_STATUS = {
    "MISSING_AUTHENTICATION_TOKEN": "404",
    "RESOURCE_NOT_FOUND": "404",
    "UNAUTHORIZED": "401",
    "ACCESS_DENIED": "403",
    "REQUEST_TOO_LARGE": "413",
    "THROTTLED": "429",
    "QUOTA_EXCEEDED": "429",
    "INTEGRATION_FAILURE": "503",
    "INTEGRATION_TIMEOUT": "504",
    "DEFAULT_4XX": None,  # keeps API Gateway's own status
    "DEFAULT_5XX": None,
}


def test_gateway_responses_answer_in_the_contract_shape_and_never_echo_the_token(synth: Synth, stage: str) -> None:
    (api,) = synth.resources(stage, "AWS::Serverless::Api").values()
    responses = api["Properties"]["GatewayResponses"]
    assert {t: responses[t].get("StatusCode") for t in GATEWAY_STATUS} == GATEWAY_STATUS
    for response in responses.values():
        (template,) = response["ResponseTemplates"].values()
        assert "$context.error" not in template  # messageString is where the token echo lives
        error = json.loads(template)["error"]
        assert error["request_id"] == "$context.requestId" and error["code"] and error["message"]
        headers = response["ResponseParameters"]["Headers"]
        assert headers["X-Content-Type-Options"] == "'nosniff'" and headers["Cache-Control"] == "'no-store'"
    assert (
        json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"])["error"]["code"]
        == "not_found"
    )


def test_deployed_definition_has_gateway_responses_and_an_any_method_per_path(transformed: dict, stage: str) -> None:
    (rest_api,) = [r for r in transformed[stage]["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body = rest_api["Properties"]["Body"]
    gateway = body["x-amazon-apigateway-gateway-responses"]
    assert gateway["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    headers = gateway["THROTTLED"]["responseParameters"]
    assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
    assert headers["gatewayresponse.header.Retry-After"] == "'1'"
    assert len(body["paths"]) > 30
    for path, methods in body["paths"].items():
        anyone = methods["x-amazon-apigateway-any-method"]  # an undeclared method reaches the app: 405
        declared = next(m for k, m in methods.items() if k in {"get", "post", "put", "patch", "delete"})
        assert anyone["x-amazon-apigateway-integration"] == declared["x-amazon-apigateway-integration"], path
        assert anyone.get("parameters") == declared.get("parameters"), path
