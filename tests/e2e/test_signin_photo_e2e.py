"""A real JPEG through the presigned POST to the local stack's S3, verified by the
object_created handler from the same EventBridge event AWS sends, then used in a check-in."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import pytest
import requests
from PIL import Image

from chalicelib.services.uploads import images
from local.switches import time_scale
from tests.fixtures.images import jpeg

pytestmark = pytest.mark.e2e


def test_upload_real_jpeg_through_presigned_post_turns_ready_within_seconds(stack):
    data = jpeg((2400, 1800), gps=(31.2304, 121.4737), taken_at="2026-11-22T09:30:00", offset="+08:00")
    response = stack.call(
        "POST", "/v1/uploads", {"purpose": "signin_photo", "content_type": "image/jpeg", "size_bytes": len(data)}
    )
    assert response.status_code == 201, response.text
    upload = response.json()
    posted = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("photo.jpg", data, "image/jpeg")}, timeout=30
    )
    assert posted.status_code in (200, 201, 204), posted.text

    deadline = time.monotonic() + 10 * time_scale()  # the S3 event's processing, on moto as shipped too
    view: dict = {}
    while time.monotonic() < deadline:
        view = stack.call("GET", f"/v1/uploads/{upload['upload_id']}").json()
        if view.get("status") != "pending":
            break
        time.sleep(0.25)
    assert view.get("status") == "ready", view

    thumb = requests.get(view["thumbnail_url"], timeout=10)
    assert thumb.status_code == 200
    image = Image.open(io.BytesIO(thumb.content))
    assert max(image.size) == 512 and len(image.getexif()) == 0
    served = requests.get(view["url"], timeout=10)  # the photo without its EXIF GPS (SECURITY.md)
    assert served.status_code == 200 and served.content == images.strip_metadata(data, "JPEG")
    assert not Image.open(io.BytesIO(served.content)).getexif().get_ifd(0x8825)

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signin = stack.call(
        "POST",
        "/v1/signins",
        {
            "kind": "check_in",
            "location": {"lat": 31.2304, "lng": 121.4737, "accuracy_m": 15},
            "client_time": now,
            "photo_upload_ids": [upload["upload_id"]],
        },
        headers={"Idempotency-Key": f"e2e-{upload['upload_id']}"},
    )
    assert signin.status_code == 201, signin.text
    body = signin.json()
    assert body["photos"][0]["status"] == "ready"
    assert "photo_location_mismatch" not in body["flags"]
    assert stack.call("GET", f"/v1/signins/{body['id']}", as_="mgr_east").status_code == 200
    assert stack.call("GET", f"/v1/signins/{body['id']}", as_="rep_b").status_code == 404
