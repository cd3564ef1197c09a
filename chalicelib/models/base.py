"""The single table: one base model, overloaded GSIs, a discriminator per entity.

Every partition key (table and indexes) starts with ``T#<tenant>#`` so tenant isolation
holds by construction and can be enforced with IAM ``dynamodb:LeadingKeys``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Optional, TypeVar, cast

from pynamodb.attributes import DiscriminatorAttribute, ListAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite
from snapshot_restore_py import register_after_restore

from chalicelib.config import aws_read_timeout_s, region, table_name
from chalicelib.errors import UndecodableItem

GSI_NAMES = ("GSI1", "GSI2", "GSI3")
TTL_ATTRIBUTE = "ttl"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


def tenant_prefix(tenant_id: str) -> str:
    return f"T#{tenant_id}#"


def tkey(tenant_id: str, *parts: str) -> str:
    """A tenant-led key: ``T#<tenant>#PART#PART``."""
    return tenant_prefix(tenant_id) + "#".join(parts)


def string_list(**kwargs: Any) -> ListAttribute[str]:
    """A list of strings. (PynamoDB types ``ListAttribute(of=UnicodeAttribute)`` as a list
    of attribute objects; its items are str.)"""
    return cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, **kwargs))


def int_list(**kwargs: Any) -> ListAttribute[int]:
    """A list of integers (see :func:`string_list`)."""
    return cast("ListAttribute[int]", ListAttribute(of=NumberAttribute, **kwargs))


def _index(name: str) -> type[GlobalSecondaryIndex]:
    attrs: dict[str, Any] = {
        "Meta": type("Meta", (), {"index_name": name, "projection": AllProjection()}),
        f"{name}PK": UnicodeAttribute(hash_key=True),
        f"{name}SK": UnicodeAttribute(range_key=True),
    }
    return type(f"{name}Index", (GlobalSecondaryIndex,), attrs)


GSI1Index, GSI2Index, GSI3Index = (_index(n) for n in GSI_NAMES)

Item = TypeVar("Item", bound="BaseItem")


class BaseItem(Model):
    class Meta:
        table_name = table_name()
        region = region()
        billing_mode = "PAY_PER_REQUEST"
        stream_view_type = STREAM_VIEW_TYPE
        max_retry_attempts = 3
        read_timeout_seconds = aws_read_timeout_s()  # PynamoDB's own default is 30 s

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    GSI1PK = UnicodeAttribute(null=True)
    GSI1SK = UnicodeAttribute(null=True)
    GSI2PK = UnicodeAttribute(null=True)
    GSI2SK = UnicodeAttribute(null=True)
    GSI3PK = UnicodeAttribute(null=True)
    GSI3SK = UnicodeAttribute(null=True)
    entity = DiscriminatorAttribute()
    tenant_id = UnicodeAttribute()
    ttl = TTLAttribute(null=True)

    gsi1 = GSI1Index()
    gsi2 = GSI2Index()
    gsi3 = GSI3Index()

    def set_keys(self) -> None:  # pragma: no cover - every entity overrides
        raise NotImplementedError

    def start_key(self, index: Optional[str] = None) -> dict[str, dict[str, str]]:
        """The ExclusiveStartKey (DynamoDB's wire format) that resumes a query of the table,
        or of ``index`` ("GSI1".."GSI3"), right after this item."""
        names = ["PK", "SK", *([f"{index}PK", f"{index}SK"] if index else [])]
        return {name: {"S": getattr(self, name)} for name in names}

    @classmethod
    def lookup(cls: type[Item], key: tuple[str, str], consistent_read: bool = False) -> Optional[Item]:
        """The item at ``key`` (an entity's own ``key(...)``), or None when there is none.
        Entities wrap it as ``fetch(tenant_id, <ids>)``: services never spell a key."""
        try:
            item = cls.get(*key, consistent_read=consistent_read)
        except DoesNotExist:
            return None
        return item if isinstance(item, cls) else None

    def save(self, *args: Any, **kwargs: Any) -> Any:
        self.set_keys()
        return super().save(*args, **kwargs)


def table_schema() -> dict[str, Any]:
    """Key schema and indexes as CloudFormation would describe them (the drift test
    compares this with the synthesized infra template)."""
    schema = BaseItem._get_schema()
    return {
        "KeySchema": sorted((k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]),
        "AttributeDefinitions": sorted(
            (a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]
        ),
        "GlobalSecondaryIndexes": sorted(
            (
                g["index_name"],
                tuple(sorted((k["AttributeName"], k["KeyType"]) for k in g["key_schema"])),
                g["projection"]["ProjectionType"],
            )
            for g in schema["global_secondary_indexes"]
        ),
        "TimeToLiveAttribute": TTL_ATTRIBUTE,
        "StreamViewType": STREAM_VIEW_TYPE,
    }


# ---------------------------------------------------------------- failed conditions
def condition_failed(exc: Exception) -> bool:
    """A single-item write (PutError, UpdateError, DeleteError) refused by its condition, or
    a transaction cancelled because one of its conditions failed."""
    if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
        return True
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(r is not None and getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons)


def transaction_conflicted(exc: Exception) -> bool:
    """A transaction cancelled by a concurrent one (or throttled): worth a retry."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(
        r is not None and getattr(r, "code", None) in ("TransactionConflict", "ThrottlingError") for r in reasons
    )


class Cancelled(Exception):
    """A transaction was cancelled; ``failed`` names the items whose condition failed,
    ``conflict`` says a concurrent transaction (or throttling) was in the way."""

    def __init__(self, failed: set[str], conflict: bool, name: str = "") -> None:
        super().__init__(f"transaction {name or ''} cancelled: failed={sorted(failed)} conflict={conflict}")
        self.failed = failed
        self.conflict = conflict


class Tx:
    """The one TransactWriteItems helper: labelled items, a client request token, and failed
    conditions translated here (never in a service).

    A failed item's ``error`` (a domain error such as ``Conflict`` or ``BudgetExceeded``) is
    raised when its condition fails; otherwise the caller gets :class:`Cancelled` naming
    the failed labels, so it can tell "the budget said no" from "the expense changed".
    PynamoDB sends condition checks, deletes, puts, then updates; labels follow that order.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._ops: dict[str, list[tuple[str, Any, Any, Any]]] = {"check": [], "delete": [], "put": [], "update": []}
        self._errors: dict[str, Exception] = {}

    def _add(self, kind: str, label: str, model: Any, actions: Any, condition: Any, error: Optional[Exception]) -> Tx:
        self._ops[kind].append((label, model, actions, condition))
        if error is not None:
            self._errors[label] = error
        return self

    def put(self, label: str, model: Any, condition: Any = None, error: Optional[Exception] = None) -> Tx:
        model.set_keys()
        return self._add("put", label, model, None, condition, error)

    def update(
        self,
        label: str,
        model: Any,
        actions: list[Any],
        condition: Any = None,
        error: Optional[Exception] = None,
        add_version_condition: bool = True,
    ) -> Tx:
        """``add_version_condition=False``: an update that must not conflict with concurrent
        edits of the model's other attributes (PynamoDB adds the version check otherwise)."""
        return self._add("update", label, model, (actions, add_version_condition), condition, error)

    def delete(self, label: str, model: Any, condition: Any = None, error: Optional[Exception] = None) -> Tx:
        return self._add("delete", label, model, None, condition, error)

    def check(self, label: str, model: Any, condition: Any, error: Optional[Exception] = None) -> Tx:
        return self._add("check", label, model, None, condition, error)

    @property
    def labels(self) -> list[str]:
        return [op[0] for kind in ("check", "delete", "put", "update") for op in self._ops[kind]]

    def commit(self, token: str | None = None) -> None:
        """Commit with a client request token: a fresh one per call unless given, so the
        SDK's own retries of this call apply it at most once, while two concurrent callers
        never share a token (DynamoDB would answer both "success" for one write)."""
        try:
            with TransactWrite(
                connection=BaseItem._get_connection().connection, client_request_token=token or uuid.uuid4().hex
            ) as tx:
                for _label, model, _, condition in self._ops["check"]:
                    tx.condition_check(type(model), model.PK, model.SK, condition=condition)
                for _label, model, _, condition in self._ops["delete"]:
                    tx.delete(model, condition=condition)
                for _label, model, _, condition in self._ops["put"]:
                    tx.save(model, condition=condition)
                for _label, model, (actions, versioned), condition in self._ops["update"]:
                    tx.update(model, actions=actions, condition=condition, add_version_condition=versioned)
        except TransactWriteError as exc:
            reasons = getattr(exc, "cancellation_reasons", None) or []
            if getattr(exc, "cause_response_code", None) == "TransactionInProgressException":
                raise Cancelled(set(), True, self.name) from exc
            if not reasons:
                raise
            labels = self.labels
            failed = {
                labels[i]
                for i, r in enumerate(reasons)
                if r is not None and getattr(r, "code", None) == "ConditionalCheckFailed" and i < len(labels)
            }
            for label in labels:
                if label in failed and label in self._errors:
                    raise self._errors[label] from exc
            raise Cancelled(failed, transaction_conflicted(exc), self.name) from exc


# ---------------------------------------------------------------- keys and collections
def opportunity_collection_pk(tenant_id: str, opportunity_id: str) -> str:
    """GSI3PK of everything tied to an opportunity (plans, logs, sign-ins, expenses,
    activity links): the opportunity overview is one query of this partition."""
    return tkey(tenant_id, "OPP", opportunity_id)


def collection(pk: str, max_items: int) -> list[BaseItem]:
    """The items of one GSI3 partition, highest GSI3SK first, read raw page by page (until
    ``max_items`` have been read): an entity whose class is not loaded is skipped."""
    connection = BaseItem._get_connection()
    out: list[BaseItem] = []
    last_key = None
    seen = 0
    while True:
        page = connection.query(pk, index_name="GSI3", exclusive_start_key=last_key, scan_index_forward=False)
        for raw in page.get("Items", []):
            try:
                out.append(BaseItem.from_raw_data(raw))
            except ValueError:  # an entity whose module is not loaded here
                continue
        seen += len(page.get("Items", []))
        last_key = page.get("LastEvaluatedKey")
        if not last_key or seen >= max_items:
            return out


def raw_page(
    pk: str, index: Optional[str], start_key: Optional[dict[str, Any]], limit: int, range_condition: Any = None
) -> tuple[list[dict[str, Any]], Optional[dict[str, Any]]]:
    """One bounded page of a partition of the table or of ``index`` ("GSI1".."GSI3"), as raw
    items (read each with :func:`item_of`, so one unreadable item fails alone, not the page),
    and the key that resumes after it (None: the partition is done). ``range_condition``:
    a sort-key condition built by the entity (``X.SK.startswith(...)``). 1 Query."""
    page = BaseItem._get_connection().query(
        pk, range_key_condition=range_condition, index_name=index, exclusive_start_key=start_key, limit=limit
    )
    return list(page.get("Items", [])), page.get("LastEvaluatedKey")


def count_of(pk: str, index: Optional[str]) -> int:
    """How many items a partition of the table or of ``index`` holds (Select COUNT: one
    Query per MB of index data)."""
    total, start = 0, None
    while True:
        page = BaseItem._get_connection().query(pk, index_name=index, exclusive_start_key=start, select="COUNT")
        total += int(page.get("Count", 0))
        start = page.get("LastEvaluatedKey")
        if not start:
            return total


def resume_key(raw: dict[str, Any], index: Optional[str] = None) -> dict[str, Any]:
    """The start key that resumes a query of the table (or ``index``) right after the raw
    item (as :meth:`BaseItem.start_key`, for an item that may not be readable)."""
    names = ["PK", "SK", *([f"{index}PK", f"{index}SK"] if index else [])]
    return {name: raw[name] for name in names}


def item_of(raw: dict[str, Any]) -> BaseItem:
    """The entity of one raw item; raises (ValueError, KeyError, ...) on one it cannot read."""
    return BaseItem.from_raw_data(raw)


def _known_entity(image: dict[str, Any]) -> bool:
    """The image names an entity some loaded model declares (its discriminator value)."""
    name = (image.get("entity") or {}).get("S")
    return name in BaseItem.entity._discriminator_map


def from_stream_image(image: dict[str, Any] | None) -> BaseItem | None:
    """The entity of a stream record's image (DynamoDB JSON); None when absent or of an
    entity this code does not know. An image of a known entity that does not decode raises
    :class:`UndecodableItem` (the stream consumer logs, counts and skips it)."""
    if not image or not _known_entity(image):
        return None
    try:
        return BaseItem.from_raw_data(image)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        tenant = (image.get("tenant_id") or {}).get("S")
        key = f"{(image.get('PK') or {}).get('S')}|{(image.get('SK') or {}).get('S')}"
        raise UndecodableItem(f"undecodable {image['entity'].get('S')}: {exc}", tenant, key) from exc


def _models(cls: type[Model]) -> Iterator[type[Model]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _models(sub)


@register_after_restore
def new_connections_after_restore() -> None:
    """SnapStart: every environment restored from one snapshot opens its own connections
    (a new botocore session: its own credentials) on the next request, never the snapshot's."""
    models: list[type[Model]] = [Model, *_models(Model)]
    for model in models:
        model._connection = None
