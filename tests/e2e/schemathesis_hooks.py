"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by test_schemathesis_e2e.py).

Cursors are opaque tokens the server signs for one user and one query: no client can make
a valid one, so a generated cursor is refused (400 invalid_cursor) by design. Generated
cases that carry a cursor are skipped here; cursor tampering and reuse are covered by
tests/integration/test_feed_paging.py and the other paging tests.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    return not (query and "cursor" in query)
