"""What the projection registry (chalicelib/services/flows/projections.py) generates for
files outside the app: the stream mapping's filter patterns, which ``infra/`` deploys
(``make stream-filter`` writes infra/fieldsales_infra/stream_filter.json; infra/ never
imports the app), and the "Projections" table of docs/architecture.md. Unit tests hold
both equal to the registry (tests/unit/test_projection_registry.py).

    python -m tools.projections filter           # the JSON infra/ reads, on stdout
    python -m tools.projections filter --write   # ...into FILTER_FILE (``make stream-filter``)
    python -m tools.projections table            # the Markdown table
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.platform.projections import EVENTS, WALKS, Registry

FILTER_FILE = "infra/fieldsales_infra/stream_filter.json"
TABLE_HEADER = "| projection | reads (on events) | kept | writes | backfill |\n| --- | --- | --- | --- | --- |"


def filter_json(registry: Registry = REGISTRY) -> str:
    return json.dumps(registry.filter_patterns(), indent=2) + "\n"


def _reads(entities: frozenset[str], events: frozenset[str]) -> str:
    on = "" if events == frozenset(EVENTS) else f" ({', '.join(e for e in EVENTS if e in events)})"
    return ", ".join(f"`{e}`" for e in sorted(entities)) + on


def table(registry: Registry = REGISTRY) -> str:
    """One row per projection, in the registry's (the stream's) order."""
    rows = [TABLE_HEADER]
    for p in registry:
        reads = "; ".join(_reads(r.entities, r.events) for r in p.reads)
        rebuilt = ", ".join(w for w in WALKS if any(r.walk == w for r in p.rebuilds)) or "no"
        writes = ", ".join(f"`{w}`" for w in p.writes)
        kept = p.kept.replace("_", " ")
        rows.append(f"| `{p.name}` | {reads} | {kept} | {writes} | {rebuilt} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what not in ("filter", "table"):
        sys.exit("usage: python -m tools.projections filter [--write] | table")
    out = filter_json() if what == "filter" else table()
    if sys.argv[2:] == ["--write"] and what == "filter":
        Path(FILTER_FILE).write_text(out)  # computed first: a failure leaves the file as it was
    else:
        sys.stdout.write(out)
