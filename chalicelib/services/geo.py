"""Geohash cells covering a circle (distances: ``chalicelib.geo``).

The cells come from pygeohash (a maintained geohash library); the cover is computed from
the circle's exact bounding box on the sphere, so it is correct at cell edges, across the
antimeridian (the longitude range wraps) and near the poles (a circle that contains a pole
covers every longitude). The finest precision whose cover has at most ``MAX_CELLS`` cells
is chosen; precision 1 always qualifies (at most 8 columns x 2 rows), so a nearby query
reads at most ``MAX_CELLS`` cells whatever the radius, place or table size.
"""

from __future__ import annotations

import math

import pygeohash

from chalicelib.geo import EARTH_RADIUS_M

MAX_CELLS = 16
MAX_PRECISION = 9


def encode(lat: float, lng: float, precision: int = 12) -> str:
    return pygeohash.encode(lat, lng, precision=precision)


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float | None, float | None]:
    """``(lat_lo, lat_hi, lng_lo, lng_hi)`` of the spherical cap; longitudes are None when
    the cap contains a pole (every longitude), and may leave -180..180 (they wrap)."""
    delta = radius_m / EARTH_RADIUS_M
    lat_lo, lat_hi = lat - math.degrees(delta), lat + math.degrees(delta)
    if lat_hi >= 90 or lat_lo <= -90:
        return max(lat_lo, -90.0), min(lat_hi, 90.0), None, None
    dlng = math.degrees(math.asin(min(1.0, math.sin(delta) / math.cos(math.radians(lat)))))
    return lat_lo, lat_hi, lng - dlng, lng + dlng


def _grid(precision: int) -> tuple[int, int]:
    """(rows, columns) of the geohash grid at a precision (longitude gets the odd bit)."""
    bits = 5 * precision
    return 2 ** (bits // 2), 2 ** (bits - bits // 2)


def _cover_at(box: tuple[float, float, float | None, float | None], precision: int) -> list[str] | None:
    lat_lo, lat_hi, lng_lo, lng_hi = box
    rows, cols = _grid(precision)
    h, w = 180 / rows, 360 / cols
    i_lo, i_hi = max(0, math.floor((lat_lo + 90) / h)), min(rows - 1, math.floor((lat_hi + 90) / h))
    if lng_lo is None or lng_hi is None:
        columns = range(cols)
    else:
        j_lo, j_hi = math.floor((lng_lo + 180) / w), math.floor((lng_hi + 180) / w)
        columns = range(cols) if j_hi - j_lo + 1 >= cols else range(j_lo, j_hi + 1)
    if (i_hi - i_lo + 1) * len(columns) > MAX_CELLS:
        return None
    cells = []
    for i in range(i_lo, i_hi + 1):
        for j in columns:
            j = j % cols
            cells.append(encode((i + 0.5) * h - 90, (j + 0.5) * w - 180, precision))
    return sorted(set(cells))


def cover(lat: float, lng: float, radius_m: float) -> list[str]:
    """Geohash cells (at most ``MAX_CELLS``, one precision) whose union holds the circle."""
    box = bounding_box(lat, lng, radius_m)
    for precision in range(MAX_PRECISION, 0, -1):
        cells = _cover_at(box, precision)
        if cells is not None:
            return cells
    raise AssertionError("precision 1 always covers a cap within MAX_CELLS")  # pragma: no cover
