"""Uploads: presigned S3 POSTs, and photo/receipt processing on S3 Object Created."""

from __future__ import annotations

import os
from typing import Any

from chalice import Blueprint

bp = Blueprint(__name__)

OBJECT_CREATED_PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {"bucket": {"name": [os.environ.get("BUCKET_NAME", "fieldsales-uploads")]}},
}


@bp.on_cw_event(OBJECT_CREATED_PATTERN, name="object_created")
def object_created(event: Any) -> None:
    """Verify and thumbnail an uploaded object (placeholder)."""
