"""A photo's EXIF capture time flags its sign-in when it disagrees, and never fails it."""

from zoneinfo import ZoneInfo

import pytest

from chalicelib.models.signins import SignIn
from chalicelib.models.uploads import Upload
from chalicelib.services.fieldwork.signins import photo_flags

SHANGHAI = ZoneInfo("Asia/Shanghai")


def flags(taken_at: str, offset: str | None = None) -> set[str]:
    signin = SignIn(tenant_id="t", signin_id="s", client_time="2030-01-15T01:30:00Z", lat=31.0, lng=121.0)
    upload = Upload(tenant_id="t", upload_id="u", status="ready", taken_at=taken_at, taken_offset=offset)
    return photo_flags(signin, upload, 500.0, SHANGHAI)


def test_capture_time_in_the_tenant_zone_matches():
    assert flags("2030-01-15T09:30:00") == set()
    assert flags("2030-01-15T01:30:00", "+00:00") == set()


def test_capture_time_hours_away_is_flagged():
    assert flags("2030-01-15T01:30:00") == {"photo_time_mismatch"}


@pytest.mark.parametrize(
    ("taken_at", "offset"),
    [("1-01-01T00:00:00", None), ("2200-12-31T23:00:00", "-14:00"), ("garbage", None), ("2030-02-30T00:00:00", None)],
)
def test_unplaceable_capture_time_adds_no_flag_and_raises_nothing(taken_at, offset):
    assert flags(taken_at, offset) == set()
