"""Uploads: presigned S3 POSTs, and verifying what arrives.

Public interface (other capabilities call these):
- ``get_upload(tenant_id, upload_id) -> Upload | None``
- ``find_by_sha256(tenant_id, sha256) -> list[Upload]``: verified (``ready``) uploads with
  that content hash, for receipt duplicate detection (one GSI1 query, tenant-led key).
- ``photo_to_dict(upload, principal=None) -> dict``: the contract's photo shape
  ``{upload_id, status, reason?, thumbnail_url?, url?}``. URLs (presigned GET, 15 min) are
  given only for ``ready`` uploads, and, when ``principal`` is passed, only if that caller
  may read the uploader's data (self, managers at any depth, admins; finance staff for
  receipts). Pass ``principal=None`` only after checking visibility yourself.

Processing (``process_object``) runs on S3 Object Created. It trusts nothing the client
did: S3 enforces the POST policy, moto does not, so size, type and pixels are checked
again here. The exact S3 version that was checked is recorded and is the one every URL
serves, so re-uploading to the key before the policy expires cannot swap the content.
Duplicated and out-of-order events give one result: the verdict is written with a
condition on ``status = pending``; whoever loses removes its own thumbnail.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

from botocore.exceptions import ClientError
from pynamodb.exceptions import UpdateError

from chalicelib.auth import Principal
from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.errors import PayloadTooLarge, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import condition_failed
from chalicelib.models.uploads import PURPOSES, Upload
from chalicelib.observability import count, logger
from chalicelib.services.org import org
from chalicelib.services.uploads import images
from chalicelib.timeutil import iso, parse_timestamp, utcnow

MAX_UPLOAD_BYTES = images.MAX_UPLOAD_BYTES
UPLOAD_TTL_S = 15 * 60
GET_URL_TTL_S = 15 * 60
EXPIRY_SLACK_S = 60
CONTENT_TYPES = ("image/jpeg", "image/png")
KEY_RE = re.compile(r"^uploads/([A-Za-z0-9_-]{1,64})/([A-Za-z0-9_-]{1,64})/(upl_[0-9A-Z]{26})$")


def object_key(tenant_id: str, user_id: str, upload_id: str) -> str:
    return f"uploads/{tenant_id}/{user_id}/{upload_id}"


def thumbnail_key(tenant_id: str, user_id: str, upload_id: str, sha256: str) -> str:
    return f"thumbnails/{tenant_id}/{user_id}/{upload_id}/{sha256[:16]}.jpg"


def clean_key(tenant_id: str, user_id: str, upload_id: str, sha256: str) -> str:
    """The verified image without metadata (EXIF GPS, device, XMP): what ``url`` serves."""
    return f"clean/{tenant_id}/{user_id}/{upload_id}/{sha256[:16]}"


# ---------------------------------------------------------------- presigned POST
def presigned_post(key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
    """A SigV4 POST whose policy pins the bucket, the exact key, the exact Content-Type,
    1..max_bytes bytes, and a 15-minute expiry."""
    return client("s3").generate_presigned_post(
        Bucket=settings().bucket_name,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=UPLOAD_TTL_S,
    )


def create_upload(principal: Principal, purpose: str, content_type: str, size_bytes: int) -> dict[str, Any]:
    if purpose not in PURPOSES:
        raise Unprocessable(f"purpose must be one of {PURPOSES}", code="invalid_purpose")
    if content_type not in CONTENT_TYPES:
        raise Unprocessable(f"content_type must be one of {CONTENT_TYPES}", code="unsupported_type")
    if size_bytes > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"uploads are limited to {MAX_UPLOAD_BYTES} bytes", code="upload_too_large")
    now = utcnow().replace(microsecond=0)
    upload_id = new_id("upl")
    key = object_key(principal.tenant_id, principal.user_id, upload_id)
    expires_at = iso(now + timedelta(seconds=UPLOAD_TTL_S))
    post = presigned_post(key, content_type, size_bytes)
    Upload(
        tenant_id=principal.tenant_id,
        upload_id=upload_id,
        user_id=principal.user_id,
        purpose=purpose,
        content_type=content_type,
        size_bytes=size_bytes,
        key=key,
        status="pending",
        created_at=iso(now),
        expires_at=expires_at,
    ).save(condition=Upload.PK.does_not_exist())
    count("UploadCreated")
    return {
        "upload_id": upload_id,
        "url": post["url"],
        "fields": post["fields"],
        "expires_at": expires_at,
        "max_bytes": size_bytes,
    }


# ---------------------------------------------------------------- reads
def get_upload(tenant_id: str, upload_id: str, consistent: bool = False) -> Optional[Upload]:
    return Upload.fetch(tenant_id, upload_id, consistent_read=consistent)


def get_uploads(tenant_id: str, upload_ids: list[str]) -> dict[str, Upload]:
    """Several uploads in one BatchGetItem per 100 ids."""
    keys = [Upload.key_of(tenant_id, u) for u in dict.fromkeys(upload_ids)]
    return {u.upload_id: u for u in Upload.batch_get(keys)} if keys else {}


def find_by_sha256(tenant_id: str, sha256: str) -> list[Upload]:
    """Verified uploads of this exact content in the tenant (sparse GSI1: ready only)."""
    return list(Upload.gsi1.query(Upload.sha_pk(tenant_id, sha256.lower())))


def may_view(principal: Principal, upload: Upload) -> bool:
    if upload.purpose == "receipt" and principal.is_finance:
        return True
    return org.can_read_user_data(principal, upload.user_id)


def _presigned_get(key: str, version_id: Optional[str], content_type: str) -> str:
    params: dict[str, Any] = {
        "Bucket": settings().bucket_name,
        "Key": key,
        "ResponseContentType": content_type,
        "ResponseContentDisposition": "inline",
        "ResponseCacheControl": "private, max-age=900",
    }
    if version_id:
        params["VersionId"] = version_id
    return client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=GET_URL_TTL_S)


def photo_to_dict(upload: Upload, principal: Optional[Principal] = None) -> dict[str, Any]:
    view: dict[str, Any] = {"upload_id": upload.upload_id, "status": upload.status}
    if upload.reason:
        view["reason"] = upload.reason
    if upload.status == "ready" and (principal is None or may_view(principal, upload)):
        if upload.thumbnail_key:
            view["thumbnail_url"] = _presigned_get(upload.thumbnail_key, None, "image/jpeg")
        if upload.clean_key:  # never the original: its EXIF carries where the phone was
            view["url"] = _presigned_get(upload.clean_key, None, upload.content_type)
    return view


# ---------------------------------------------------------------- processing
def _head(bucket: str, key: str, version_id: Optional[str]) -> Optional[dict[str, Any]]:
    try:
        return client("s3").head_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NoSuchVersion", "400"}:
            return None
        raise


def _read_capped(bucket: str, key: str, version_id: Optional[str], limit: int) -> bytes:
    """At most ``limit + 1`` bytes: a lying header can never make us buffer more."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": f"bytes=0-{limit}"}
    if version_id:
        params["VersionId"] = version_id
    body = client("s3").get_object(**params)["Body"]
    try:
        return body.read(limit + 1)
    finally:
        body.close()


def _verdict(upload: Upload, head: dict[str, Any], bucket: str, version_id: Optional[str]) -> dict[str, Any]:
    """Decide ready/rejected. Only the image module's Rejected is a verdict; AWS errors
    propagate so the event is retried."""
    size = int(head.get("ContentLength") or 0)
    limit = min(MAX_UPLOAD_BYTES, int(upload.size_bytes))
    content_type = str(head.get("ContentType") or "").split(";")[0].strip().lower()
    modified = head.get("LastModified")
    result: dict[str, Any] = {"actual_bytes": size, "uploaded_at": iso(modified) if modified else None}
    if size == 0:
        return {**result, "status": "rejected", "reason": "empty"}
    if size > limit:
        return {**result, "status": "rejected", "reason": "too_large"}
    if content_type != upload.content_type:
        return {**result, "status": "rejected", "reason": "content_type_mismatch"}
    if modified and modified > parse_timestamp(upload.expires_at, "expires_at") + timedelta(seconds=EXPIRY_SLACK_S):
        return {**result, "status": "rejected", "reason": "expired"}
    data = _read_capped(bucket, upload.key, version_id, limit)
    if len(data) > limit:
        return {**result, "status": "rejected", "reason": "too_large"}
    try:
        info = images.inspect(data, upload.content_type)
    except images.Rejected as rejected:
        logger.info("upload rejected", extra={"reason": rejected.reason, "detail": rejected.detail})
        return {**result, "status": "rejected", "reason": rejected.reason}
    return {**result, "status": "ready", "sha256": hashlib.sha256(data).hexdigest(), "info": info}


def _store_derived(bucket: str, upload: Upload, info: Any, sha: str) -> tuple[str, str]:
    """The thumbnail and the metadata-free copy (EXIF GPS, device and XMP stripped, losslessly)
    of the verified bytes: what the API's URLs serve. The original stays for the audit trail
    (the GPS it held is recorded on the upload for the location check) and is never served."""
    thumb = thumbnail_key(upload.tenant_id, upload.user_id, upload.upload_id, sha)
    stripped = clean_key(upload.tenant_id, upload.user_id, upload.upload_id, sha)
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key=thumb, Body=info.thumbnail, ContentType="image/jpeg", CacheControl="private")
    s3.put_object(Bucket=bucket, Key=stripped, Body=info.clean, ContentType=upload.content_type, CacheControl="private")
    return thumb, stripped


@dataclass(frozen=True)
class Processed:
    """What processing an object did (ignored | duplicate | ready | rejected) and, when it
    decided the upload's verdict, the upload as decided."""

    outcome: str
    upload: Optional[Upload] = None


def process_object(bucket: str, key: str, version_id: Optional[str] = None) -> Processed:
    """Verify one uploaded object. The caller applies a ``ready`` photo to its sign-in."""
    match = KEY_RE.match(key or "")
    if bucket != settings().bucket_name or not match:
        return Processed("ignored")
    tenant_id, user_id, upload_id = match.groups()
    upload = get_upload(tenant_id, upload_id, consistent=True)
    if upload is None or upload.key != key or upload.user_id != user_id:
        logger.warning("object without an upload record", extra={"key": key})
        return Processed("ignored")
    if upload.status != "pending":
        count("UploadDuplicateEvent")
        return Processed("duplicate")
    head = _head(bucket, key, version_id)
    if head is None:
        return Processed("ignored")  # the object (version) is gone; a later event will tell
    version_id = head.get("VersionId") or version_id
    if version_id == "null":
        version_id = None
    verdict = _verdict(upload, head, bucket, version_id)
    derived: tuple[str, ...] = ()
    if verdict["status"] == "ready":
        derived = _store_derived(bucket, upload, verdict["info"], verdict["sha256"])
    try:
        upload.update(
            actions=_verdict_actions(upload, verdict, version_id, derived), condition=Upload.status == "pending"
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        # Another delivery of this event (or of another version) decided first.
        _drop_unused(bucket, tenant_id, upload_id, derived)
        count("UploadDuplicateEvent")
        return Processed("duplicate")
    count("UploadReady" if upload.status == "ready" else "UploadRejected")
    return Processed(upload.status, upload)


def _drop_unused(bucket: str, tenant_id: str, upload_id: str, derived: tuple[str, ...]) -> None:
    """The thumbnail and clean copy a losing delivery made, unless the winner uses them."""
    if not derived:
        return
    winner = get_upload(tenant_id, upload_id, consistent=True)
    kept = {winner.thumbnail_key, winner.clean_key} if winner else set()
    for key_ in set(derived) - kept:
        client("s3").delete_object(Bucket=bucket, Key=key_)


def _verdict_actions(
    upload: Upload, verdict: dict[str, Any], version_id: Optional[str], derived: tuple[str, ...]
) -> list[Any]:
    """The update recording a verdict (and, when ready, what the image said)."""
    actions = [
        Upload.status.set(verdict["status"]),
        Upload.processed_at.set(iso(utcnow())),
        Upload.actual_bytes.set(verdict["actual_bytes"]),
    ]
    if verdict.get("uploaded_at"):
        actions.append(Upload.uploaded_at.set(verdict["uploaded_at"]))
    if version_id:
        actions.append(Upload.version_id.set(version_id))
    if verdict["status"] != "ready":
        actions.append(Upload.reason.set(verdict["reason"]))
        return actions
    info, sha = verdict["info"], verdict["sha256"]
    actions += [
        Upload.sha256.set(sha),
        Upload.GSI1PK.set(Upload.sha_pk(upload.tenant_id, sha)),
        Upload.GSI1SK.set(Upload.sha_sk(upload.upload_id)),
        Upload.thumbnail_key.set(derived[0]),
        Upload.clean_key.set(derived[1]),
        Upload.image_format.set(info.format),
        Upload.width.set(info.width),
        Upload.height.set(info.height),
    ]
    if info.gps:
        actions += [Upload.gps_lat.set(info.gps[0]), Upload.gps_lng.set(info.gps[1])]
    if info.taken_at:
        actions.append(Upload.taken_at.set(info.taken_at))
    if info.taken_offset:
        actions.append(Upload.taken_offset.set(info.taken_offset))
    return actions


__all__ = [
    "create_upload",
    "get_upload",
    "get_uploads",
    "find_by_sha256",
    "photo_to_dict",
    "may_view",
    "process_object",
    "Processed",
    "object_key",
    "thumbnail_key",
    "MAX_UPLOAD_BYTES",
]
