"""Uploads: one item per presigned upload (a sign-in photo or an expense receipt).

The object key is fixed at creation (``uploads/<tenant>/<user>/<upload_id>``) and the
item records what the server verified about the object: the exact S3 version it checked,
its SHA-256, its EXIF capture place and time, and the thumbnail it wrote.
"""

from __future__ import annotations

from typing import Optional

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib import vocabulary
from chalicelib.models.base import BaseItem, tkey

PURPOSES = ("signin_photo", "receipt", "attachment")
STATUSES = vocabulary.UPLOAD_STATUSES  # the one list


class Upload(BaseItem, discriminator="Upload"):
    upload_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    purpose = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size_bytes = NumberAttribute()  # declared by the client; the policy's upper bound
    key = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")
    reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    # Set when the object has been processed.
    version_id = UnicodeAttribute(null=True)  # the S3 version that was verified
    actual_bytes = NumberAttribute(null=True)
    uploaded_at = UnicodeAttribute(null=True)  # the object's LastModified
    processed_at = UnicodeAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    image_format = UnicodeAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    thumbnail_key = UnicodeAttribute(null=True)
    clean_key = UnicodeAttribute(null=True)  # the image without EXIF/XMP: what ``url`` serves
    gps_lat = NumberAttribute(null=True)
    gps_lng = NumberAttribute(null=True)
    taken_at = UnicodeAttribute(null=True)  # EXIF DateTimeOriginal, "YYYY-MM-DDTHH:MM:SS"
    taken_offset = UnicodeAttribute(null=True)  # EXIF OffsetTimeOriginal ("+08:00") when present
    # The sign-in the photo is attached to (at most one).
    signin_id = UnicodeAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str, upload_id: str) -> str:
        return tkey(tenant_id, "UPLOAD", upload_id)

    @classmethod
    def sha_pk(cls, tenant_id: str, sha256: str) -> str:
        return tkey(tenant_id, "SHA256", sha256)

    @classmethod
    def sha_sk(cls, upload_id: str) -> str:
        return f"UPLOAD#{upload_id}"

    @classmethod
    def key_of(cls, tenant_id: str, upload_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, upload_id), "UPLOAD"

    @classmethod
    def fetch(cls, tenant_id: str, upload_id: str, consistent_read: bool = False) -> Optional[Upload]:
        return cls.lookup(cls.key_of(tenant_id, upload_id), consistent_read=consistent_read)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.upload_id)
        # Sparse: only verified (ready) content is findable by its hash.
        if self.status == "ready" and self.sha256:
            self.GSI1PK, self.GSI1SK = self.sha_pk(self.tenant_id, self.sha256), self.sha_sk(self.upload_id)
        else:
            self.GSI1PK = self.GSI1SK = None


__all__ = ["Upload", "PURPOSES", "STATUSES"]
