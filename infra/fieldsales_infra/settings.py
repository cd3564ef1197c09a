"""Per-stage settings, read once from CDK context (``-c stage=prod -c alarmEmail=...``)."""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("dev", "prod")


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
    )
