"""The geohash cover of a circle holds every point within the radius (cell edges, the
antimeridian, the poles), in at most MAX_CELLS cells."""

from __future__ import annotations

import math
import random

import pytest

from chalicelib.geo import distance_m
from chalicelib.services.crm import geocells


def _point_at(lat: float, lng: float, distance: float, bearing: float) -> tuple[float, float]:
    """The point ``distance`` metres from (lat, lng) along ``bearing`` (great circle)."""
    d = distance / geocells.EARTH_RADIUS_M
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
    cells = geocells.cover(lat, lng, radius)
    assert 1 <= len(cells) <= geocells.MAX_CELLS
    rng = random.Random(f"{centre}{radius}")
    samples = [_point_at(lat, lng, radius * 0.9999, b) for b in range(0, 360, 3)]
    samples += [_point_at(lat, lng, radius * rng.random(), rng.uniform(0, 360)) for _ in range(300)]
    inside = [p for p in samples if distance_m((lat, lng), p) <= radius]
    assert len(inside) > 300  # (float rounding at the poles may push a boundary sample out)
    for p in inside:
        cell = geocells.encode(p[0], p[1], 12)
        assert any(cell.startswith(c) for c in cells), (p, cells)


def test_cover_is_fine_grained_at_ordinary_latitudes():
    cells = geocells.cover(31.2304, 121.4737, 2000)
    assert len(cells[0]) >= 5  # ~5 km cells, not a continent


def test_distance_is_symmetric_and_wraps_the_antimeridian():
    assert distance_m((0, 179.9999), (0, -179.9999)) < 30
    assert abs(distance_m((0, 0), (0, 1)) - 111_195) < 5


@pytest.mark.parametrize("centre", CENTRES)
def test_min_distance_to_a_cell_is_never_above_any_point_of_it_and_tight(centre):
    lat, lng = centre
    rng = random.Random(str(centre))
    for _ in range(40):
        near = _point_at(lat, lng, rng.choice([5, 500, 30_000, 2_000_000]), rng.uniform(0, 360))
        bits = geocells.bits_of(geocells.encode(*near, 12))[: rng.randint(1, 45)]
        lat_lo, lat_hi, lng_lo, lng_hi = box = geocells.cell_box(bits)
        bound = geocells.min_distance_m(lat, lng, box)
        grid = [
            (lat_lo + (lat_hi - lat_lo) * i / 40, lng_lo + (lng_hi - lng_lo) * j / 40)
            for i in range(41)
            for j in range(41)
        ]
        nearest = min(distance_m((lat, lng), p) for p in grid)
        assert bound <= nearest, (centre, bits)
        step = distance_m((lat_lo, lng_lo), (lat_hi, lng_hi)) / 40
        assert nearest - bound <= step + 1, (centre, bits)  # as near as the grid can tell


def test_a_cells_key_range_and_split_hold_exactly_its_points():
    rng = random.Random(3)
    for _ in range(300):
        lat, lng = rng.uniform(-90, 90), rng.uniform(-180, 180)
        full = geocells.encode(lat, lng, 12)
        bits = geocells.bits_of(full)[: rng.randint(0, 58)]
        lo, hi = geocells.key_range(bits)
        assert lo <= full[: len(lo)] <= hi
        lat_lo, lat_hi, lng_lo, lng_hi = geocells.cell_box(bits)
        assert lat_lo <= lat <= lat_hi and lng_lo <= lng <= lng_hi
        children = geocells.split(bits, rng.choice([1, 2]))
        holding = [
            c
            for c in children
            if geocells.key_range(c)[0] <= full[: len(geocells.key_range(c)[0])] <= geocells.key_range(c)[1]
        ]
        assert len(holding) == 1 and geocells.bits_of(full).startswith(holding[0])
        ranges = [geocells.key_range(c) for c in children]
        assert ranges == sorted(ranges) and all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert geocells.split("1" * geocells.MAX_BITS) == [] and len(geocells.split("0" * 59)) == 2
