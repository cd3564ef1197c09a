"""Per-stage settings, read once from CDK context (``-c stage=prod -c alarmEmail=...``)."""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("dev", "prod")

# Every function runs one package on one runtime and architecture (Chalice builds one zip).
# python3.13: the newest runtime Chalice 1.34 and every pinned wheel support (glibc 2.34 on
# Amazon Linux 2023), and SnapStart needs 3.12+. arm64 (Graviton): every native wheel the
# package ships (pydantic-core, cryptography, cffi, pillow) exists for cp313 manylinux aarch64,
# and arm64 costs about 20% less per GB-second than x86_64 for the same memory.
LAMBDA_RUNTIME = "python3.13"
LAMBDA_ARCHITECTURE = "arm64"


@dataclass(frozen=True)
class Sizing:
    memory_mb: int
    reason: str


# Lambda gives CPU in proportion to memory (one full vCPU at 1,769 MB). Per function (the
# logical ids of the SAM template Chalice generates):
FUNCTION_SIZING = {
    "APIHandler": Sizing(
        1024,
        "latency: every request verifies an RS256 token and validates pydantic models (CPU); "
        "with SnapStart, init is restored rather than re-run, so memory buys request time",
    ),
    "ObjectCreated": Sizing(
        1769,
        "CPU-bound: decodes, EXIF-rotates and re-encodes photos with Pillow (single-threaded, "
        "so one full vCPU and no more); 12 MP peaks near 32 MB, 48 MP several times that",
    ),
    "PlanReminders": Sizing(512, "I/O-bound DynamoDB queries every minute; 512 MB keeps the lazy cold init short"),
    "BudgetAlerts": Sizing(512, "I/O-bound, hourly: a few queries and at most a webhook enqueue per tenant"),
    "CloseOpenVisits": Sizing(512, "I/O-bound, every 15 minutes: a due-index query and conditional writes"),
    "TeamDigest": Sizing(512, "I/O-bound, hourly: index queries and one message per manager of the tenants at 08:00"),
    "DelegationBoundaries": Sizing(512, "I/O-bound, every 15 minutes: two index queries and the approvals they move"),
    "TableStream": Sizing(512, "I/O-bound fan-out of stream batches (up to 100 records) to DynamoDB and SQS"),
    "BackfillIndexes": Sizing(512, "I/O-bound, run by hand after an upgrade: bounded pages of Queries and writes"),
    "WebhookDeliveries": Sizing(512, "I/O-bound: signs (HMAC, cheap) and posts one webhook per message"),
    "JobWorker": Sizing(512, "I/O-bound: one bounded step of a job (index queries and conditional writes)"),
}
DEFAULT_SIZING = Sizing(512, "a function added later starts I/O-bound: size it here when it is not")
FUNCTION_SIZING["FanoutWorker"] = Sizing(
    512, "I/O-bound: one schedule task (a tenant's digest, a due-index shard) of queries and conditional writes"
)

# = chalicelib/limits.py (infra never imports chalicelib; tests/infra/test_drift.py holds them
# equal). Timeouts by Chalice function name; a fan-out step stops at 40% of its timeout.
FUNCTION_TIMEOUT_S = {
    "fanout_worker": 120,
    "plan_reminders": 60,
    "team_digest": 60,
    "close_open_visits": 60,
    "budget_alerts": 60,
    "job_worker": 60,  # org-change jobs: a step stops well before it (services/platform/jobs.py)
    "backfill_indexes": 900,  # it stops 10 s before and answers a cursor to go on from
}
# Reserved concurrency: the fan-out worker can never take the account's whole pool (the API
# would be throttled by a digest burst at 08:00) and always has its share.
RESERVED_CONCURRENCY = {"fanout_worker": 50}
WORK_QUEUE_MAX_CONCURRENCY = 50
# The per-tenant limiter (token bucket per tenant, requests a second and burst).
TENANT_RATE = (20.0, 40)


def _flag(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class StageSettings:
    stage: str
    deletion_protection: bool
    log_retention_days: int
    alarm_email: str | None
    cors_origins: tuple[str, ...]
    api_throttle_rate: int
    api_throttle_burst: int
    # (platform, Secrets Manager secret name or ARN) per push platform (fieldsales_infra/push.py)
    push_credentials: tuple[tuple[str, str], ...] = ()
    push_revision: str = "1"  # change to re-read rotated push credentials

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def stack_name(self) -> str:
        return f"fieldsales-{self.stage}"


def stage_settings(stage: str, context: dict[str, object]) -> StageSettings:
    """``context`` is what ``node.try_get_context`` returns for each key (None when unset)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
    prod = stage == "prod"
    origins = context.get("corsOrigins") or "*"
    return StageSettings(
        stage=stage,
        # Prod tables and pools can never be deleted by a stack update; dev opts in.
        deletion_protection=prod or _flag(context.get("deletionProtection"), False),
        log_retention_days=int(context.get("logRetentionDays") or (90 if prod else 14)),
        alarm_email=(str(context["alarmEmail"]) if context.get("alarmEmail") else None),
        cors_origins=tuple(o.strip() for o in str(origins).split(",") if o.strip()),
        api_throttle_rate=int(context.get("apiThrottleRate") or (200 if prod else 50)),
        api_throttle_burst=int(context.get("apiThrottleBurst") or (400 if prod else 100)),
        push_credentials=_pairs(context.get("pushCredentials")),
        push_revision=str(context.get("pushRevision") or "1"),
    )


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    """``"apns=name,fcm=arn:..."`` -> (("apns", "name"), ("fcm", "arn:...")), by platform."""
    pairs = []
    for part in str(value or "").split(","):
        if part.strip():
            platform, _, ref = part.partition("=")
            if not ref.strip():
                raise ValueError(f"pushCredentials: {part!r} is not <platform>=<secret name or ARN>")
            pairs.append((platform.strip(), ref.strip()))
    return tuple(sorted(pairs))
