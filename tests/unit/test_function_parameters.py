"""No function in chalicelib/ takes more than 6 parameters (``self``/``cls`` not counted;
``*args``/``**kwargs`` count once each): beyond that the inputs travel as one frozen
dataclass, a command object (``NewSignIn``, ``NewMessage``, ``ListQuery``, ``RouteSpec``,
...), whose fields are named at the call site and checked by mypy."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
LIMIT = 6


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (args.vararg is not None) + (args.kwarg is not None)


def wide_functions(source: str) -> list[tuple[str, int]]:
    return [
        (node.name, parameter_count(node))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and parameter_count(node) > LIMIT
    ]


def test_the_check_counts_every_kind_of_parameter() -> None:
    assert wide_functions("def f(a, b, c, d, e, f):\n    pass\n") == []
    assert wide_functions("def f(a, b, c, *, d, e, f, g):\n    pass\n") == [("f", 7)]
    assert wide_functions("def f(a, /, b, c, d, e, f, *args):\n    pass\n") == [("f", 7)]
    assert wide_functions("class C:\n    def m(self, a, b, c, d, e, f):\n        pass\n") == []
    assert wide_functions("def f(a, b, c, d, e, f, **kw):\n    pass\n") == [("f", 7)]


def test_no_function_in_chalicelib_takes_more_than_6_parameters() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{name}": count
        for path in sorted(ROOT.rglob("*.py"))
        for name, count in wide_functions(path.read_text())
    }
    assert found == {}
