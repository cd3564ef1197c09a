"""Uploads through the HTTP edge and the S3 Object Created event (moto + chalice.test).

moto stores whatever is POSTed (it ignores the POST policy), so every hostile file here
reaches the processor exactly as a policy-violating upload would if S3 let it through.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.parse
from typing import Any

import pytest
from PIL import Image

from chalicelib.aws import client
from chalicelib.services.uploads import images, uploads
from tests.fixtures.images import bad_corpus, jpeg, png
from tests.support import BUCKET, deliver, put, start_upload, thumbnails, upload_file


def policy_of(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(body["fields"]["policy"]))


# ---------------------------------------------------------------- the presigned POST
def test_create_upload_returns_presigned_post_pinned_to_tenant_user_and_type(api):
    body = start_upload(api, "image/png", 123_456)
    assert body["upload_id"].startswith("upl_")
    assert body["max_bytes"] == 123_456
    assert body["fields"]["key"] == f"uploads/acme/rep_a/{body['upload_id']}"
    assert body["fields"]["Content-Type"] == "image/png"
    assert body["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    conditions = policy_of(body)["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": f"uploads/acme/rep_a/{body['upload_id']}"} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, 123_456] in conditions


def test_create_upload_policy_expires_in_15_minutes(api):
    from datetime import datetime

    body = start_upload(api)
    expiration = datetime.fromisoformat(policy_of(body)["expiration"].replace("Z", "+00:00"))
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs((expiration - expires_at).total_seconds()) <= 2
    created = uploads.get_upload("acme", body["upload_id"]).created_at
    assert (expires_at - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds() == 900


def test_create_upload_over_10_mib_is_refused_by_the_published_schema(api):
    status, body = api.post(
        "/v1/uploads", {"purpose": "receipt", "content_type": "image/jpeg", "size_bytes": 10 * 1024 * 1024 + 1}
    )
    assert status == 400
    assert body["error"]["code"] == "invalid_body"
    assert body["error"]["details"][0]["field"] == "size_bytes"


@pytest.mark.parametrize(
    "payload",
    [
        {"purpose": "avatar", "content_type": "image/jpeg", "size_bytes": 10},
        {"purpose": "receipt", "content_type": "image/gif", "size_bytes": 10},
        {"purpose": "receipt", "content_type": "image/jpeg", "size_bytes": 0},
        {"purpose": "receipt", "content_type": "image/jpeg", "size_bytes": 10, "key": "uploads/globex/x"},
    ],
)
def test_create_upload_with_invalid_body_is_400(api, payload):
    status, body = api.post("/v1/uploads", payload)
    assert status == 400
    assert body["error"]["code"] == "invalid_body"


def test_create_upload_without_token_is_401(api):
    payload = {"purpose": "receipt", "content_type": "image/jpeg", "size_bytes": 10}
    status, _ = api.post("/v1/uploads", payload, as_=None)
    assert status == 401


# ---------------------------------------------------------------- processing
def test_object_created_with_good_jpeg_marks_ready_with_thumbnail_and_hash(api, chalice_client):
    data = jpeg((2000, 1500), gps=(31.2304, 121.4737), taken_at="2026-11-22T09:30:00", offset="+08:00")
    body = upload_file(api, chalice_client, data)
    assert body["outcome"]["outcome"] == "ready"
    upload = uploads.get_upload("acme", body["upload_id"])
    assert upload.status == "ready" and upload.reason is None
    assert (upload.width, upload.height, upload.image_format) == (2000, 1500, "JPEG")
    assert (upload.gps_lat, upload.gps_lng) == (31.2304, 121.4737)
    assert (upload.taken_at, upload.taken_offset) == ("2026-11-22T09:30:00", "+08:00")
    assert upload.version_id
    import hashlib

    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert [u.upload_id for u in uploads.find_by_sha256("acme", upload.sha256)] == [body["upload_id"]]
    assert uploads.find_by_sha256("globex", upload.sha256) == []
    thumb = client("s3").get_object(Bucket=BUCKET, Key=upload.thumbnail_key)["Body"].read()
    assert max(Image.open(io.BytesIO(thumb)).size) == 512


def test_thumbnail_of_photo_with_exif_gps_has_zero_exif_tags(api, chalice_client):
    data = jpeg((1600, 1200), gps=(39.9042, 116.4074), taken_at="2026-11-22T09:30:00", orientation=6)
    original = Image.open(io.BytesIO(data)).getexif()
    assert original.get_ifd(0x8825), "the fixture must carry GPS"
    body = upload_file(api, chalice_client, data)
    upload = uploads.get_upload("acme", body["upload_id"])
    thumb_bytes = client("s3").get_object(Bucket=BUCKET, Key=upload.thumbnail_key)["Body"].read()
    thumb = Image.open(io.BytesIO(thumb_bytes))
    assert len(thumb.getexif()) == 0
    assert b"Exif" not in thumb_bytes and b"FieldCam" not in thumb_bytes
    assert thumb.size == (384, 512)  # EXIF orientation 6 applied: portrait


def test_object_created_with_png_with_alpha_marks_ready(api, chalice_client):
    body = upload_file(api, chalice_client, png((300, 200)), "image/png", purpose="receipt")
    assert body["outcome"]["outcome"] == "ready"


@pytest.mark.parametrize("name", sorted(bad_corpus()))
def test_object_created_with_bad_file_is_rejected_with_reason_and_no_thumbnail(api, chalice_client, name):
    data, content_type, reason = bad_corpus()[name]
    # S3 stores the declared type (the policy pins it): only the bytes lie.
    body = upload_file(api, chalice_client, data, content_type)
    upload = uploads.get_upload("acme", body["upload_id"])
    assert upload.status == "rejected"
    assert upload.reason == reason
    assert upload.thumbnail_key is None and upload.sha256 is None
    assert thumbnails() == []
    status, view = api.get(f"/v1/uploads/{body['upload_id']}")
    assert status == 200
    assert view["status"] == "rejected" and view["reason"] == reason
    assert "url" not in view and "thumbnail_url" not in view


def test_object_created_larger_than_declared_is_rejected_too_large(api, chalice_client):
    data = jpeg((400, 300))
    body = start_upload(api, "image/jpeg", len(data) - 1)
    stored = put(body, data)
    deliver(chalice_client, body["fields"]["key"], stored.get("VersionId"))
    upload = uploads.get_upload("acme", body["upload_id"])
    assert (upload.status, upload.reason) == ("rejected", "too_large")


def test_object_created_with_stored_content_type_other_than_declared_is_rejected(api, chalice_client):
    data = jpeg((400, 300))
    body = start_upload(api, "image/jpeg", len(data))
    stored = put(body, data, "text/html")
    deliver(chalice_client, body["fields"]["key"], stored.get("VersionId"))
    assert uploads.get_upload("acme", body["upload_id"]).reason == "content_type_mismatch"


def test_object_created_twice_gives_one_result_and_one_thumbnail(api, chalice_client):
    body = upload_file(api, chalice_client, jpeg((800, 600)))
    first = uploads.get_upload("acme", body["upload_id"])
    again = deliver(chalice_client, body["fields"]["key"], first.version_id)
    assert again["outcome"] == "duplicate"
    assert uploads.get_upload("acme", body["upload_id"]).processed_at == first.processed_at
    assert thumbnails() == [first.thumbnail_key]


def test_object_created_out_of_order_versions_keep_the_first_verdict(api, chalice_client):
    good = jpeg((800, 600))
    body = start_upload(api, "image/jpeg", len(good) + 10_000)
    v_good = put(body, good)["VersionId"]
    v_bad = put(body, b"not an image at all")["VersionId"]
    # The later (bad) version's event arrives first: it decides; the good one's is a duplicate.
    assert deliver(chalice_client, body["fields"]["key"], v_bad)["outcome"] == "rejected"
    assert deliver(chalice_client, body["fields"]["key"], v_good)["outcome"] == "duplicate"
    upload = uploads.get_upload("acme", body["upload_id"])
    assert (upload.status, upload.reason, upload.version_id) == ("rejected", "not_an_image", v_bad)
    assert thumbnails() == []


def test_ready_upload_urls_serve_the_verified_version_even_after_overwrite(api, chalice_client):
    good = jpeg((800, 600))
    body = start_upload(api, "image/jpeg", len(good) + 10_000)
    version = put(body, good)["VersionId"]
    deliver(chalice_client, body["fields"]["key"], version)
    put(body, b"<html>swapped</html>")  # a second POST before the policy expires
    status, view = api.get(f"/v1/uploads/{body['upload_id']}")
    assert status == 200 and view["status"] == "ready"
    assert served(view["url"]) == images.strip_metadata(good, "JPEG")  # made from the verified version
    assert view["thumbnail_url"]


def served(url: str) -> bytes:
    """The object a presigned GET URL names (path-style or virtual-hosted)."""
    parsed = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parsed.path).lstrip("/")
    key = path.removeprefix(f"{BUCKET}/") if not parsed.hostname.startswith(BUCKET) else path
    return client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.mark.parametrize("purpose", ["signin_photo", "receipt"])
def test_ready_upload_url_serves_a_copy_without_exif_gps_while_the_location_check_keeps_it(
    api, chalice_client, purpose
):
    photo = jpeg((640, 480), gps=(39.9042, 116.4074), taken_at="2026-11-22T09:30:00")
    body = upload_file(api, chalice_client, photo, purpose=purpose)
    status, view = api.get(f"/v1/uploads/{body['upload_id']}")
    assert status == 200 and view["status"] == "ready"
    for url in (view["url"], view["thumbnail_url"]):
        image = Image.open(io.BytesIO(served(url)))
        assert not image.getexif().get_ifd(0x8825) and b"Exif\x00" not in served(url)
    assert Image.open(io.BytesIO(served(view["url"]))).size == (640, 480)  # the photo, not a thumbnail
    upload = uploads.get_upload("acme", body["upload_id"])
    assert (round(upload.gps_lat, 3), round(upload.gps_lng, 3)) == (39.904, 116.407)  # for the location flag


def test_object_created_losing_race_removes_its_own_thumbnail(api, chalice_client, monkeypatch):
    """Two versions processed at once: the loser's thumbnail must not survive."""
    good = jpeg((800, 600))
    body = start_upload(api, "image/jpeg", len(good) + 10_000)
    v_good = put(body, good)["VersionId"]
    v_bad = put(body, b"junk")["VersionId"]
    real_update = uploads.Upload.update

    def decide_bad_first(self, *args, **kwargs):
        monkeypatch.setattr(uploads.Upload, "update", real_update)
        uploads.process_object(BUCKET, body["fields"]["key"], v_bad)  # wins meanwhile
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(uploads.Upload, "update", decide_bad_first)
    assert uploads.process_object(BUCKET, body["fields"]["key"], v_good).outcome == "duplicate"
    assert uploads.get_upload("acme", body["upload_id"]).status == "rejected"
    assert thumbnails() == []


def test_object_created_for_unknown_or_foreign_keys_is_ignored(api, chalice_client):
    client("s3").put_object(Bucket=BUCKET, Key="uploads/acme/rep_a/upl_01JABCDEFGHJKMNPQRSTVWXYZ0", Body=b"x")
    assert deliver(chalice_client, "uploads/acme/rep_a/upl_01JABCDEFGHJKMNPQRSTVWXYZ0")["outcome"] == "ignored"
    body = start_upload(api)
    forged = body["fields"]["key"].replace("/rep_a/", "/rep_b/")
    client("s3").put_object(Bucket=BUCKET, Key=forged, Body=jpeg((10, 10)), ContentType="image/jpeg")
    assert deliver(chalice_client, forged)["outcome"] == "ignored"
    assert deliver(chalice_client, "thumbnails/acme/rep_a/x.jpg")["outcome"] == "ignored"
    assert uploads.get_upload("acme", body["upload_id"]).status == "pending"


# ---------------------------------------------------------------- who sees URLs
def test_get_upload_by_manager_has_urls_and_by_peer_or_other_tenant_is_404(api, chalice_client):
    body = upload_file(api, chalice_client, jpeg((400, 300)))
    path = f"/v1/uploads/{body['upload_id']}"
    for viewer in ("rep_a", "mgr_east", "vp", "admin"):
        status, view = api.get(path, as_=viewer)
        assert status == 200, viewer
        assert view["url"] and view["thumbnail_url"]
    for viewer in ("rep_b", "mgr_west"):
        assert api.get(path, as_=viewer)[0] == 404
    assert api.get(path, as_="boss", tenant="globex")[0] == 404


def test_receipt_is_visible_to_finance_staff(api, chalice_client):
    body = upload_file(api, chalice_client, jpeg((400, 300)), purpose="receipt")
    status, view = api.get(f"/v1/uploads/{body['upload_id']}", as_="fin")
    assert status == 200 and view["url"]
    photo = upload_file(api, chalice_client, jpeg((400, 300)))
    assert api.get(f"/v1/uploads/{photo['upload_id']}", as_="fin")[0] == 404
