"""The nearby search (services/crm/lists.py ``_nearest``) answers exactly what sorting every
entry within the radius would: same accounts, same order (ties by id), same distances,
over random points and densities (uniform, clustered, piled on one spot, on geohash cell
edges, just outside the radius), across the antimeridian and at the poles; and no entry
is read twice."""

from __future__ import annotations

import math
import random

import pytest

from chalicelib.geo import EARTH_RADIUS_M, distance_m
from chalicelib.models.base import BaseItem
from chalicelib.models.lists import GeoEntry, geo_pk
from chalicelib.services.crm import geocells, lists

TENANT = "prop"

CENTRES = [
    (31.2304, 121.4737),
    (0.0, 0.0),  # a corner of four precision-1 cells
    (10.0, 179.9999),  # the antimeridian
    (-33.9, -179.9995),
    (89.9999, 45.0),  # the north pole
    (-89.9, -120.0),  # near the south pole
    (88.5, 179.99),
    (45.0, 22.5),  # on precision-1..3 cell edges
    (31.2890625, 121.46484375),  # a precision-5 cell corner
]


def _point_at(lat: float, lng: float, distance: float, bearing: float) -> tuple[float, float]:
    d = distance / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lng), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return max(-90.0, min(90.0, math.degrees(p2))), (math.degrees(l2) + 540) % 360 - 180


def _on_edges(rng: random.Random, centre: tuple[float, float], n: int) -> list[tuple[float, float]]:
    """Points exactly on the edges and corners of the cells around the centre."""
    out = []
    for _ in range(n):
        bits = geocells.bits_of(geocells.encode(*centre, rng.randint(4, 8)))[: rng.randint(18, 40)]
        lat_lo, lat_hi, lng_lo, lng_hi = geocells.cell_box(bits)
        out.append((rng.choice([lat_lo, lat_hi, (lat_lo + lat_hi) / 2]), rng.choice([lng_lo, lng_hi])))
    return out


def _scenario(seed: int) -> tuple[tuple[float, float], float, int, list[tuple[float, float]]]:
    rng = random.Random(seed)
    centre = rng.choice(CENTRES) if seed % 3 else (rng.uniform(-90, 90), rng.uniform(-180, 180))
    radius = rng.choice([10, 150, 2000, 12_345, 50_000, rng.uniform(10, 50_000)])
    limit = rng.choice([1, 2, 3, 5, 20])
    points: list[tuple[float, float]] = []
    for kind in rng.sample(["uniform", "cluster", "pile", "edges", "shell", "far"], rng.randint(1, 4)):
        n = rng.randint(5, 120)
        if kind == "uniform":
            far = [radius * 1.5 * math.sqrt(rng.random()) for _ in range(n)]
            points += [_point_at(*centre, d, rng.uniform(0, 360)) for d in far]
        elif kind == "cluster":  # dense around a spot near the centre
            spot = _point_at(*centre, radius * rng.random(), rng.uniform(0, 360))
            spread = radius * rng.choice([0.001, 0.01, 0.1])
            points += [_point_at(*spot, abs(rng.gauss(0, spread)), rng.uniform(0, 360)) for _ in range(n)]
        elif kind == "pile":  # many accounts on one spot (one finest cell): more than a Query's Limit
            spot = _point_at(*centre, radius * rng.random(), rng.uniform(0, 360))
            points += [spot] * n
        elif kind == "edges":
            points += _on_edges(rng, centre, n)
        elif kind == "shell":  # just outside the radius, and just inside
            at = [radius * (1 + rng.choice([1e-6, -1e-6, 1e-3])) for _ in range(n)]
            points += [_point_at(*centre, d, rng.uniform(0, 360)) for d in at]
        else:
            points += [(rng.uniform(-90, 90), rng.uniform(-180, 180)) for _ in range(n)]
    return centre, radius, limit, points


def _fill(viewer: str, points: list[tuple[float, float]]) -> None:
    with BaseItem.batch_write() as batch:
        for i, (lat, lng) in enumerate(points):
            entry = GeoEntry(
                tenant_id=TENANT,
                viewer=viewer,
                object_id=f"acc_{i:04d}",
                geohash=geocells.encode(lat, lng, 12),
                lat=lat,
                lng=lng,
            )
            entry.set_keys()
            batch.save(entry)


def _brute_force(centre, radius, limit, points) -> list[tuple[str, float]]:
    within = [(distance_m(centre, p), f"acc_{i:04d}") for i, p in enumerate(points)]
    return [(i, d) for d, i in sorted(x for x in within if x[0] <= radius)[:limit]]


@pytest.mark.parametrize("seed", range(90))
def test_nearest_is_exactly_the_brute_force_answer(aws, ddb_requests, seed):
    centre, radius, limit, points = _scenario(seed)
    viewer = f"v{seed}"
    _fill(viewer, points)
    ddb_requests.reset()
    got = lists._nearest([geo_pk(TENANT, viewer)], *centre, radius, limit)
    assert got == _brute_force(centre, radius, limit, points), (centre, radius, limit)
    assert set(ddb_requests.calls) <= {"Query"}


def test_no_entry_is_read_twice_and_every_query_has_the_limit(aws, monkeypatch):
    centre = CENTRES[0]
    rng = random.Random(7)
    points = [_point_at(*centre, abs(rng.gauss(0, 300)), rng.uniform(0, 360)) for _ in range(600)]
    _fill("dense", points)
    read: list[str] = []
    limits: list[int] = []
    original = GeoEntry.in_cell.__func__  # type: ignore[attr-defined]

    def recording(cls, pk, lo, hi, limit, after=None):
        entries = original(cls, pk, lo, hi, limit, after)
        read.extend(e.object_id for e in entries)
        limits.append(limit)
        return entries

    monkeypatch.setattr(GeoEntry, "in_cell", classmethod(recording))
    got = lists._nearest([geo_pk(TENANT, "dense")], *centre, 50_000, 5)
    assert got == _brute_force(centre, 50_000, 5, points)
    assert len(read) == len(set(read)), "an entry was read twice"
    assert set(limits) == {5 + lists.NEARBY_PAGE_EXTRA}
    assert len(read) < 200, "a dense cluster was read far beyond the answer"


@pytest.mark.parametrize("offset_m", [0.0, 30.0])
def test_a_crowd_on_one_spot_costs_the_limit_not_the_crowd(aws, monkeypatch, offset_m):
    """Issue 24 item 6: about 250 accounts on one spot (at the point or just beside it);
    ``limit=1`` reads a bounded number of Queries and entries, as anywhere else."""
    centre = CENTRES[0]
    spot = _point_at(*centre, offset_m, 45.0)
    _fill(f"crowd{offset_m}", [spot] * 250 + [_point_at(*centre, 900.0, 90.0)])
    read: list[int] = []
    original = GeoEntry.in_cell.__func__  # type: ignore[attr-defined]

    def recording(cls, pk, lo, hi, limit, after=None):
        entries = original(cls, pk, lo, hi, limit, after)
        read.append(len(entries))
        return entries

    monkeypatch.setattr(GeoEntry, "in_cell", classmethod(recording))
    got = lists._nearest([geo_pk(TENANT, f"crowd{offset_m}")], *centre, 2000, 1)
    assert got == [("acc_0000", pytest.approx(distance_m(centre, spot), abs=1e-6))]
    assert len(read) <= lists.MAX_NEARBY_QUERIES and sum(read) <= 40, (len(read), sum(read))
