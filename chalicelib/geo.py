"""Great-circle geometry on the WGS 84 mean sphere: the one distance function of the app.

The haversine formula on a sphere of radius 6,371,008.8 m (the IUGG mean radius) is within
0.5% of the ellipsoidal distance everywhere: far below a phone's GPS error for check-in
radii, and what a mileage claim or a route needs (a road is longer than either).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8

Point = tuple[float, float]  # (lat, lng) in degrees


def distance_m(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance in metres; exact across the antimeridian and poles."""
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def path_m(points: Sequence[Point]) -> float:
    """Length of the path through ``points`` in order (0 for fewer than two)."""
    return sum(distance_m(points[i], points[i + 1]) for i in range(len(points) - 1))
