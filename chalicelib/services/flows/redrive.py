"""Stream re-drive of after-commit effects (see services/platform/aftercommit.py).

A request does its effects after its commit point at once, with retries; this finishes
those it could not, from the table's stream records of their causes. Every effect is
idempotent (messages are deduplicated by key, activities have ids that follow their
cause), so on AWS, where every record arrives, re-driving a success does nothing, and a
duplicate or late record is harmless.
"""

from __future__ import annotations

from typing import Optional

from chalicelib.models.base import BaseItem
from chalicelib.models.expenses import Expense
from chalicelib.models.feed import Comment
from chalicelib.models.org import Project, User
from chalicelib.models.signins import SignIn
from chalicelib.models.webhooks import InboundReceipt
from chalicelib.services.collab import redrive as collab_redrive
from chalicelib.services.crm import crm
from chalicelib.services.expenses import expenses
from chalicelib.services.feed import feed
from chalicelib.services.feed.feed_index import get_activity
from chalicelib.services.fieldwork import signins
from chalicelib.services.flows import offboarding
from chalicelib.services.org import org
from chalicelib.services.platform.projections import INSERT, MODIFY, Change, Projection, Rebuild, Scope, reads


def handle_change(change: Change) -> bool:
    """Re-drive what this change's request had to do after its commit. True if it applied."""
    event_name, new, old = change.event_name, change.new, change.old
    if new is None:
        return False
    if isinstance(new, Comment) and event_name == "INSERT":
        activity = get_activity(new.tenant_id, new.activity_id)
        if activity is not None:
            feed.notify_comment(activity, new)
        return activity is not None
    if isinstance(new, SignIn) and event_name == "INSERT":
        account = crm.get_object(new.tenant_id, "account", new.account_id) if new.account_id else None
        signins.record_activity(new, account)
        return True
    if isinstance(new, Expense) and event_name == "MODIFY" and isinstance(old, Expense):
        expenses.redrive(old, new)
        return True
    if isinstance(new, User) and isinstance(old, User) and old.path != new.path:
        offboarding.follow_move(old, new)  # a manager change: subtree and waiting approvals
    # a deactivation's handover is a job (services/flows/orgjobs.py), started from this record too
    if isinstance(new, User) and isinstance(old, User) and new.is_active and not old.is_active:
        offboarding.pull_back(new.tenant_id, new.user_id)  # a reactivation: waits come back
    if collab_redrive.redrive(old, new):  # tasks, instructions, approval requests
        return True
    if isinstance(new, Project):
        org.sync_memberships(old if isinstance(old, Project) else None, new)
        return True
    if isinstance(new, InboundReceipt) and event_name == "INSERT" and new.type == "expense.payment_updated":
        e = expenses.load(new.tenant_id, new.ref_id) if new.ref_id else None
        if e is not None and e.payment_status:
            expenses.notify_paid(e, new.webhook_id)
        return e is not None
    return False


def _rebuild_memberships(scope: Scope, item: BaseItem) -> Optional[int]:
    if not isinstance(item, Project):
        return None
    org.sync_memberships(None, item)
    return len(set(item.member_ids or ()) | {item.owner_id})


PROJECTION = Projection(
    name="redrive",
    reads=(
        reads("Comment", "SignIn", "InboundReceipt", events=[INSERT]),
        reads("Expense", "User", events=[MODIFY]),
        reads("Project", *collab_redrive.ENTITIES, events=[INSERT, MODIFY]),
    ),
    kept="after_commit",
    writes=(
        "effects: comment message",
        "effects: sign-in activity",
        "effects: expense messages and activities",
        "effects: payment message",
        "effects: collaboration entries, messages and activities",
        "effects: a manager change's subtree and waiting approvals",
        "ProjectMembership",
    ),
    apply=handle_change,
    rebuilds=(Rebuild("projects", _rebuild_memberships, index="projects"),),
    doc="the after-commit effects a request could not finish, from their causes' records",
)
