"""The jobs queue delivered to the ``job_worker`` handler as Lambda's SQS mapping would (a
Lambda context counting down from the function's deployed timeout, local/pumps.py): for
tests that run org-change jobs at the moment they choose."""

from __future__ import annotations

from typing import Any, Optional

import boto3

from local.pumps import call_with_timeout
from local.resources import JOBS_QUEUE


class JobQueue:
    def __init__(self, app: Any = None) -> None:
        from app import app as chalice_app

        self.handler = (app or chalice_app).handler_map["job_worker"]
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=JOBS_QUEUE)["QueueUrl"]
        self.invocations = 0
        self.failures = 0

    def receive(self) -> Optional[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=1, AttributeNames=["All"])
        messages = got.get("Messages", [])
        return messages[0] if messages else None

    def deliver(self, message: dict[str, Any]) -> bool:
        """One invocation with one message; True when it succeeded (the message deleted),
        else the message is visible again at once (SQS would wait for its visibility)."""
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:" + JOBS_QUEUE,
                    "awsRegion": "us-east-1",
                }
            ]
        }
        self.invocations += 1
        try:
            call_with_timeout(self.handler, event, "job_worker")
        except Exception:  # noqa: BLE001 - a failed invocation: SQS redelivers the message
            self.failures += 1
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            return False
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def drain(self, limit: int = 5000) -> int:
        """Deliver until the queue is empty; answers how many invocations ran."""
        ran = 0
        while ran < limit:
            message = self.receive()
            if message is None:
                return ran
            self.deliver(message)
            ran += 1
        raise AssertionError("the jobs queue did not drain")
