"""The AWS stand-in for `make run`: a moto server in its own process (its own GIL, so the
API and the pumps do not queue behind it), with requests applied one at a time.

moto's in-memory backends are not thread-safe: concurrent TransactWriteItems calls were
seen failing inside moto ("dictionary changed size during iteration"). Real DynamoDB has
no such limit, so the stand-in serialises requests rather than let the app see errors
AWS would never send.

    python -m local.motoserver --port 5005
"""

from __future__ import annotations

import argparse
import copy
import logging
import threading
from collections.abc import Iterable
from typing import Any, Callable

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def share_stream_records_in_table_copies() -> None:
    """moto deep-copies the whole table (stream records included, which only grow) before
    every TransactWriteItems, to roll back a cancelled one. Copying the records made each
    transaction slower as the stack aged; the copy now shares them. Cost: a cancelled
    transaction's earlier writes still appear in the stream, which real DynamoDB would not
    emit (the stream consumer recomputes from current state, so it converges)."""
    from moto.dynamodb.models.table import Table

    Table.__deepcopy__ = table_copy  # type: ignore[attr-defined]


def table_copy(self: Any, memo: dict[int, Any]) -> Any:
    """A moto table's deep copy that shares its stream shard (see above)."""
    clone = type(self).__new__(type(self))
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, value if name == "stream_shard" else copy.deepcopy(value, memo))
    return clone


def serialised(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    lock = threading.Lock()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return wsgi


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto server, one request at a time")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    share_stream_records_in_table_copies()
    app = serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    server.request_queue_size = 512
    server.serve_forever()


if __name__ == "__main__":
    main()
