"""A local process that ends when the process that started it is gone.

The local stack starts a moto server, and the end-to-end harness starts the stack. A parent
killed before it could stop its child (a stack killed while it seeds, a test run
interrupted) used to leave the child running: an orphaned moto server kept its port and
went on with whatever request it was applying, taking a core from the next run.
"""

from __future__ import annotations

import os
import threading
import time

CHECK_EVERY_S = 1.0


def exit_with_parent() -> None:
    """Ends this process (at once, as SIGKILL would) within a second of its parent's end:
    the parent is gone when this process is handed to another (``os.getppid`` changes)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(CHECK_EVERY_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
