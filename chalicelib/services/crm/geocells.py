"""Geohash cells covering a circle (distances: ``chalicelib.geo``).

The cells come from pygeohash (a maintained geohash library); the cover is computed from
the circle's exact bounding box on the sphere, so it is correct at cell edges, across the
antimeridian (the longitude range wraps) and near the poles (a circle that contains a pole
covers every longitude). The finest precision whose cover has at most ``MAX_CELLS`` cells
is chosen; precision 1 always qualifies (at most 8 columns x 2 rows), so a nearby query
reads at most ``MAX_CELLS`` cells whatever the radius, place or table size.

The nearby search then walks a quadtree under those cells: a node is a geohash bit
prefix (``bits_of``; bits alternate longitude, latitude), ``split`` adds one longitude and
one latitude bit (4 children, half as wide and half as high), ``key_range`` names the
run of geohash strings a node spans (one Query), and ``min_distance_m`` is the exact
great-circle distance from a point to the node's box: nothing in the node is nearer.
"""

from __future__ import annotations

import math

import pygeohash

from chalicelib.geo import EARTH_RADIUS_M, distance_m
from chalicelib.models.lists import GEOHASH_LEN

MAX_CELLS = 16
MAX_PRECISION = 9
BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"  # in character order, as geohash sorts
MAX_BITS = 5 * GEOHASH_LEN  # the stored geohash's bits: the quadtree's finest node
SAFETY_M = 0.001  # below any float rounding of a distance: a bound may only be too low

Box = tuple[float, float, float, float]  # (lat_lo, lat_hi, lng_lo, lng_hi), degrees


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


def bits_of(cell: str) -> str:
    """The geohash's bits as a string of 0 and 1."""
    return "".join(f"{BASE32.index(c):05b}" for c in cell)


def cell_box(bits: str) -> Box:
    """The closed box of a node (bisection, as geohash encodes: even bits are longitude)."""
    lat, lng = [-90.0, 90.0], [-180.0, 180.0]
    for i, bit in enumerate(bits):
        side = lng if i % 2 == 0 else lat
        mid = (side[0] + side[1]) / 2
        side[0 if bit == "1" else 1] = mid
    return lat[0], lat[1], lng[0], lng[1]


def key_range(bits: str) -> tuple[str, str]:
    """``(lo, hi)``: the node holds exactly the geohashes starting with a string from
    ``lo`` to ``hi`` (equal when the node is a whole character)."""
    whole, rem = divmod(len(bits), 5)
    head = "".join(BASE32[int(bits[5 * i : 5 * i + 5], 2)] for i in range(whole))
    if not rem:
        return head, head
    first = int(bits[5 * whole :], 2) << (5 - rem)
    return head + BASE32[first], head + BASE32[first + (1 << (5 - rem)) - 1]


def split(bits: str, levels: int = 1) -> list[str]:
    """The node's descendants ``levels`` down, in key order: each level one more longitude
    and latitude bit (fewer past ``MAX_BITS``), none at ``MAX_BITS``."""
    step = min(2 * levels, MAX_BITS - len(bits))
    return [bits + format(i, f"0{step}b") for i in range(2**step)] if step else []


def _lng_gap(lng: float, a: float) -> float:
    """Degrees of longitude between ``lng`` and ``a`` the short way round (0..180)."""
    return abs((a - lng + 180) % 360 - 180)


def min_distance_m(lat: float, lng: float, box: Box) -> float:
    """A lower bound (exact, less ``SAFETY_M``) of the great-circle distance from the
    point to any point of the box; across the antimeridian and at the poles too."""
    lat_lo, lat_hi, lng_lo, lng_hi = box
    if lng_lo <= lng <= lng_hi:  # straight along the meridian to the nearer parallel
        exact = math.radians(max(0.0, lat_lo - lat, lat - lat_hi)) * EARTH_RADIUS_M
        return max(0.0, exact - SAFETY_M)
    # else the nearest point is on the meridian edge nearer in longitude (for every
    # latitude, a smaller longitude gap is nearer): at the foot of the perpendicular
    # from the point to that meridian, or at one of the edge's ends
    edge = lng_lo if _lng_gap(lng, lng_lo) <= _lng_gap(lng, lng_hi) else lng_hi
    gap = math.radians(_lng_gap(lng, edge))
    phi = math.radians(lat)
    foot = math.degrees(math.atan2(math.sin(phi), math.cos(phi) * math.cos(gap)))
    candidates = {lat_lo, lat_hi, min(lat_hi, max(lat_lo, foot))}
    return max(0.0, min(distance_m((lat, lng), (c, edge)) for c in candidates) - SAFETY_M)
