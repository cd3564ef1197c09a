"""JSON nesting depth, measured on the raw bytes before anything parses them.

``json.loads`` and every recursive walk after it (pydantic, our own helpers, a library's
verifier) recurse once per level: a 10,000-deep body is a ``RecursionError``. The
contract says a body nested deeper than 32 levels is 400, so the depth is checked here,
in one pass without recursion, before the body reaches any parser.
"""

from __future__ import annotations

import re

from chalicelib.errors import BadRequest

MAX_DEPTH = 32
_SIGNIFICANT = re.compile(rb'["\\\[\]{}]')
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


def depth_exceeds(raw: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """True when some container (object or array) in ``raw`` sits deeper than ``limit``.

    Brackets inside strings do not count; an escaped quote does not end a string. Linear
    in the body's size: it visits only quotes, backslashes and brackets. Malformed JSON
    may be answered either way: it is refused as malformed later anyway."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth, in_string, escaped_at = 0, False, -2
    for m in _SIGNIFICANT.finditer(data):
        pos, ch = m.start(), data[m.start()]
        if in_string:
            if escaped_at == pos - 1:  # this character is escaped
                escaped_at = -2
            elif ch == _BACKSLASH:
                escaped_at = pos
            elif ch == _QUOTE:
                in_string = False
            continue
        if ch == _QUOTE:
            in_string = True
        elif ch in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif ch in _CLOSE:
            depth -= 1
    return False


def check_depth(raw: bytes | str, limit: int = MAX_DEPTH) -> None:
    """400 ``too_deeply_nested`` for a body nested deeper than ``limit`` levels."""
    if depth_exceeds(raw, limit):
        raise BadRequest(f"the JSON body is nested deeper than {limit} levels", code="too_deeply_nested")
