"""The geohash cover of a circle holds every point within the radius (cell edges, the
antimeridian, the poles), in at most MAX_CELLS cells."""

from __future__ import annotations

import math
import random

import pytest

from chalicelib.geo import distance_m
from chalicelib.services import geo


def _point_at(lat: float, lng: float, distance: float, bearing: float) -> tuple[float, float]:
    """The point ``distance`` metres from (lat, lng) along ``bearing`` (great circle)."""
    d = distance / geo.EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lng), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


CENTRES = [
    (31.2304, 121.4737),  # Shanghai
    (0.0, 0.0),  # a corner of four precision-1 cells
    (0.0, 180.0),
    (12.5, -179.9999),  # just east of the antimeridian
    (-33.9, 179.9995),  # just west of it
    (89.9999, 45.0),  # at the north pole
    (-89.95, -120.0),  # near the south pole
    (88.5, 179.99),  # pole-ward and across the antimeridian
    (45.0, 22.5),  # on precision-1..3 cell edges
    (31.2890625, 121.46484375),  # a precision-5 cell corner
]


@pytest.mark.parametrize("centre", CENTRES)
@pytest.mark.parametrize("radius", [10, 150, 2000, 12_345, 50_000])
def test_cover_holds_every_point_within_the_radius(centre, radius):
    lat, lng = centre
    cells = geo.cover(lat, lng, radius)
    assert 1 <= len(cells) <= geo.MAX_CELLS
    rng = random.Random(f"{centre}{radius}")
    samples = [_point_at(lat, lng, radius * 0.9999, b) for b in range(0, 360, 3)]
    samples += [_point_at(lat, lng, radius * rng.random(), rng.uniform(0, 360)) for _ in range(300)]
    inside = [p for p in samples if distance_m((lat, lng), p) <= radius]
    assert len(inside) > 300  # (float rounding at the poles may push a boundary sample out)
    for p in inside:
        cell = geo.encode(p[0], p[1], 12)
        assert any(cell.startswith(c) for c in cells), (p, cells)


def test_cover_is_fine_grained_at_ordinary_latitudes():
    cells = geo.cover(31.2304, 121.4737, 2000)
    assert len(cells[0]) >= 5  # ~5 km cells, not a continent


def test_distance_is_symmetric_and_wraps_the_antimeridian():
    assert distance_m((0, 179.9999), (0, -179.9999)) < 30
    assert abs(distance_m((0, 0), (0, 1)) - 111_195) < 5
