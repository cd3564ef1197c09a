"""The single table and the photo/receipt bucket.

The table's keys must equal ``chalicelib.models.base.table_schema()``; tests/infra holds
the drift test (infra never imports chalicelib, so the names are restated here).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from fieldsales_infra.settings import StageSettings

PARTITION_KEY = "PK"
SORT_KEY = "SK"
GSI_NAMES = ("GSI1", "GSI2", "GSI3")
TTL_ATTRIBUTE = "ttl"

# Uploads land under uploads/<tenant>/<user>/<upload_id>. The presigned POST tags them
# upload-state=pending; attaching one to a sign-in or expense retags it, so what is still
# pending after ABANDONED_UPLOAD_DAYS was never used and expires.
UPLOAD_PREFIX = "uploads/"
PENDING_TAG = ("upload-state", "pending")
ABANDONED_UPLOAD_DAYS = 7
NONCURRENT_VERSION_DAYS = 30
UPLOAD_CORS_METHODS = (s3.HttpMethods.POST, s3.HttpMethods.GET)


class DataStore(Construct):
    """Table + uploads bucket (+ the bucket that receives the uploads bucket's access logs)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=settings.deletion_protection,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for name in GSI_NAMES:
            self.table.add_global_secondary_index(
                index_name=name,
                partition_key=dynamodb.Attribute(name=f"{name}PK", type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=f"{name}SK", type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Uploads",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="uploads-bucket/",
            cors=[
                s3.CorsRule(
                    allowed_methods=list(UPLOAD_CORS_METHODS),
                    allowed_origins=list(settings.cors_origins),
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
                s3.LifecycleRule(
                    id="expire-abandoned-uploads",
                    prefix=UPLOAD_PREFIX,
                    tag_filters={PENDING_TAG[0]: PENDING_TAG[1]},
                    expiration=Duration.days(ABANDONED_UPLOAD_DAYS),
                ),
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    expired_object_delete_marker=True,
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # EventBridge notifications set on the bucket itself (no notifications custom
        # resource Lambda): S3 sends "Object Created" to the default bus for object_created.
        cfn_bucket: s3.CfnBucket = self.bucket.node.default_child  # type: ignore[assignment]
        cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
