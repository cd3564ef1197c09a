"""The opportunity stage pipeline of a tenant: ordered stages, each with a win probability
(percent) and an outcome (``open``, ``won``, ``lost``).

Every tenant starts with the default pipeline; an admin may replace it (settings
``pipeline``). An opportunity's stage must be a key of its tenant's pipeline (422
``unknown_stage``). Opportunities left on a stage an admin later removes keep it: they
count as open with probability 0 until moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from chalicelib.errors import Unprocessable
from chalicelib.models.org import StageAttribute, TenantSettings
from chalicelib.vocabulary import STAGE_OUTCOMES

OUTCOMES = STAGE_OUTCOMES  # chalicelib/vocabulary.py: the one list
DEFAULT_PIPELINE: tuple[tuple[str, int, str], ...] = (
    ("lead", 10, "open"),
    ("qualify", 25, "open"),
    ("proposal", 50, "open"),
    ("negotiation", 75, "open"),
    ("won", 100, "won"),
    ("lost", 0, "lost"),
)
MAX_STAGES = 30


@dataclass(frozen=True)
class Stage:
    key: str
    probability: int
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "probability": self.probability, "outcome": self.outcome}


UNKNOWN = Stage("", 0, "open")


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]

    def get(self, key: Optional[str]) -> Optional[Stage]:
        return next((s for s in self.stages if s.key == key), None)

    def outcome(self, key: Optional[str]) -> str:
        return (self.get(key) or UNKNOWN).outcome

    def require(self, key: str) -> Stage:
        stage = self.get(key)
        if stage is None:
            keys = ", ".join(s.key for s in self.stages)
            raise Unprocessable(f"stage {key!r} is not in the pipeline ({keys})", code="unknown_stage")
        return stage


DEFAULT = Pipeline(tuple(Stage(*s) for s in DEFAULT_PIPELINE))


def of(tenant_settings: TenantSettings) -> Pipeline:
    stored = tenant_settings.pipeline
    if not stored:
        return DEFAULT
    return Pipeline(tuple(Stage(s.key, int(s.probability), s.outcome) for s in stored))


def validate(stages: list[dict[str, Any]]) -> list[StageAttribute]:
    """A replacement pipeline: unique keys, at least one open, one won and one lost stage."""
    keys = [s["key"] for s in stages]
    if len(set(keys)) != len(keys):
        raise Unprocessable("pipeline stage keys must be unique", code="invalid_pipeline")
    outcomes = {s["outcome"] for s in stages}
    if not set(OUTCOMES) <= outcomes:
        raise Unprocessable("a pipeline needs at least one open, one won and one lost stage", code="invalid_pipeline")
    return [StageAttribute(key=s["key"], probability=s["probability"], outcome=s["outcome"]) for s in stages]
