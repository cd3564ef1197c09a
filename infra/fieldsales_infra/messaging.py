"""SQS: the outbound webhook queue and the dead-letter queues of every asynchronous path.

| queue                 | receives                                                        |
| --------------------- | --------------------------------------------------------------- |
| webhooks              | outbound finance webhooks (consumed by ``webhook_deliveries``)   |
| webhooks-dlq          | deliveries that failed ``MAX_WEBHOOK_ATTEMPTS`` times           |
| event-delivery-dlq    | EventBridge could not invoke a schedule / S3-event target        |
| async-failure-dlq     | a schedule / S3-event Lambda failed after its async retries      |
| stream-failure-dlq    | stream batches that kept failing (on-failure destination)        |
| jobs                  | background jobs' step messages (consumed by ``job_worker``)      |
| jobs-dlq              | a step message whose every delivery was killed (timeouts); the   |
|                       | job itself records the failure first (``JobFailed``, alarmed)    |
| work                  | the schedules' fan-out tasks (consumed by ``fanout_worker``)     |
| work-dlq              | tasks that failed ``MAX_WORK_ATTEMPTS`` times                    |
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_WEBHOOK_ATTEMPTS = 8  # same as local/resources.py (a drift test compares them)
WEBHOOK_VISIBILITY = Duration.seconds(180)  # 6x the function timeout, as Lambda advises
DLQ_RETENTION = Duration.days(14)
JOB_WORKER_TIMEOUT_S = 60  # the job worker's timeout (local/pumps.py uses the same: a drift test)
MAX_JOB_RECEIVES = 6  # services/platform/jobs.MAX_ATTEMPTS + 1: the last receive records the failure
JOBS_VISIBILITY = Duration.seconds(6 * JOB_WORKER_TIMEOUT_S)  # 6x the function timeout, as Lambda advises
MAX_WORK_ATTEMPTS = 5  # same as local/resources.py (a drift test compares them)
WORKER_TIMEOUT_S = 120  # = FUNCTION_TIMEOUT_S["fanout_worker"] (settings.py)
WORK_VISIBILITY = Duration.seconds(6 * WORKER_TIMEOUT_S)  # 6x the worker's timeout, as Lambda advises


def _queue(scope: Construct, construct_id: str, **kwargs: object) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        **kwargs,  # type: ignore[arg-type]
    )


class Messaging(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.webhook_dlq = _queue(self, "WebhookDlq", retention_period=DLQ_RETENTION)
        self.webhooks = _queue(
            self,
            "Webhooks",
            visibility_timeout=WEBHOOK_VISIBILITY,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.webhook_dlq, max_receive_count=MAX_WEBHOOK_ATTEMPTS),
        )
        self.event_delivery_dlq = _queue(self, "EventDeliveryDlq", retention_period=DLQ_RETENTION)
        self.async_failure_dlq = _queue(self, "AsyncFailureDlq", retention_period=DLQ_RETENTION)
        self.stream_failure_dlq = _queue(self, "StreamFailureDlq", retention_period=DLQ_RETENTION)
        self.jobs_dlq = _queue(self, "JobsDlq", retention_period=DLQ_RETENTION)
        self.jobs = _queue(
            self,
            "Jobs",
            visibility_timeout=JOBS_VISIBILITY,
            retention_period=Duration.days(14),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.jobs_dlq, max_receive_count=MAX_JOB_RECEIVES),
        )
        self.work_dlq = _queue(self, "WorkDlq", retention_period=DLQ_RETENTION)
        self.work = _queue(
            self,
            "Work",
            visibility_timeout=WORK_VISIBILITY,
            retention_period=Duration.days(1),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.work_dlq, max_receive_count=MAX_WORK_ATTEMPTS),
        )

        # EventBridge puts undeliverable events on the DLQ itself: only rules of this stack.
        stack = Stack.of(self)
        self.event_delivery_dlq.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeRulesOfThisStack",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.event_delivery_dlq.queue_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="events", resource="rule", resource_name=f"{stack.stack_name}-*"
                        )
                    },
                },
            )
        )

    @property
    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        return {
            "WebhookDlq": self.webhook_dlq,
            "EventDeliveryDlq": self.event_delivery_dlq,
            "AsyncFailureDlq": self.async_failure_dlq,
            "StreamFailureDlq": self.stream_failure_dlq,
            "JobsDlq": self.jobs_dlq,
            "WorkDlq": self.work_dlq,
        }
