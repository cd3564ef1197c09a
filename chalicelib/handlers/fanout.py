"""The schedules' fan-out worker: the tasks the dispatchers (``plan_reminders``,
``close_open_visits``, ``budget_alerts``, ``team_digest``) put on the work queue, each run
by its capability's step with a deadline (services/platform/fanout.py)."""

import functools
from typing import Any

from chalice import Blueprint

from chalicelib.config import work_queue_name
from chalicelib.observability import logger
from chalicelib.services.collab import tasks
from chalicelib.services.expenses import budgets
from chalicelib.services.fieldwork import signins
from chalicelib.services.performance import digest
from chalicelib.services.platform import fanout
from chalicelib.services.schedule import reminders

bp = Blueprint(__name__)

WORK_QUEUE_NAME = work_queue_name()
WORKER_BATCH = 10

# Each task kind and the step that runs it.
STEPS: dict[str, fanout.Step] = {
    reminders.KIND: functools.partial(reminders.work, senders=tasks.REMINDERS),  # plans and tasks
    signins.CLOSE_KIND: signins.close_work,
    budgets.DUE_KIND: budgets.due_work,
    digest.KIND: digest.work,
}


@bp.on_sqs_message(queue=WORK_QUEUE_NAME, batch_size=WORKER_BATCH, name="fanout_worker")
def fanout_worker(event: Any) -> dict[str, Any]:
    """Run a batch of tasks; a failed task is reported (``batchItemFailures``) so SQS
    redelivers it alone, and after the queue's maxReceiveCount it moves to its DLQ."""
    records = [(str(r.to_dict().get("messageId", "")), r.body) for r in event]
    outcome = fanout.work(records, STEPS, fanout.Deadline.of(getattr(event, "context", None)))
    logger.info("fan-out batch", extra=outcome.as_dict())
    return {"batchItemFailures": [{"itemIdentifier": m} for m in outcome.failed]}
