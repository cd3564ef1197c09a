"""Uploads: presigned S3 POSTs, and photo/receipt processing on S3 Object Created."""

from typing import Any, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.config import bucket_name
from chalicelib.errors import NotFound
from chalicelib.observability import is_corrupt_item, logger, skip_bad_item
from chalicelib.schemas import PhotoOut, Request, Response, example
from chalicelib.services.fieldwork import signins
from chalicelib.services.uploads import uploads
from chalicelib.web import Req, route

bp = Blueprint(__name__)

# Only originals: the thumbnails this handler writes live under thumbnails/ and must not
# come back as events.
OBJECT_CREATED_PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {
        "bucket": {"name": [bucket_name()]},
        "object": {"key": [{"prefix": "uploads/"}]},
    },
}


class UploadIn(Request):
    model_config = example({"purpose": "signin_photo", "content_type": "image/jpeg", "size_bytes": 1843200})
    purpose: Literal["signin_photo", "receipt", "attachment"]
    content_type: Literal["image/jpeg", "image/png"]
    size_bytes: int = Field(ge=1, le=uploads.MAX_UPLOAD_BYTES, description="exact size of the file; at most 10 MiB")


class UploadOut(Response):
    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


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
    return uploads.photo_to_dict(upload)


@bp.on_cw_event(OBJECT_CREATED_PATTERN, name="object_created")
def object_created(event: Any) -> dict[str, str]:
    """Verify and thumbnail an uploaded object, then add a ready photo's flags to its
    sign-in. User content never raises here; AWS failures do, so the event is retried."""
    detail = event.detail or {}
    bucket = str((detail.get("bucket") or {}).get("name") or "")
    obj = detail.get("object") or {}
    key = str(obj.get("key") or "")
    version_id = obj.get("version-id") or None
    logger.append_keys(s3_key=key)
    try:
        processed = uploads.process_object(bucket, key, version_id)
        if processed.outcome == "ready" and processed.upload is not None:
            signins.apply_photo(processed.upload)  # its sign-in's photo flags
    except Exception as exc:  # noqa: BLE001 - a corrupt record is skipped (a retry cannot help)
        if not is_corrupt_item(exc):
            raise  # AWS failures: the event is retried
        skip_bad_item("object_created", exc, tenant_id=key.split("/")[1] if key.count("/") > 1 else None, key=key)
        processed = uploads.Processed("skipped")
    finally:
        logger.remove_keys(["s3_key"])
    logger.info("object processed", extra={"outcome": processed.outcome})
    return {"key": key, "outcome": processed.outcome}
