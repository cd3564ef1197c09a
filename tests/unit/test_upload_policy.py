"""The presigned POST policy, decoded: moto ignores it, real S3 enforces exactly this."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime

import pytest

from chalicelib.services.uploads import uploads

KEY = "uploads/acme/rep_a/upl_01JABCDEFGHJKMNPQRSTVWXYZ0"


@pytest.fixture
def post():
    return uploads.presigned_post(KEY, "image/jpeg", 4321)


def _policy(post):
    return json.loads(base64.b64decode(post["fields"]["policy"]))


def test_policy_pins_bucket_exact_key_and_exact_content_type(post):
    conditions = _policy(post)["conditions"]
    assert {"bucket": os.environ["BUCKET_NAME"]} in conditions
    assert {"key": KEY} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert post["fields"]["key"] == KEY and post["fields"]["Content-Type"] == "image/jpeg"
    # No "starts-with" anywhere: nothing in the policy lets the client choose key or type.
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions)


def test_policy_limits_length_to_the_declared_size(post):
    ranges = [c for c in _policy(post)["conditions"] if isinstance(c, list) and c[0] == "content-length-range"]
    assert ranges == [["content-length-range", 1, 4321]]


def test_policy_expires_in_15_minutes():
    before = datetime.now(UTC).replace(microsecond=0)
    policy = _policy(uploads.presigned_post(KEY, "image/png", 10))
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 899 <= (expiration - before).total_seconds() <= 902


def test_policy_is_sigv4_signed_with_the_credential_scope(post):
    fields = post["fields"]
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    access_key, date, region, service, terminator = fields["x-amz-credential"].split("/")
    assert (access_key, service, terminator) == (os.environ["AWS_ACCESS_KEY_ID"], "s3", "aws4_request")
    conditions = _policy(post)["conditions"]
    for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date"):
        assert {name: fields[name]} in conditions

    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = sign(("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode(), date)
    k = sign(sign(sign(k, region), service), terminator)
    expected = hmac.new(k, fields["policy"].encode(), hashlib.sha256).hexdigest()
    assert fields["x-amz-signature"] == expected


def test_object_key_is_scoped_to_tenant_user_and_upload():
    assert uploads.object_key("acme", "rep_a", "upl_X") == "uploads/acme/rep_a/upl_X"
    assert uploads.KEY_RE.match(KEY).groups() == ("acme", "rep_a", "upl_01JABCDEFGHJKMNPQRSTVWXYZ0")
    for forged in (KEY + "/../x", "uploads/acme/rep_a/../rep_b/upl_X", "thumbnails/acme/rep_a/upl_X", KEY + ".jpg"):
        assert uploads.KEY_RE.match(forged) is None
