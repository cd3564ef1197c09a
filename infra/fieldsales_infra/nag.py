"""cdk-nag (AwsSolutions) acknowledgements. Each names the exact finding it accepts and why;
anything not listed here fails the synth (and tests/infra)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

from fieldsales_infra.app import FieldsalesApp
from fieldsales_infra.identity import Identity
from fieldsales_infra.messaging import Messaging
from fieldsales_infra.push import PUSH_PLATFORMS, application_name

TABLE_INDEXES = "Resource::<DataTableFDBAD0F2.Arn>/index/*"
TABLE_STREAMS = "Resource::<DataTableFDBAD0F2.Arn>/stream/*"
ALL_OBJECTS = "Resource::<DataUploads81D8EB70.Arn>/*"
UPLOAD_OBJECTS = "Resource::<DataUploads81D8EB70.Arn>/uploads/*"
TENANT_UPLOADS = "Resource::<DataUploads81D8EB70.Arn>/uploads/<aws:PrincipalTag/tenant_id>/*"


def _ack(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_justified_findings(app: FieldsalesApp, identity: Identity, messaging: Messaging) -> None:
    _ack(
        identity.user_pool,
        "AwsSolutions-COG2",
        "MFA (TOTP) is optional for field staff on shared devices; threat protection runs in "
        "FULL_FUNCTION (enforced) mode, which demands a second factor for risky sign-ins.",
    )
    for queue in (messaging.event_delivery_dlq, messaging.async_failure_dlq, messaging.stream_failure_dlq):
        _ack(
            queue,
            "AwsSolutions-SQS3",
            "This queue IS a dead-letter queue: the on-failure target of EventBridge rules, async "
            "Lambda invokes or the stream mapping (cdk-nag only recognises SQS redrive DLQs).",
        )
    _ack(
        app.cursor_secret,
        "AwsSolutions-SMG4",
        "An HMAC key for opaque list cursors, not a credential: rotating it only invalidates open "
        "cursors (clients restart the list). Rotate by hand with put-secret-value when needed.",
    )
    index_reason = (
        "The GSI1..GSI3 index ARNs of the single table (table/<name>/index/*); data actions are "
        "listed one by one, with no Scan."
    )
    for role in (app.api_role, app.worker_role, app.tenant_data_role, app.backfill_role):
        _ack(role, f"AwsSolutions-IAM5[{TABLE_INDEXES}]", index_reason)
    _ack(
        app.worker_role,
        f"AwsSolutions-IAM5[{TABLE_STREAMS}]",
        "Stream ARNs carry a creation timestamp (table/<name>/stream/<time>); read-only stream "
        "actions for the one table's stream consumer.",
    )
    objects_reason = (
        "Object keys are per tenant/user/upload and unknown in advance; actions are listed "
        "one by one (no s3:*), and the bucket holds only this app's uploads and thumbnails."
    )
    for role in (app.api_role, app.worker_role):
        _ack(role, f"AwsSolutions-IAM5[{ALL_OBJECTS}]", objects_reason)
    _ack(
        app.api_role, f"AwsSolutions-IAM5[{UPLOAD_OBJECTS}]", "Presigned POSTs may create objects under uploads/ only."
    )
    _ack(
        app.tenant_data_role,
        f"AwsSolutions-IAM5[{TENANT_UPLOADS}]",
        "Scoped to the caller's own tenant prefix through the tenant_id session tag.",
    )
    _ack(
        app.api_gateway_cloudwatch_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "The AWS-maintained policy made for API Gateway's account-level logging role (access logs).",
    )
    _acknowledge_push(app)
    for fn in app.functions.values():
        if fn.is_async:
            _ack(
                app.chalice.get_resource(fn.logical_id),
                "CloudFormation-Validate::E0001",
                "False positive: checked before the raw overrides that complete this SAM event; "
                "tests/infra runs the real SAM transform on the final template.",
            )


def _acknowledge_push(app: FieldsalesApp) -> None:
    """SNS mobile push (fieldsales_infra/push.py)."""
    endpoints_reason = (
        "One SNS platform endpoint per registered phone, made at run time: their ARNs end in an id SNS "
        "chooses (endpoint/<platform>/<application>/<id>). Scoped to this stage's applications; the actions "
        "are listed one by one (registration: Get/Set/DeleteEndpoint; fan-out: Publish)."
    )
    for platform in app.push.applications:
        application = f"{PUSH_PLATFORMS[platform]}/{application_name(app.push.stage, platform)}"
        resource = f"Resource::arn:<AWS::Partition>:sns:<AWS::Region>:<AWS::AccountId>:endpoint/{application}/*"
        for role in (app.api_role, app.worker_role):
            _ack(role, f"AwsSolutions-IAM5[{resource}]", endpoints_reason)
    if app.push.function is not None:
        _ack(
            app.push.function,
            "AwsSolutions-L1",
            "The custom resource runs on the same runtime as every function of the app (settings.LAMBDA_RUNTIME), "
            "chosen and upgraded for all of them at once.",
        )
