"""The registry of every projection (services/platform/projections.py): the derived data
sets each capability declares next to its code, collected in the one place the layers
allow an import of every capability.

The order is the stream's: each record runs the projections that read it in this order,
each separately (one failing does not keep the others from the record). In-transaction
projections are declared too (they are written by their request's transaction, so the
stream does not run them): the backfill rebuilds them and docs/architecture.md lists them.
"""

from __future__ import annotations

from chalicelib.services.crm import list_index
from chalicelib.services.expenses import approvals, budgets, delegation, stats
from chalicelib.services.feed import feed_index
from chalicelib.services.fieldwork import signins
from chalicelib.services.flows import orgjobs, redrive
from chalicelib.services.org import org
from chalicelib.services.performance import actuals, digest, oppstats
from chalicelib.services.platform import jobs
from chalicelib.services.platform.projections import Registry
from chalicelib.services.push import fanout
from chalicelib.services.reports import figures, reports
from chalicelib.services.sync import changelog

REGISTRY = Registry(
    (
        # kept after the commit: run from the table's stream, in this order
        feed_index.PROJECTION,
        list_index.PROJECTION,
        redrive.PROJECTION,
        actuals.PROJECTION,
        oppstats.PROJECTION,
        digest.PROJECTION,
        orgjobs.PROJECTION,
        jobs.PROJECTION,
        fanout.PROJECTION,
        figures.PROJECTION,
        reports.PROJECTION,
        changelog.PROJECTION,
        # kept inside the writing transaction: declared, rebuilt by the backfill
        org.DIRECTORY,
        approvals.PROJECTION,
        signins.TEAM_DAY,
        budgets.PROJECTION,
        stats.PROJECTION,
        delegation.PROJECTION,
    )
)
