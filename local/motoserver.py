"""The AWS stand-in for `make run`: a moto server in its own process (its own GIL, so the
API and the pumps do not queue behind it), with requests applied one at a time.

moto's in-memory backends are not thread-safe: concurrent TransactWriteItems calls were
seen failing inside moto ("dictionary changed size during iteration"). Real DynamoDB has
no such limit, so the stand-in serialises requests rather than let the app see errors
AWS would never send. Transactions are rolled back from a journal of the items they name
rather than from moto's copy of the whole table (``journal_transactions``).

    python -m local.motoserver --port 5005
"""

from __future__ import annotations

import argparse
import copy
import logging
import signal
import threading
from collections.abc import Iterable
from typing import Any, Callable

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

_IN_TRANSACTION = threading.local()


def journal_transactions() -> None:
    """Make moto's TransactWriteItems cost what its items cost, not what the table holds.

    moto deep-copies every table a transaction names before applying it, to roll back a
    cancelled one: each transaction took time proportional to the whole table (a 100-way
    concurrent submit took two minutes once the stack held a few thousand items). Here the
    table copy is skipped and a cancelled transaction is rolled back from a journal of the
    items it names, deep-copied one by one. The stream records the cancelled writes added
    are withdrawn too, as on AWS, where a cancelled transaction emits nothing. Requests are
    applied one at a time (``serialised``), so nothing else runs between write and rollback.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "journaled", False):
        return
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        journal = _journal(self, transact_items)
        _IN_TRANSACTION.active = True
        try:
            original(self, transact_items)
        except Exception:
            _roll_back(journal)
            raise
        finally:
            _IN_TRANSACTION.active = False

    transact_write_items.journaled = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _table_copy  # type: ignore[attr-defined]


def _table_copy(self: Any, memo: dict[int, Any]) -> Any:
    """Inside a journaled transaction the "backup" is the table itself (the journal rolls
    back); anywhere else a real deep copy."""
    if getattr(_IN_TRANSACTION, "active", False):
        return self
    clone = type(self).__new__(type(self))
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, copy.deepcopy(value, memo))
    return clone


def _journal(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash, range, the item as it was or None, stream length) per item named."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    journal: list[tuple[Any, ...]] = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.get_table(op["TableName"])
            key = op["Item"] if "Item" in op else op["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            before = table.get_item(hash_value, range_value)
        except Exception:  # noqa: BLE001 - moto itself refuses this entry; nothing to journal
            continue
        shard = table.stream_shard
        journal.append((table, hash_value, range_value, copy.deepcopy(before), len(shard.items) if shard else 0))
    return journal


def _roll_back(journal: list[tuple[Any, ...]]) -> None:
    for table, hash_value, range_value, before, stream_length in reversed(journal):
        if range_value is None:
            if before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        else:
            bucket = table.items[hash_value]
            if before is None:
                bucket.pop(range_value, None)
                if not bucket:
                    table.items.pop(hash_value, None)
            else:
                bucket[range_value] = before
        shard = table.stream_shard
        if shard is not None and len(shard.items) >= stream_length:
            del shard.items[stream_length:]


class NoDelayHandler(MotoRequestHandler):
    """Responses leave at once: http.server writes the headers and the body in separate
    sends, and with Nagle's algorithm on, the body waited for the client's delayed ACK of
    the headers (40 ms on Linux loopback), so every AWS call took at least 40 ms."""

    disable_nagle_algorithm = True


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
    parser.add_argument(
        "--ignore-interrupt",
        action="store_true",
        help="leave Ctrl-C to the parent: `make run` stops its pumps first, then terminates this server",
    )
    args = parser.parse_args(argv)
    if args.ignore_interrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    journal_transactions()
    app = serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=NoDelayHandler)
    server.request_queue_size = 512
    server.serve_forever()


if __name__ == "__main__":
    main()
