"""The day's route solver and the one distance function, against brute force and known distances."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.geo import EARTH_RADIUS_M, distance_m, path_m
from chalicelib.services.fieldwork import routing

ONE_DEGREE_M = math.pi * EARTH_RADIUS_M / 180

coords = st.tuples(st.floats(min_value=30.9, max_value=31.6), st.floats(min_value=121.1, max_value=121.9))


def brute_force(d: routing.Matrix) -> float:
    n = len(d) - 1
    return min((routing.length(d, p) for p in itertools.permutations(range(1, n + 1))), default=0.0)


def test_distance_of_one_degree_along_the_equator_and_a_meridian_is_the_arc():
    assert math.isclose(distance_m((0, 0), (0, 1)), ONE_DEGREE_M, rel_tol=1e-12)
    assert math.isclose(distance_m((10, 30), (11, 30)), ONE_DEGREE_M, rel_tol=1e-12)


def test_distance_across_the_antimeridian_is_the_short_way_round():
    assert math.isclose(distance_m((0, 179.5), (0, -179.5)), ONE_DEGREE_M, rel_tol=1e-9)


def test_distance_over_the_pole_is_the_arc_through_it():
    assert math.isclose(distance_m((89.5, 0), (89.5, 180)), ONE_DEGREE_M, rel_tol=1e-9)


def test_distance_between_known_cities_matches_published_great_circle_figures():
    shanghai, beijing = (31.2304, 121.4737), (39.9042, 116.4074)
    assert 1_066_000 < distance_m(shanghai, beijing) < 1_070_000


def test_path_of_1km_steps_is_their_sum():
    step = 1000 / ONE_DEGREE_M
    points = [(0.0, i * step) for i in range(11)]
    assert math.isclose(path_m(points), 10_000, rel_tol=1e-9)
    assert path_m(points[:1]) == 0 and path_m([]) == 0


@settings(max_examples=120, deadline=None, derandomize=True)
@given(start=coords, stops=st.lists(coords, min_size=0, max_size=8))
def test_route_up_to_8_stops_equals_the_brute_force_optimum(start, stops):
    d = routing.matrix(start, stops)
    order = routing.shortest_order(d, list(range(1, len(stops) + 1)))
    assert sorted(order) == list(range(1, len(stops) + 1))
    assert math.isclose(routing.length(d, order), brute_force(d), rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(start=coords, stops=st.lists(coords, min_size=11, max_size=routing.MAX_STOPS))
def test_route_beyond_the_exact_size_is_never_longer_than_start_order_or_nearest_neighbour(start, stops):
    d = routing.matrix(start, stops)
    given_order = list(range(1, len(stops) + 1))
    order = routing.shortest_order(d, given_order)
    assert sorted(order) == given_order
    assert routing.length(d, order) <= routing.length(d, given_order) + 1e-6
    assert routing.length(d, order) <= routing.length(d, routing.nearest_neighbour(d)) + 1e-6


def test_route_along_a_line_visits_the_stops_in_line_order():
    start = (31.0, 121.0)
    stops = [(31.0, 121.0 + k / 100) for k in (5, 1, 4, 2, 3, 9, 7, 6, 8, 11, 10, 12, 14, 13)]
    d = routing.matrix(start, stops)
    order = routing.shortest_order(d, list(range(1, len(stops) + 1)))
    assert [stops[i - 1][1] for i in order] == sorted(s[1] for s in stops)
