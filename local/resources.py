"""Creates the table, bucket, bus and queues from the same definitions the app's models
use (``BaseItem``), so local and deployed cannot drift; tests/infra compares the
deployed template with ``chalicelib.models.base.table_schema()``."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from chalicelib import limits
from chalicelib.config import PUSH_APP_ENV_PREFIX, stage
from chalicelib.models.base import TTL_ATTRIBUTE, BaseItem
from chalicelib.services.push.platforms import PLATFORMS, application_name
from local.switches import time_scale

WEBHOOK_QUEUE = "fieldsales-webhooks"
WEBHOOK_DLQ = "fieldsales-webhooks-dlq"
EVENTS_TAP_QUEUE = "fieldsales-local-events-tap"
JOBS_QUEUE = "fieldsales-jobs"
JOBS_DLQ = "fieldsales-jobs-dlq"
MAX_WEBHOOK_ATTEMPTS = 8
MAX_JOB_RECEIVES = 6  # jobs.MAX_ATTEMPTS + 1: the last receive records the failure (as infra/)
WORK_QUEUE = "fieldsales-work"  # the schedules' fan-out tasks (chalicelib/config.py's default name)
WORK_DLQ = "fieldsales-work-dlq"
STREAM_DLQ = "fieldsales-stream-dlq"  # the stream mapping's on-failure destination (StreamFailureDlq)
MAX_WORK_ATTEMPTS = 5  # same as infra/fieldsales_infra/messaging.py (a drift test compares them)
# 6x the worker's timeout, as Lambda advises (infra too); scaled like the local functions' timeouts
WORK_VISIBILITY_S = 6 * limits.timeout_s("fanout_worker") * time_scale()
UPLOAD_CORS = {
    "CORSRules": [
        {"AllowedMethods": ["POST", "GET"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 3000}
    ]
}


def create_table(client: Any = None) -> None:
    if not BaseItem.exists():
        BaseItem.create_table(wait=True)
    client = client or boto3.client("dynamodb")
    client.update_time_to_live(
        TableName=BaseItem.Meta.table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def create_bucket(name: str, s3: Any = None) -> None:
    s3 = s3 or boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_cors(Bucket=name, CORSConfiguration=UPLOAD_CORS)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def create_queues(sqs: Any = None) -> dict[str, str]:
    sqs = sqs or boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=WEBHOOK_DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=WEBHOOK_QUEUE,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_WEBHOOK_ATTEMPTS}),
        },
    )["QueueUrl"]
    jobs_dlq_url = sqs.create_queue(QueueName=JOBS_DLQ)["QueueUrl"]
    jobs_dlq_arn = _arn(sqs, jobs_dlq_url)
    jobs_url = sqs.create_queue(
        QueueName=JOBS_QUEUE,
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": jobs_dlq_arn, "maxReceiveCount": MAX_JOB_RECEIVES}),
        },
    )["QueueUrl"]
    return {
        "webhooks": url,
        "webhooks_dlq": dlq_url,
        "jobs": jobs_url,
        "jobs_dlq": jobs_dlq_url,
        "stream_dlq": sqs.create_queue(QueueName=STREAM_DLQ)["QueueUrl"],
        **create_work_queue(sqs),
    }


def create_work_queue(sqs: Any) -> dict[str, str]:
    dlq_url = sqs.create_queue(QueueName=WORK_DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=WORK_QUEUE,
        Attributes={
            "VisibilityTimeout": str(WORK_VISIBILITY_S),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_WORK_ATTEMPTS}),
        },
    )["QueueUrl"]
    return {"work": url, "work_dlq": dlq_url}


def create_event_tap(bus: str = "default", events: Any = None, sqs: Any = None) -> str:
    """Route every event on the bus to a queue the local stack reads (moto runs no Lambda
    targets), so ``on_cw_event`` handlers see application events as they would on AWS."""
    events = events or boto3.client("events")
    sqs = sqs or boto3.client("sqs")
    url = sqs.create_queue(QueueName=EVENTS_TAP_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="local-tap", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    events.put_targets(Rule="local-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return url


def create_push_applications(sns: Any = None) -> dict[str, str]:
    """One SNS platform application per push platform (the deployed stack's custom resource
    makes the same from Secrets Manager credentials), exported to the app as
    ``PUSH_APP_ARN_<PLATFORM>``; answers {platform: ARN}."""
    sns = sns or boto3.client("sns")
    arns = {}
    for platform, spec in PLATFORMS.items():
        arns[platform] = sns.create_platform_application(
            Name=application_name(stage(), platform),
            Platform=spec.sns_platform,
            Attributes={"PlatformCredential": f"local-{platform}-credential", "PlatformPrincipal": "local"},
        )["PlatformApplicationArn"]
        os.environ[f"{PUSH_APP_ENV_PREFIX}{platform.upper()}"] = arns[platform]
    return arns


def create_all(bucket: str) -> dict[str, str]:
    create_table()
    create_bucket(bucket)
    urls = create_queues()
    urls["events_tap"] = create_event_tap()
    urls |= {f"push_{platform}": arn for platform, arn in create_push_applications().items()}
    return urls
