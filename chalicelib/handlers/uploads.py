"""Uploads: presigned S3 POSTs, and photo/receipt processing on S3 Object Created."""

import os
from typing import Any, Literal, Optional

from chalice import Blueprint
from pydantic import Field

from chalicelib.errors import NotFound
from chalicelib.observability import is_corrupt_item, logger, skip_bad_item
from chalicelib.schemas import Request, Response
from chalicelib.services import uploads
from chalicelib.web import Req, route

bp = Blueprint(__name__)

# Only originals: the thumbnails this handler writes live under thumbnails/ and must not
# come back as events.
OBJECT_CREATED_PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {
        "bucket": {"name": [os.environ.get("BUCKET_NAME", "fieldsales-uploads")]},
        "object": {"key": [{"prefix": "uploads/"}]},
    },
}


class UploadIn(Request):
    purpose: Literal["signin_photo", "receipt"]
    content_type: Literal["image/jpeg", "image/png"]
    size_bytes: int = Field(ge=1, le=uploads.MAX_UPLOAD_BYTES, description="exact size of the file; at most 10 MiB")


class UploadOut(Response):
    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


class PhotoOut(Response):
    upload_id: str
    status: Literal["pending", "ready", "rejected"]
    reason: Optional[str] = None
    thumbnail_url: Optional[str] = None
    url: Optional[str] = None


@route(
    bp,
    "/v1/uploads",
    method="POST",
    summary="Start an upload: a presigned S3 POST (multipart: every field, then file), 10 MiB, 15 minutes",
    tag="signins",
    body=UploadIn,
    response=UploadOut,
    status=201,
)
def create_upload(req: Req) -> dict[str, Any]:
    b: UploadIn = req.body
    return uploads.create_upload(req.principal, b.purpose, b.content_type, b.size_bytes)


@route(
    bp,
    "/v1/uploads/{upload_id}",
    summary="An upload's verification status (and URLs once ready)",
    tag="signins",
    response=PhotoOut,
)
def get_upload(req: Req) -> dict[str, Any]:
    upload = uploads.get_upload(req.tenant_id, req.path["upload_id"])
    if upload is None or not uploads.may_view(req.principal, upload):
        raise NotFound("upload not found")
    return uploads.photo_view(upload)


@bp.on_cw_event(OBJECT_CREATED_PATTERN, name="object_created")
def object_created(event: Any) -> dict[str, str]:
    """Verify and thumbnail an uploaded object. User content never raises here; AWS
    failures do, so the event is retried."""
    detail = event.detail or {}
    bucket = str((detail.get("bucket") or {}).get("name") or "")
    obj = detail.get("object") or {}
    key = str(obj.get("key") or "")
    version_id = obj.get("version-id") or None
    logger.append_keys(s3_key=key)
    try:
        outcome = uploads.process_object(bucket, key, version_id)
    except Exception as exc:  # noqa: BLE001 - a corrupt record is skipped (a retry cannot help)
        if not is_corrupt_item(exc):
            raise  # AWS failures: the event is retried
        skip_bad_item("object_created", exc, tenant_id=key.split("/")[1] if key.count("/") > 1 else None, key=key)
        outcome = "skipped"
    finally:
        logger.remove_keys(["s3_key"])
    logger.info("object processed", extra={"outcome": outcome})
    return {"key": key, "outcome": outcome}
