"""JSON depth on the raw bytes: brackets in strings do not count, escapes are honoured."""

import json

import pytest

from chalicelib.errors import BadRequest
from chalicelib.jsonsafe import MAX_DEPTH, check_depth, depth_exceeds


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [2, 31, MAX_DEPTH])
def test_up_to_the_limit_passes(depth):
    assert not depth_exceeds(nested(depth))
    assert not depth_exceeds(json.dumps({"a": json.loads(nested(depth - 1))}))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 484, 100_000])
def test_beyond_the_limit_is_refused_without_recursion(depth):
    assert depth_exceeds(nested(depth).encode())
    with pytest.raises(BadRequest) as err:
        check_depth(nested(depth))
    assert err.value.status == 400 and err.value.code == "too_deeply_nested"


def test_brackets_inside_strings_do_not_count():
    assert not depth_exceeds(json.dumps({"a": "[" * 1000, "b": "{" * 1000}))
    assert not depth_exceeds(json.dumps({"a": '\\"[[[[' * 100}))  # escaped quotes stay inside
    assert not depth_exceeds(json.dumps({"a": "\\\\"}) + nested(1))  # an escaped backslash ends nothing
    assert depth_exceeds('{"a": "\\\\", "b": ' + nested(MAX_DEPTH) + "}")


def test_wide_bodies_are_not_deep():
    assert not depth_exceeds(json.dumps([[1]] * 50_000))
