"""Configuration: the only module that reads the environment.

``settings()`` is the frozen object read once; the few values needed while modules are
imported (table, bucket, queue and stream names for the handlers' event sources, the
observability names) and the ones read per use (the cursor key's source, the webhook
backoff base) are functions here too. Fails fast: a missing required variable raises at
first use, with its name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from chalicelib.limits import TENANT_RATE, TenantRate

LOCAL_STAGES = frozenset({"local", "test"})
DEV_CURSOR_SECRET = "fieldsales-cursor-secret"  # local stages only
LOCAL_STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/fieldsales/stream/1970-01-01T00:00:00.000"


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_name: str
    bucket_name: str
    auth_mode: str  # "local" (HS256, dev only) or "cognito" (RS256 via JWKS)
    local_jwt_secret: str
    cognito_user_pool_id: str
    cognito_client_ids: tuple[str, ...]
    cognito_jwks_url: str
    event_bus_name: str
    webhook_queue_url: str
    allow_private_webhook_targets: bool
    service_name: str = "fieldsales"
    # (platform, SNS platform application ARN) per push platform a deployer configured
    push_applications: tuple[tuple[str, str], ...] = ()

    @property
    def is_local(self) -> bool:
        return self.stage in LOCAL_STAGES

    def push_application(self, platform: str) -> str | None:
        """The SNS platform application of a push platform; None when none is configured."""
        return dict(self.push_applications).get(platform)

    @property
    def cognito_issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.cognito_user_pool_id}"


def _require(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def stage() -> str:
    return os.environ.get("STAGE", "local").strip() or "local"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def load_settings() -> Settings:
    stage_ = stage()
    auth_mode = os.environ.get("AUTH_MODE", "local" if stage_ in LOCAL_STAGES else "cognito")
    in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not os.environ.get("FIELDSALES_LOCAL_EMULATION")
    if auth_mode == "local" and (stage_ not in LOCAL_STAGES or in_lambda):
        # Local HS256 tokens can never be accepted by a deployed stage.
        raise ConfigError(f"AUTH_MODE=local is refused in stage {stage_!r}")
    if auth_mode not in {"local", "cognito"}:
        raise ConfigError(f"AUTH_MODE must be 'local' or 'cognito', not {auth_mode!r}")
    region_ = region()
    pool = os.environ.get("COGNITO_USER_POOL_ID", "")
    clients = tuple(c for c in os.environ.get("COGNITO_CLIENT_IDS", "").split(",") if c)
    if auth_mode == "cognito" and (not pool or not clients):
        raise ConfigError("COGNITO_USER_POOL_ID and COGNITO_CLIENT_IDS are required for cognito auth")
    jwks = os.environ.get("COGNITO_JWKS_URL") or (
        f"https://cognito-idp.{region_}.amazonaws.com/{pool}/.well-known/jwks.json"
    )
    return Settings(
        stage=stage_,
        region=region_,
        table_name=_require("TABLE_NAME"),
        bucket_name=_require("BUCKET_NAME"),
        auth_mode=auth_mode,
        local_jwt_secret=os.environ.get("LOCAL_JWT_SECRET", "local-dev-secret"),
        cognito_user_pool_id=pool,
        cognito_client_ids=clients,
        cognito_jwks_url=jwks,
        event_bus_name=os.environ.get("EVENT_BUS_NAME", "default"),
        webhook_queue_url=os.environ.get("WEBHOOK_QUEUE_URL", ""),
        allow_private_webhook_targets=stage_ in LOCAL_STAGES
        and os.environ.get("ALLOW_PRIVATE_WEBHOOK_TARGETS", "true") == "true",
        push_applications=push_applications(),
    )


PUSH_APP_ENV_PREFIX = "PUSH_APP_ARN_"


def push_applications() -> tuple[tuple[str, str], ...]:
    """``PUSH_APP_ARN_<PLATFORM>`` (``PUSH_APP_ARN_APNS_SANDBOX``, ...): the SNS platform
    application of each push platform a deployer configured; an empty value is none."""
    return tuple(
        sorted(
            (name.removeprefix(PUSH_APP_ENV_PREFIX).lower(), value.strip())
            for name, value in os.environ.items()
            if name.startswith(PUSH_APP_ENV_PREFIX) and value.strip()
        )
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def aws_read_timeout_s() -> int:
    """How long an AWS call may wait for its answer before botocore retries it (every client
    and the models'): 10 s, a third of the API function's 30 s, so a hung read leaves time
    for a retry. The local stack on moto as shipped sets a longer one (local/switches.py)."""
    return int(os.environ.get("AWS_READ_TIMEOUT_S", "") or 10)


def table_name() -> str:
    """The table name, needed by the models at import; TABLE_NAME alone is required."""
    return _require("TABLE_NAME")


# ---------------------------------------------------------------- read while modules import
def bucket_name() -> str:
    """The uploads bucket (its object-created rule is declared at import)."""
    return _require("BUCKET_NAME")


def webhook_queue_name() -> str:
    return os.environ.get("WEBHOOK_QUEUE_NAME", "fieldsales-webhooks")


def jobs_queue_name() -> str:
    """The background jobs' queue (services/platform/jobs.py); deployed stages set both."""
    return os.environ.get("JOBS_QUEUE_NAME", "fieldsales-jobs")


def jobs_queue_url() -> str:
    """The jobs queue's URL; empty: resolved from its name (the local stack and tests)."""
    return os.environ.get("JOBS_QUEUE_URL", "").strip()


def work_queue_name() -> str:
    """The schedules' fan-out work queue (its consumer is declared at import)."""
    return os.environ.get("WORK_QUEUE_NAME", "fieldsales-work")


def work_queue_url() -> str:
    """Deployed stages set it; locally the queue is found by its name."""
    return os.environ.get("WORK_QUEUE_URL", "")


def tenant_rate() -> Optional[TenantRate]:
    """The per-tenant API limit: ``TENANT_RATE`` = ``<rate>,<burst>`` or ``off``; unset, the
    figures of chalicelib/limits.py (what infra deploys)."""
    raw = os.environ.get("TENANT_RATE", "").strip().lower()
    if raw == "off":
        return None
    if not raw:
        return TENANT_RATE
    rate, _, burst = raw.partition(",")
    return TenantRate(rate=float(rate), burst=int(burst or rate))


def table_stream_arn() -> str:
    """The table's stream; deployed stages set it, local runs get a stand-in."""
    return os.environ.get("TABLE_STREAM_ARN", LOCAL_STREAM_ARN)


def service_name() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME", "fieldsales")


def metrics_namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Fieldsales")


# ---------------------------------------------------------------- read per use
def cursor_secret_source() -> tuple[str, str]:
    """(Secrets Manager ARN, "") when CURSOR_SECRET_ARN is set, else ("", the key). A
    deployed stage must name one of them: the development key is for local stages only."""
    arn = os.environ.get("CURSOR_SECRET_ARN", "").strip()
    if arn:
        return arn, ""
    secret = os.environ.get("CURSOR_SECRET", "")
    if secret:
        return "", secret
    if stage() not in LOCAL_STAGES:
        raise ConfigError(f"CURSOR_SECRET_ARN (or CURSOR_SECRET) is required in stage {stage()!r}")
    return "", DEV_CURSOR_SECRET


def webhook_backoff_base_s() -> float:
    """Base of the outbound webhook retry backoff (seconds; tests and the local stack shorten it)."""
    return float(os.environ.get("WEBHOOK_BACKOFF_BASE_S", "30"))


def prime_on_init() -> bool:
    """``PRIME_ON_INIT=true`` (set on the SnapStart API function only): build in init what
    a snapshot keeps (validators, service models) instead of on first use. The event
    functions have no snapshot, so they stay lazy."""
    return os.environ.get("PRIME_ON_INIT", "").strip().lower() == "true"
