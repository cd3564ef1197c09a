"""The Chalice app (API + event handlers) packaged by ``chalice.cdk.Chalice``, and the
wiring Chalice cannot express: real resource ARNs, dead-letter queues, partial-batch
failures, IAM roles, the API stage settings, per-function memory, and SnapStart for the
API function (published versions behind an alias that API Gateway invokes).

The overrides are derived from the SAM template Chalice generates, so a handler added
later (a new schedule or ``on_cw_event``) gets its DLQ, retry policy and alarms without
touching this file; tests/infra asserts that every asynchronous target has one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from chalice.cdk import Chalice
from constructs import Construct

from fieldsales_infra.data import UPLOAD_PREFIX, DataStore
from fieldsales_infra.gateway import gateway_responses, read_paths, with_any_method
from fieldsales_infra.identity import Identity
from fieldsales_infra.messaging import JOB_WORKER_TIMEOUT_S, Messaging
from fieldsales_infra.packaging import IMPORT_PLACEHOLDERS, build_package, check_runtime
from fieldsales_infra.push import PushApplications
from fieldsales_infra.settings import (
    DEFAULT_SIZING,
    FUNCTION_SIZING,
    FUNCTION_TIMEOUT_S,
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    RESERVED_CONCURRENCY,
    TENANT_RATE,
    WORK_QUEUE_MAX_CONCURRENCY,
    StageSettings,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
API_FUNCTION = "APIHandler"
BACKFILL_FUNCTION = "BackfillIndexes"  # the one-off index backfill an administrator invokes
BACKFILL_TIMEOUT_S = 900  # it stops 10 s before this and answers a cursor to go on from
API_STAGE = "api"
METRICS_NAMESPACE = "Fieldsales"  # what the app's custom metrics (Powertools EMF) are published under
METRICS_SERVICE = "fieldsales"

API_ALIAS = "live"  # SnapStart snapshots published versions: API Gateway invokes this alias

STREAM_BATCH_RETRIES = 5
STREAM_MAX_RECORD_AGE_S = 24 * 3600
RULE_TARGET_RETRY = {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
ASYNC_INVOKE_RETRIES = 2
ASYNC_EVENT_MAX_AGE_S = 3600
WEBHOOK_MAX_CONCURRENCY = 5
JOB_WORKER_FUNCTION = "JobWorker"  # background jobs in bounded steps (services/platform/jobs.py)
JOBS_MAX_CONCURRENCY = 10  # jobs run side by side at most this many: it bounds their write rate
WORK_QUEUE_DEFAULT_NAME = "fieldsales-work"  # the name the app is packaged with (chalicelib/config.py)
# The stream mapping's filter patterns, generated from the app's projection registry by
# `make stream-filter` (infra/ never imports the app; tests hold the file equal to the registry).
STREAM_FILTER_FILE = Path(__file__).with_name("stream_filter.json")


def stream_filter_criteria() -> dict[str, Any]:
    """``FilterCriteria`` of the table stream's mapping: records no projection reads never
    invoke the function."""
    patterns = json.loads(STREAM_FILTER_FILE.read_text())
    return {"Filters": [{"Pattern": json.dumps(p, separators=(",", ":"))} for p in patterns]}


@dataclass
class FunctionInfo:
    """One Lambda function of the Chalice app, as its SAM template declares it."""

    logical_id: str
    handler: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def events_of(self, *types: str) -> dict[str, dict[str, Any]]:
        return {name: ev for name, ev in self.events.items() if ev["Type"] in types}

    @property
    def is_async(self) -> bool:
        """Invoked asynchronously (EventBridge rules): needs a Lambda on-failure target."""
        return bool(self.events_of("Schedule", "CloudWatchEvent", "EventBridgeRule"))


class PackagedChalice(Chalice):
    """``chalice.cdk.Chalice`` whose package is :func:`build_package`'s (bytecode shipped),
    and whose API is invoked through the API function's alias (SnapStart restores published
    versions only; ``$LATEST`` would run a plain cold start)."""

    def _package_app(self) -> None:
        output_dir = Path(self._sam_package_dir)
        build_package(output_dir, self.stage_name, self.stage_config, project_dir=Path(self.source_dir))
        sam_path = output_dir / "sam.json"
        sam_path.write_text(json.dumps(invoke_api_through_alias(json.loads(sam_path.read_text())), indent=2))


def invoke_api_through_alias(template: dict[str, Any]) -> dict[str, Any]:
    """Point the REST API's integrations and its invoke permission at the API function's
    alias: its ARN qualified with the alias name (``${APIHandler.Arn}:live``)."""
    function_arn = f"${{{API_FUNCTION}.Arn}}"
    alias_arn = f"{function_arn}:{API_ALIAS}"
    resources = template["Resources"]
    for methods in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values():
        for operation in methods.values():
            uri = operation.get("x-amazon-apigateway-integration", {}).get("uri", {})
            if isinstance(uri, dict) and f"{function_arn}/" in uri.get("Fn::Sub", ""):
                uri["Fn::Sub"] = uri["Fn::Sub"].replace(f"{function_arn}/", f"{alias_arn}/")
    resources[f"{API_FUNCTION}InvokePermission"]["Properties"]["FunctionName"] = {"Fn::Sub": alias_arn}
    return template


def _read_functions(sam_template_path: Path) -> dict[str, FunctionInfo]:
    template = json.loads(sam_template_path.read_text())
    return {
        logical_id: FunctionInfo(
            logical_id=logical_id,
            handler=res["Properties"]["Handler"],
            events=res["Properties"].get("Events", {}),
        )
        for logical_id, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


class FieldsalesApp(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        data: DataStore,
        identity: Identity,
        messaging: Messaging,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._data, self._messaging = data, messaging

        # HMAC key for list cursors; the app reads it at runtime through CURSOR_SECRET_ARN.
        self.cursor_secret = secretsmanager.Secret(
            self,
            "CursorSecret",
            description="HMAC key that signs Fieldsales list cursors",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
        )

        self.api_role = self._lambda_role("ApiRole", "Fieldsales API handler: tenant-scoped data access")
        self.worker_role = self._lambda_role(
            "WorkerRole", "Fieldsales schedules, S3, stream and webhook workers: cross-tenant jobs"
        )
        self.backfill_role = self._lambda_role(
            "BackfillRole", "Fieldsales index backfill (invoked by an administrator): table items only"
        )
        self.tenant_data_role = self._tenant_data_role()
        self._grant_api(self.api_role)
        self._grant_worker(self.worker_role)
        self._grant_backfill(self.backfill_role)
        self.push = PushApplications(self, "Push", settings=settings)  # SNS mobile push (fieldsales_infra/push.py)
        self.push.grant_register(self.api_role)
        self.push.grant_publish(self.worker_role)

        check_runtime()  # chalice targets the runtime of the Python it runs under
        for name, value in IMPORT_PLACEHOLDERS.items():
            os.environ.setdefault(name, value)
        self.chalice = PackagedChalice(
            stack,  # the stack id is the chalice stage (dev/prod in .chalice/config.json)
            "Chalice",
            source_dir=str(REPO_ROOT),
            stage_config={
                "api_gateway_stage": API_STAGE,
                "manage_iam_role": False,
                "iam_role_arn": self.worker_role.role_arn,
                "lambda_architecture": LAMBDA_ARCHITECTURE,
            },
        )
        sam_template = Path(self.chalice._sam_package_dir) / "sam.json"
        self.functions = _read_functions(sam_template)

        environment = {
            "STAGE": settings.stage,
            "AUTH_MODE": "cognito",
            "TABLE_NAME": data.table.table_name,
            "TABLE_STREAM_ARN": data.table.table_stream_arn or "",
            "BUCKET_NAME": data.bucket.bucket_name,
            "COGNITO_USER_POOL_ID": identity.user_pool.user_pool_id,
            "COGNITO_CLIENT_IDS": identity.client.user_pool_client_id,
            "EVENT_BUS_NAME": "default",
            "WEBHOOK_QUEUE_URL": messaging.webhooks.queue_url,
            "WEBHOOK_QUEUE_NAME": messaging.webhooks.queue_name,
            "JOBS_QUEUE_URL": messaging.jobs.queue_url,
            "JOBS_QUEUE_NAME": messaging.jobs.queue_name,
            "WORK_QUEUE_URL": messaging.work.queue_url,
            "WORK_QUEUE_NAME": messaging.work.queue_name,
            "CURSOR_SECRET_ARN": self.cursor_secret.secret_arn,
            "TENANT_DATA_ROLE_ARN": self.tenant_data_role.role_arn,
            "POWERTOOLS_SERVICE_NAME": METRICS_SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            **self.push.environment,
        }
        self.log_groups: dict[str, logs.LogGroup] = {}
        for fn in self.functions.values():
            resource = self.chalice.get_resource(fn.logical_id)
            self._own_log_group(resource, fn, settings)
            for key, value in environment.items():
                resource.add_property_override(f"Environment.Variables.{key}", value)
            resource.add_property_override("Runtime", LAMBDA_RUNTIME)
            resource.add_property_override("MemorySize", FUNCTION_SIZING.get(fn.logical_id, DEFAULT_SIZING).memory_mb)
            self._limits(resource, fn)
            self._wire_events(resource, fn)
        # Chalice reads per-function settings from .chalice/config.json only: set the
        # API handler's role here (every other function keeps the worker role).
        api_function = self.chalice.get_resource(API_FUNCTION)
        api_function.add_property_override("Role", self.api_role.role_arn)
        # the per-tenant limiter (chalicelib/services/platform/ratelimit.py): requests a second, burst
        api_function.add_property_override("Environment.Variables.TENANT_RATE", "{:g},{}".format(*TENANT_RATE))
        self._snap_start(api_function)
        backfill_function = self.chalice.get_resource(BACKFILL_FUNCTION)
        backfill_function.add_property_override("Role", self.backfill_role.role_arn)
        backfill_function.add_property_override("Timeout", BACKFILL_TIMEOUT_S)
        if JOB_WORKER_FUNCTION in self.functions:
            self.chalice.get_resource(JOB_WORKER_FUNCTION).add_property_override("Timeout", JOB_WORKER_TIMEOUT_S)

        self.rest_api_id = self.chalice.get_resource("RestAPI").ref
        self.api_name = f"fieldsales-{settings.stage}"
        self.api_url = Fn.sub(
            "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + API_STAGE + "/",
            {"Api": self.rest_api_id},
        )
        self._configure_api_stage(settings)
        self._configure_api_edge(sam_template)

    # -------------------------------------------------------------- SnapStart
    def _snap_start(self, api_function: Any) -> None:
        """Each deploy publishes a version (its init runs once, then is snapshotted) behind
        the alias API Gateway invokes. PRIME_ON_INIT makes that init build what requests
        would build on first use; the event functions have no snapshot and stay lazy."""
        api_function.add_property_override("SnapStart", {"ApplyOn": "PublishedVersions"})
        api_function.add_property_override("AutoPublishAlias", API_ALIAS)
        api_function.add_property_override("Environment.Variables.PRIME_ON_INIT", "true")
        # The permission names the alias: grant it once SAM has made the alias.
        permission = self.chalice.get_resource(f"{API_FUNCTION}InvokePermission")
        permission.add_override("DependsOn", [f"{API_FUNCTION}Alias{API_ALIAS}"])

    # ------------------------------------------------------------------- logs
    def _own_log_group(self, resource: Any, fn: FunctionInfo, settings: StageSettings) -> None:
        """Each function logs to a group this stack owns (retention set, created before the
        function, so Lambda never creates an unmanaged one). Chalice's own
        log_retention_in_days emits a wrong logical id for the API handler in 1.34."""
        group = logs.LogGroup(self, f"{fn.logical_id}Logs")
        cfn_group: logs.CfnLogGroup = group.node.default_child  # type: ignore[assignment]
        cfn_group.retention_in_days = settings.log_retention_days
        resource.add_property_override("LoggingConfig", {"LogGroup": group.log_group_name, "LogFormat": "Text"})
        role = {API_FUNCTION: self.api_role, BACKFILL_FUNCTION: self.backfill_role}.get(fn.logical_id, self.worker_role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid=f"WriteLogs{fn.logical_id}",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[group.log_group_arn],
            )
        )
        self.log_groups[fn.logical_id] = group

    # ----------------------------------------------------------------- limits
    @staticmethod
    def _limits(resource: Any, fn: FunctionInfo) -> None:
        """Timeouts and reserved concurrency by Chalice function name (settings.py, the same
        figures chalicelib/limits.py gives the local stack)."""
        name = fn.handler.rpartition(".")[2]
        if name in FUNCTION_TIMEOUT_S:
            resource.add_property_override("Timeout", FUNCTION_TIMEOUT_S[name])
        if name in RESERVED_CONCURRENCY:
            resource.add_property_override("ReservedConcurrentExecutions", RESERVED_CONCURRENCY[name])

    # ----------------------------------------------------------------- events
    def _wire_events(self, resource: Any, fn: FunctionInfo) -> None:
        msg = self._messaging
        for name in fn.events_of("Schedule", "CloudWatchEvent", "EventBridgeRule"):
            base = f"Events.{name}.Properties"
            resource.add_property_override(f"{base}.DeadLetterConfig", {"Arn": msg.event_delivery_dlq.queue_arn})
            resource.add_property_override(f"{base}.RetryPolicy", RULE_TARGET_RETRY)
            pattern = fn.events[name]["Properties"].get("Pattern") or {}
            if pattern.get("source") == ["aws.s3"]:
                # The pattern was built from the import placeholder; filter on the real bucket.
                resource.add_property_override(f"{base}.Pattern.detail.bucket.name", [self._data.bucket.bucket_name])
        if fn.is_async:
            resource.add_property_override(
                "EventInvokeConfig",
                {
                    "MaximumRetryAttempts": ASYNC_INVOKE_RETRIES,
                    "MaximumEventAgeInSeconds": ASYNC_EVENT_MAX_AGE_S,
                    "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": msg.async_failure_dlq.queue_arn}},
                },
            )
        for name in fn.events_of("DynamoDB"):
            resource.add_property_override(
                f"Events.{name}.Properties",
                {
                    **fn.events[name]["Properties"],
                    "Stream": self._data.table.table_stream_arn,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "BisectBatchOnFunctionError": True,
                    "MaximumRetryAttempts": STREAM_BATCH_RETRIES,
                    "MaximumRecordAgeInSeconds": STREAM_MAX_RECORD_AGE_S,
                    "FilterCriteria": stream_filter_criteria(),
                    "DestinationConfig": {
                        "OnFailure": {"Type": "SQS", "Destination": msg.stream_failure_dlq.queue_arn}
                    },
                },
            )
        for name, event in fn.events_of("SQS").items():
            base = f"Events.{name}.Properties"
            if fn.logical_id == JOB_WORKER_FUNCTION:
                resource.add_property_override(f"{base}.Queue", msg.jobs.queue_arn)
                resource.add_property_override(f"{base}.ScalingConfig", {"MaximumConcurrency": JOBS_MAX_CONCURRENCY})
                continue
            if WORK_QUEUE_DEFAULT_NAME in json.dumps(event["Properties"].get("Queue")):
                resource.add_property_override(f"{base}.Queue", msg.work.queue_arn)
                resource.add_property_override(
                    f"{base}.ScalingConfig", {"MaximumConcurrency": WORK_QUEUE_MAX_CONCURRENCY}
                )
                resource.add_property_override(f"{base}.FunctionResponseTypes", ["ReportBatchItemFailures"])
                continue
            resource.add_property_override(f"{base}.Queue", msg.webhooks.queue_arn)
            resource.add_property_override(f"{base}.ScalingConfig", {"MaximumConcurrency": WEBHOOK_MAX_CONCURRENCY})

    # -------------------------------------------------------------------- API
    def _configure_api_stage(self, settings: StageSettings) -> None:
        access_logs = logs.LogGroup(self, "ApiAccessLogs")
        cfn_logs: logs.CfnLogGroup = access_logs.node.default_child  # type: ignore[assignment]
        cfn_logs.retention_in_days = settings.log_retention_days
        # API Gateway writes logs through the account-level CloudWatch role.
        cloudwatch_role = self.api_gateway_cloudwatch_role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=cloudwatch_role.role_arn)
        rest_api = self.chalice.get_resource("RestAPI")
        rest_api.add_property_override("Name", self.api_name)
        rest_api.add_property_override(
            "AccessLogSetting",
            {
                "DestinationArn": access_logs.log_group_arn,
                "Format": json.dumps(
                    {
                        "requestId": "$context.requestId",
                        "ip": "$context.identity.sourceIp",
                        "requestTime": "$context.requestTime",
                        "httpMethod": "$context.httpMethod",
                        "resourcePath": "$context.resourcePath",
                        "status": "$context.status",
                        "responseLength": "$context.responseLength",
                        "integrationLatency": "$context.integrationLatency",
                    },
                    separators=(",", ":"),
                ),
            },
        )
        rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "MetricsEnabled": True,
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,
                    "ThrottlingRateLimit": settings.api_throttle_rate,
                    "ThrottlingBurstLimit": settings.api_throttle_burst,
                }
            ],
        )
        rest_api.add_resource_dependency(account)

    def _configure_api_edge(self, sam_template: Path) -> None:
        """API Gateway's own answers in the contract's shape, and an ANY method per path so
        an undeclared method is the app's 405 (fieldsales_infra/gateway.py)."""
        rest_api = self.chalice.get_resource("RestAPI")
        rest_api.add_property_override("GatewayResponses", gateway_responses())
        rest_api.add_property_override("DefinitionBody.paths", with_any_method(read_paths(sam_template)))

    # -------------------------------------------------------------------- IAM
    def _lambda_role(self, construct_id: str, description: str) -> iam.Role:
        """Log permissions are added per function with its own log group (no CreateLogGroup)."""
        role = iam.Role(
            self, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        return role

    def _table_resources(self) -> list[str]:
        table = self._data.table
        return [table.table_arn, f"{table.table_arn}/index/*"]

    def _grant_tenant_items(self, role: iam.Role) -> None:
        """Item reads and writes of the table and its indexes, on tenant-led keys only."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TenantLedItems",
                actions=_ITEM_ACTIONS,
                resources=self._table_resources(),
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*"]}},
            )
        )

    def _grant_api(self, role: iam.Role) -> None:
        """The API serves one tenant per request: every key it touches is tenant-led."""
        self._grant_tenant_items(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeTable", actions=["dynamodb:DescribeTable"], resources=[self._data.table.table_arn]
            )
        )
        bucket = self._data.bucket
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PresignUploads",
                actions=["s3:PutObject", "s3:PutObjectTagging"],
                resources=[bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadAndTagObjects",
                actions=["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        self._grant_common(role)
        self.cursor_secret.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeTenantDataRole",
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[self.tenant_data_role.role_arn],
            )
        )

    def _grant_worker(self, role: iam.Role) -> None:
        """Schedules, the stream consumer and the S3 worker run across tenants."""
        msg = self._messaging
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TableItems", actions=[*_ITEM_ACTIONS, "dynamodb:DescribeTable"], resources=self._table_resources()
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTableStream",
                actions=[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                resources=[f"{self._data.table.table_arn}/stream/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProcessObjects",
                actions=[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:GetObjectTagging",
                    "s3:PutObjectTagging",
                ],
                resources=[self._data.bucket.arn_for_objects("*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ConsumeQueues",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                resources=[msg.webhooks.queue_arn, msg.jobs.queue_arn, msg.work.queue_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="EnqueueFanoutTasks", actions=["sqs:SendMessage"], resources=[msg.work.queue_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="OnFailureDestinations",
                actions=["sqs:SendMessage"],
                resources=[msg.async_failure_dlq.queue_arn, msg.stream_failure_dlq.queue_arn],
            )
        )
        self._grant_common(role)

    def _grant_backfill(self, role: iam.Role) -> None:
        """The backfill reads and writes table items (every key it touches is tenant-led: the
        tenant registry's item too) and, to find tenants stored before the registry existed,
        Scans the base table (not its indexes): nothing else, no stream, S3, SQS or events."""
        self._grant_tenant_items(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DiscoverTenants", actions=["dynamodb:Scan"], resources=[self._data.table.table_arn]
            )
        )

    def _grant_common(self, role: iam.Role) -> None:
        stack = Stack.of(self)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EmitDomainEvents",
                actions=["events:PutEvents"],
                resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EnqueueWebhooks", actions=["sqs:SendMessage"], resources=[self._messaging.webhooks.queue_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EnqueueJobs", actions=["sqs:SendMessage"], resources=[self._messaging.jobs.queue_arn]
            )
        )

    def _tenant_data_role(self) -> iam.Role:
        """Hard tenant isolation: the API assumes this role with session tag ``tenant_id``
        and can then touch only keys ``T#<that tenant>#...`` and that tenant's uploads."""
        role = iam.Role(
            self,
            "TenantDataRole",
            description="Fieldsales per-request tenant session (session tag tenant_id)",
            assumed_by=iam.ArnPrincipal(self.api_role.role_arn)
            .with_session_tags()
            .with_conditions({"StringLike": {"aws:RequestTag/tenant_id": "?*"}}),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="OwnTenantItems",
                actions=_ITEM_ACTIONS,
                resources=self._table_resources(),
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#${aws:PrincipalTag/tenant_id}#*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="OwnTenantUploads",
                actions=["s3:GetObject", "s3:PutObject", "s3:GetObjectTagging", "s3:PutObjectTagging"],
                resources=[self._data.bucket.arn_for_objects(f"{UPLOAD_PREFIX}${{aws:PrincipalTag/tenant_id}}/*")],
            )
        )
        return role


# No Scan (but the one-off backfill's tenant discovery): jobs query a due-index, so work is
# proportional to what is due.
_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
]
