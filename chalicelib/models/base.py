"""The single table: one base model, overloaded GSIs, a discriminator per entity.

Every partition key (table and indexes) starts with ``T#<tenant>#`` so tenant isolation
holds by construction and can be enforced with IAM ``dynamodb:LeadingKeys``.
"""

from __future__ import annotations

import os
from typing import Any

from pynamodb.attributes import DiscriminatorAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import table_name

GSI_NAMES = ("GSI1", "GSI2", "GSI3")
TTL_ATTRIBUTE = "ttl"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


def tenant_prefix(tenant_id: str) -> str:
    return f"T#{tenant_id}#"


def tkey(tenant_id: str, *parts: str) -> str:
    """A tenant-led key: ``T#<tenant>#PART#PART``."""
    return tenant_prefix(tenant_id) + "#".join(parts)


def _index(name: str) -> type[GlobalSecondaryIndex]:
    attrs: dict[str, Any] = {
        "Meta": type("Meta", (), {"index_name": name, "projection": AllProjection()}),
        f"{name}PK": UnicodeAttribute(hash_key=True),
        f"{name}SK": UnicodeAttribute(range_key=True),
    }
    return type(f"{name}Index", (GlobalSecondaryIndex,), attrs)


GSI1Index, GSI2Index, GSI3Index = (_index(n) for n in GSI_NAMES)


class BaseItem(Model):
    class Meta:
        table_name = table_name()
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        billing_mode = "PAY_PER_REQUEST"
        stream_view_type = STREAM_VIEW_TYPE
        max_retry_attempts = 3

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


def from_stream_image(image: dict[str, Any] | None) -> BaseItem | None:
    """The entity of a stream record's image (DynamoDB JSON); None when absent or unknown."""
    if not image:
        return None
    try:
        return BaseItem.from_raw_data(image)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
