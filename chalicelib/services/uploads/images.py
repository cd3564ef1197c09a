"""Verifying and thumbnailing untrusted images. Pure: bytes in, a verdict out.

Every upload is hostile until proven otherwise, so ``inspect`` checks, in this order:
size, magic bytes against the declared type, the container's structure (a JPEG must end
at its EOI marker, a PNG at IEND with every chunk CRC right: no trailing payload, no
truncation), embedded markup (HTML/script polyglots), and only then lets Pillow open it,
restricted to JPEG and PNG, with the decompression-bomb warning escalated to an error and
the pixel count checked from the header before anything is decoded. The thumbnail is made
with ``Image.thumbnail`` (JPEG draft mode: the decoder scales by 1/2..1/8 while decoding,
so a 12 MP photo never exists in memory at full size), turned upright from EXIF, and
re-encoded from bare pixels: it carries no EXIF, XMP, ICC or comment at all.

Anything unexpected from a decoder becomes ``Rejected``: a user's bytes never crash us.
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Any, Optional

from PIL import Image, ImageOps, UnidentifiedImageError

from chalicelib.timeutil import format_local, parse_exif

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000
THUMBNAIL_SIDE = 512
THUMBNAIL_QUALITY = 80
# Image.thumbnail asks the JPEG decoder for a draft of at least size x reducing_gap. 1.0
# lets it decode a 12 MP photo straight at 1/4 scale (1000x750) and then resample by ~2x
# (antialiased bicubic): half the decode work of the default 2.0 for no visible loss at
# 512 px. Never None: that turns draft mode off.
THUMBNAIL_REDUCING_GAP = 1.0
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Markup a browser or interpreter would act on, inside what claims to be an image.
MARKUP_RE = re.compile(rb"<(?:script|html|\?php|iframe|body|svg[\s>]|!doctype)", re.IGNORECASE)
# A JPEG marker inside entropy-coded data: 0xFF followed by neither a stuffed 0x00,
# a restart marker (D0-D7) nor a fill byte.
JPEG_MARKER_RE = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

# Pillow warns between MAX_IMAGE_PIXELS and twice that, and errors above: we escalate the
# warning (see ``inspect``) and check the header's pixel count ourselves as well.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_ORIENTATION = 0x0112
# JPEG segments kept by strip_metadata: JFIF (APP0), Adobe colour transform (APP14); ICC
# profiles (APP2 "ICC_PROFILE") too. Every other APPn (EXIF, XMP, maker notes...) and COM goes.
JPEG_KEPT_APP = (0xE0, 0xEE)
# PNG chunks that carry metadata rather than pixels
PNG_METADATA_CHUNKS = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})
OFFSET_RE = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")


class Rejected(Exception):
    """The bytes are not an acceptable image; ``reason`` is a stable snake_case code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    format: str  # JPEG | PNG
    width: int
    height: int
    gps: Optional[tuple[float, float]]  # (lat, lng) from EXIF
    taken_at: Optional[str]  # EXIF DateTimeOriginal as "YYYY-MM-DDTHH:MM:SS" (camera-local)
    taken_offset: Optional[str]  # EXIF OffsetTimeOriginal ("+08:00") when present
    thumbnail: bytes  # JPEG, longest side <= THUMBNAIL_SIDE, no metadata
    clean: bytes = b""  # the image itself, losslessly without EXIF/XMP/comments (orientation kept)


# ---------------------------------------------------------------- container checks
def sniff(data: bytes) -> Optional[str]:
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    return None


def _jpeg_end(data: bytes) -> int:
    """Offset just past the EOI marker that ends the image; Rejected if there is none."""
    n, i = len(data), 2
    while True:
        if i >= n:
            raise Rejected("truncated", "no end-of-image marker")
        if data[i] != 0xFF:
            raise Rejected("corrupt", "bad JPEG segment")
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            raise Rejected("truncated", "no end-of-image marker")
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            raise Rejected("truncated", "segment header cut short")
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2:
            raise Rejected("corrupt", "bad JPEG segment length")
        i += length
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next marker
            found = JPEG_MARKER_RE.search(data, i)
            if found is None:
                raise Rejected("truncated", "scan data cut short")
            i = found.start()


def _png_end(data: bytes) -> tuple[int, int, int]:
    """(offset past IEND, width, height); every chunk's CRC checked."""
    n, i = len(data), len(PNG_MAGIC)
    width = height = 0
    first = True
    while True:
        if i + 8 > n:
            raise Rejected("truncated", "no IEND chunk")
        length, ctype = struct.unpack(">I4s", data[i : i + 8])
        end = i + 8 + length + 4
        if length > 0x7FFFFFFF or end > n:
            raise Rejected("truncated", "chunk cut short")
        body = data[i + 8 : i + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise Rejected("corrupt", f"bad CRC in {ctype!r} chunk")
        if first:
            if ctype != b"IHDR" or length != 13:
                raise Rejected("corrupt", "PNG does not start with IHDR")
            width, height = struct.unpack(">II", body[:8])
            first = False
        if ctype == b"IEND":
            return end, width, height
        i = end


def check_container(data: bytes, fmt: str) -> None:
    if fmt == "JPEG":
        end = _jpeg_end(data)
    else:
        end, width, height = _png_end(data)
        if width * height > MAX_PIXELS:
            raise Rejected("too_many_pixels", f"{width}x{height}")
    if data[end:].strip(b"\x00"):
        raise Rejected("trailing_data", f"{len(data) - end} bytes after the image ends")
    if MARKUP_RE.search(data):
        raise Rejected("embedded_markup", "the file carries HTML or script")


# ---------------------------------------------------------------- metadata stripping
def _orientation_app1(orientation: int) -> bytes:
    """A minimal EXIF APP1 holding only the Orientation tag (big-endian TIFF, one IFD entry)."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", TAG_ORIENTATION, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _strip_jpeg(data: bytes, orientation: int) -> bytes:
    """Segments before the first scan, without metadata ones; the scan onwards byte for byte.
    ``data`` has passed ``check_container``, so every segment length is in bounds."""
    out = [data[:2]]
    if 2 <= orientation <= 8:
        out.append(_orientation_app1(orientation))
    i = 2
    while i < len(data):
        j = i
        while data[j] == 0xFF:  # fill bytes
            j += 1
        marker = data[j]
        if marker == 0xDA or marker == 0xD9:
            out.append(data[i:])
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out.append(b"\xff" + data[j : j + 1])
            i = j + 1
            continue
        (length,) = struct.unpack(">H", data[j + 1 : j + 3])
        end = j + 1 + length
        is_app = 0xE0 <= marker <= 0xEF
        icc = marker == 0xE2 and data[j + 3 : j + 15] == b"ICC_PROFILE\x00"
        if not ((is_app and marker not in JPEG_KEPT_APP and not icc) or marker == 0xFE):
            out.append(b"\xff" + data[j:end])
        i = end
    return b"".join(out)


def _strip_png(data: bytes) -> bytes:
    out, i = [data[: len(PNG_MAGIC)]], len(PNG_MAGIC)
    while i + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[i : i + 8])
        end = i + 12 + length
        if ctype not in PNG_METADATA_CHUNKS:
            out.append(data[i:end])
        i = end
        if ctype == b"IEND":
            break
    return b"".join(out)


def strip_metadata(data: bytes, fmt: str, orientation: int = 1) -> bytes:
    """The same pixels, losslessly (nothing re-encoded), without EXIF (GPS, device, serial),
    XMP, comments or text chunks; a JPEG keeps its orientation in a one-tag EXIF."""
    return _strip_jpeg(data, orientation) if fmt == "JPEG" else _strip_png(data)


# ---------------------------------------------------------------- EXIF
def _ratio(value: Any) -> float:
    result = float(value)
    if not math.isfinite(result):
        raise ValueError("not finite")
    return result


def _dms(values: Any, ref: Any) -> Optional[float]:
    if not isinstance(values, tuple) or len(values) != 3:
        return None
    degrees = _ratio(values[0]) + _ratio(values[1]) / 60 + _ratio(values[2]) / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if isinstance(ref, str) and ref.strip("\x00 ").upper() in {"S", "W"}:
        degrees = -degrees
    return degrees


def read_gps(exif: Image.Exif) -> Optional[tuple[float, float]]:
    try:
        gps = exif.get_ifd(GPS_IFD)
        lat, lng = _dms(gps.get(2), gps.get(1)), _dms(gps.get(4), gps.get(3))
    except Exception:  # noqa: BLE001 - malformed EXIF means "no GPS", never a crash
        return None
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return round(lat, 7), round(lng, 7)


def read_capture_time(exif: Image.Exif) -> tuple[Optional[str], Optional[str]]:
    try:
        sub = exif.get_ifd(EXIF_IFD)
        raw = sub.get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME)
        offset = sub.get(TAG_OFFSET_TIME_ORIGINAL)
        if not isinstance(raw, str):
            return None, None
        taken = parse_exif(raw)
    except Exception:  # noqa: BLE001 - an unreadable date is no date
        return None, None
    if taken is None:
        return None, None
    offset = offset.strip("\x00 ") if isinstance(offset, str) else None
    return format_local(taken), offset if offset and OFFSET_RE.match(offset) else None


# ---------------------------------------------------------------- pixels
def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return im.convert("I").point(lambda v: v / 256).convert("L").convert("RGB")
    return im.convert("RGB")


def make_thumbnail(im: Image.Image, side: int = THUMBNAIL_SIDE) -> bytes:
    """Thumbnail (draft-mode decode for JPEG), upright, re-encoded with no metadata."""
    im.thumbnail((side, side), reducing_gap=THUMBNAIL_REDUCING_GAP)  # JPEG draft mode stays on
    upright = ImageOps.exif_transpose(im)
    rgb = _to_rgb(upright)
    bare = Image.frombytes("RGB", rgb.size, rgb.tobytes())  # pixels only: no info, no EXIF
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()


def inspect(data: bytes, declared_content_type: str) -> ImageInfo:
    """Verify ``data`` is a JPEG/PNG of the declared type within limits; thumbnail it."""
    if not data:
        raise Rejected("empty", "zero bytes")
    if len(data) > MAX_UPLOAD_BYTES:
        raise Rejected("too_large", f"{len(data)} bytes")
    declared = FORMATS.get(declared_content_type)
    if declared is None:
        raise Rejected("unsupported_type", declared_content_type)
    actual = sniff(data)
    if actual is None:
        raise Rejected("not_an_image", "neither JPEG nor PNG")
    if actual != declared:
        raise Rejected("type_mismatch", f"declared {declared_content_type}, content is {actual}")
    check_container(data, actual)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # corrupt-EXIF chatter: EXIF is optional
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[actual]) as im:
                if im.format != actual:
                    raise Rejected("type_mismatch", f"content is {im.format}")
                width, height = im.size
                if width < 1 or height < 1:
                    raise Rejected("corrupt", "empty image")
                if width * height > MAX_PIXELS:
                    raise Rejected("too_many_pixels", f"{width}x{height}")
                exif = im.getexif()
                gps = read_gps(exif)
                taken_at, taken_offset = read_capture_time(exif)
                orientation = exif.get(TAG_ORIENTATION)
                thumbnail = make_thumbnail(im)
            clean = strip_metadata(data, actual, orientation if isinstance(orientation, int) else 1)
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected("too_many_pixels", str(exc)[:200]) from None
    except UnidentifiedImageError:
        raise Rejected("not_an_image", "the decoder does not recognise it") from None
    except MemoryError:
        raise Rejected("too_large", "the image does not fit in memory") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise many types on hostile input
        raise Rejected("corrupt", f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return ImageInfo(actual, width, height, gps, taken_at, taken_offset, thumbnail, clean)
