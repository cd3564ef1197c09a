"""Stream re-drive of the collaboration items' after-commit effects (list entries, messages,
feed activities; see services/platform/aftercommit.py), from their own stream records.
Every effect is idempotent (entries are keyed by content, messages deduplicated by key,
activities have ids that follow their item), so re-driving a success changes nothing."""

from __future__ import annotations

from typing import Any, Optional

from chalicelib.models.collab import ApprovalRequest, Instruction, Task
from chalicelib.services.collab import instructions, requests, tasks

ENTITIES = frozenset({"Task", "Instruction", "ApprovalRequest"})


def redrive(old: Optional[Any], new: Any) -> bool:
    """Do again what the change's request had to do after its commit. True if it applied."""
    if isinstance(new, Task):
        before = old if isinstance(old, Task) else None
        tasks.redrive(before, new)
        return True
    if isinstance(new, Instruction):
        instructions.redrive(old if isinstance(old, Instruction) else None, new)
        return True
    if isinstance(new, ApprovalRequest):
        requests.redrive(old if isinstance(old, ApprovalRequest) else None, new)
        return True
    return False
