"""No function in chalicelib/ is longer than 60 lines (issue 13): a longer one is a sign
that a service does two things, and it is split before it grows further."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
LIMIT = 60


def long_functions(source: str) -> list[tuple[str, int]]:
    tree = ast.parse(source)
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > LIMIT
    ]


def test_the_check_sees_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    assert long_functions(f"def f():\n{body}\n") == [("f", LIMIT + 1)]
    assert long_functions("def g():\n    return 1\n") == []


def test_no_function_in_chalicelib_is_over_60_lines() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{name}": length
        for path in sorted(ROOT.rglob("*.py"))
        for name, length in long_functions(path.read_text())
    }
    assert found == {}
