"""Image verification and thumbnails, pure (no AWS): the hostile corpus, EXIF handling,
orientation, and metadata-free output."""

from __future__ import annotations

import io
import struct
import warnings

import pytest
from PIL import Image

from chalicelib.services.uploads import images
from tests.fixtures.images import _chunk, bad_corpus, jpeg, png, png_claiming

CORPUS = bad_corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_inspect_bad_file_is_rejected_with_its_reason(name):
    data, content_type, reason = CORPUS[name]
    with pytest.raises(images.Rejected) as caught:
        images.inspect(data, content_type)
    assert caught.value.reason == reason


def test_inspect_every_prefix_of_a_jpeg_is_rejected_never_raises_anything_else():
    data = jpeg((120, 90), gps=(1.0, 2.0))
    for cut in range(0, len(data) - 1, max(1, len(data) // 60)):
        with pytest.raises(images.Rejected):
            images.inspect(data[:cut], "image/jpeg")


def test_inspect_random_byte_flips_end_ready_or_rejected_never_an_exception():
    import random

    rng = random.Random(4)
    original = bytearray(jpeg((160, 120), gps=(31.0, 121.0), taken_at="2026-01-02T03:04:05"))
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(2, len(data))] = rng.randrange(256)
        try:
            info = images.inspect(bytes(data), "image/jpeg")
        except images.Rejected as rejected:
            assert rejected.reason
        else:
            assert max(Image.open(io.BytesIO(info.thumbnail)).size) <= 160


def test_inspect_decompression_bomb_warning_is_escalated_to_rejection(monkeypatch):
    # Between Pillow's limit and twice it, Pillow only warns: we refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = jpeg((40, 40))  # 1600 px: over 1000, under 2000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(images.Rejected) as caught:
            images.inspect(data, "image/jpeg")
    assert caught.value.reason == "too_many_pixels"


def test_inspect_pixel_cap_is_checked_from_the_header_before_decoding():
    just_over = png_claiming(10_000, 5_001)
    with pytest.raises(images.Rejected) as caught:
        images.inspect(just_over, "image/png")
    assert caught.value.reason == "too_many_pixels"


def test_inspect_png_with_bad_crc_is_corrupt():
    data = bytearray(png((20, 20)))
    data[-20] ^= 0xFF  # inside IDAT or its CRC
    with pytest.raises(images.Rejected) as caught:
        images.inspect(bytes(data), "image/png")
    assert caught.value.reason in {"corrupt", "truncated"}


def test_inspect_png_with_text_chunk_carrying_script_is_embedded_markup():
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "<script>alert(1)</script>")
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "PNG", pnginfo=meta)
    with pytest.raises(images.Rejected) as caught:
        images.inspect(out.getvalue(), "image/png")
    assert caught.value.reason == "embedded_markup"


def test_inspect_reads_exif_gps_and_capture_time():
    info = images.inspect(
        jpeg((640, 480), gps=(-33.8688, 151.2093), taken_at="2026-11-22T09:30:00", offset="+11:00"), "image/jpeg"
    )
    assert info.gps == pytest.approx((-33.8688, 151.2093), abs=1e-4)
    assert (info.taken_at, info.taken_offset) == ("2026-11-22T09:30:00", "+11:00")
    assert (info.format, info.width, info.height) == ("JPEG", 640, 480)


def test_inspect_without_exif_has_no_gps_and_no_time():
    info = images.inspect(jpeg((64, 64)), "image/jpeg")
    assert info.gps is None and info.taken_at is None


def test_thumbnail_of_photo_with_gps_carries_zero_exif_and_no_metadata_at_all():
    data = jpeg((2000, 1500), gps=(39.9042, 116.4074), taken_at="2026-11-22T09:30:00", comment=b"secret note")
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    thumb_bytes = images.inspect(data, "image/jpeg").thumbnail
    thumb = Image.open(io.BytesIO(thumb_bytes))
    assert len(thumb.getexif()) == 0
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(thumb.info)
    for marker in (b"Exif\x00", b"FieldCam", b"secret note", b"http://ns.adobe.com/xap"):
        assert marker not in thumb_bytes
    assert thumb.size == (512, 384)


@pytest.mark.parametrize(("orientation", "size"), [(1, (512, 384)), (3, (512, 384)), (6, (384, 512)), (8, (384, 512))])
def test_thumbnail_applies_exif_orientation(orientation, size):
    info = images.inspect(jpeg((1200, 900), orientation=orientation), "image/jpeg")
    assert Image.open(io.BytesIO(info.thumbnail)).size == size


def test_thumbnail_uses_jpeg_draft_mode(monkeypatch):
    """The decoder is asked for a reduced-size draft: 12 MP is never decoded at full size."""
    from PIL import JpegImagePlugin

    seen = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = real(self, mode, size)
        seen.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    images.inspect(jpeg((4000, 3000)), "image/jpeg")
    assert seen and seen[0][1][0] <= 1000  # decoded at 1/4 scale or smaller


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "LA", "I;16", "1"])
def test_thumbnail_of_png_in_any_mode_is_an_rgb_jpeg(mode):
    out = io.BytesIO()
    Image.new(mode, (600, 300)).save(out, "PNG")
    thumb = Image.open(io.BytesIO(images.inspect(out.getvalue(), "image/png").thumbnail))
    assert (thumb.format, thumb.mode, thumb.size) == ("JPEG", "RGB", (512, 256))


def test_jpeg_structure_walk_accepts_restart_markers_and_fill_bytes():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(out, "JPEG", restart_marker_blocks=1, progressive=True)
    info = images.inspect(out.getvalue(), "image/jpeg")
    assert (info.format, info.width, info.height) == ("JPEG", 64, 64)
    assert Image.open(io.BytesIO(info.thumbnail)).size == (64, 64)


def test_jpeg_with_zero_padding_after_eoi_is_accepted_but_other_trailing_bytes_are_not():
    data = jpeg((64, 64))
    images.inspect(data + b"\x00" * 32, "image/jpeg")
    with pytest.raises(images.Rejected):
        images.inspect(data + b"\x00PK\x03\x04", "image/jpeg")


def test_png_claiming_header_is_cheap_to_make():
    data = png_claiming(20_000, 20_000)
    assert len(data) < 10_000
    assert struct.unpack(">II", data[16:24]) == (20_000, 20_000)


def test_clean_copy_of_photo_with_gps_has_no_metadata_and_exactly_the_same_pixels():
    data = jpeg((800, 600), gps=(39.9042, 116.4074), taken_at="2026-11-22T09:30:00", comment=b"secret note")
    info = images.inspect(data, "image/jpeg")
    assert info.gps is not None  # read for the location check before it is stripped
    clean = Image.open(io.BytesIO(info.clean))
    assert len(clean.getexif()) == 0 and not clean.getexif().get_ifd(0x8825)
    for marker in (b"Exif\x00", b"FieldCam", b"secret note", b"http://ns.adobe.com/xap"):
        assert marker not in info.clean
    assert clean.tobytes() == Image.open(io.BytesIO(data)).tobytes()  # lossless: nothing re-encoded
    again = images.inspect(info.clean, "image/jpeg")  # still a valid, complete JPEG
    assert again.gps is None and again.taken_at is None


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_clean_copy_keeps_only_the_orientation(orientation):
    info = images.inspect(jpeg((300, 200), gps=(1.0, 2.0), orientation=orientation), "image/jpeg")
    exif = Image.open(io.BytesIO(info.clean)).getexif()
    assert dict(exif) == {0x0112: orientation}


def test_clean_copy_of_png_drops_text_and_exif_chunks():
    data = png((40, 30))
    iend = data.rindex(b"IEND") - 4
    exif = Image.Exif()
    exif[0x010F] = "FieldCam"
    meta = _chunk(b"tEXt", b"Comment\x00home address") + _chunk(b"eXIf", exif.tobytes())
    data = data[:iend] + meta + data[iend:]
    info = images.inspect(data, "image/png")
    assert b"home address" not in info.clean and b"FieldCam" not in info.clean
    assert Image.open(io.BytesIO(info.clean)).tobytes() == Image.open(io.BytesIO(data)).tobytes()
