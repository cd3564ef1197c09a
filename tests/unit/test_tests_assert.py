"""A test that cannot fail is a defect. Each test module must make at least one assertion
whose value comes from running code: an ``assert`` over a call's result (directly, or
through a name bound from one in the same function), or a ``pytest.raises`` block around
a call. A module of ``assert True``, of constants compared with constants, or of tests
that assert nothing, is flagged here.

Also flagged: a test function that neither makes such an assertion nor calls a helper
that checks (one that asserts or raises: tests/support.py, the conftests, the module's
own, or a library's matcher such as the CDK's ``Template.has_resource_properties``), and
an ``assert`` whose test is a constant (``assert True``, ``assert "x"``), which passes
whatever the code does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in TESTS.rglob("test_*.py") if "fixtures" not in p.parts)


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


# Calls that compute nothing of the code under test: over constants they are constants.
PURE = frozenset(
    {"len", "set", "frozenset", "sorted", "list", "dict", "tuple", "sum", "min", "max", "any", "all", "abs"}
    | {"isinstance", "str", "int", "float", "bool", "repr", "range", "enumerate", "zip", "reversed", "Decimal"}
)


def _has_call(node: ast.AST) -> bool:
    """A call of something other than a builtin over constants."""
    return any(
        isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name) and n.func.id in PURE) for n in ast.walk(node)
    )


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound_from_calls(function: ast.AST, imported: frozenset[str] = frozenset()) -> set[str]:
    """Names a function binds from a call's result (``status, out = api.get(...)``,
    ``for row in rows(...)``, ``with open(...) as f``), from the project's imports, from
    names so bound, and lists handed to running code (a spy's ``seen.append``)."""
    parametrized = {name for d in getattr(function, "decorator_list", []) for name in _argnames(d)}
    arguments = getattr(function, "args", ast.arguments()).args
    bound: set[str] = {a.arg for a in arguments} - parametrized  # fixtures: running code; parameters: constants
    bound |= imported
    for node in ast.walk(function):
        if isinstance(node, ast.Call):  # whatever a call is handed (or a callback reaches) it may fill
            handed = [*node.args, *(k.value for k in node.keywords)]
            bound |= set().union(set(), *(_names(a) for a in handed if not isinstance(a, ast.Constant)))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not function:
            bound |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    changed = True
    while changed:
        changed = False
        for node in ast.walk(function):
            pairs: list[tuple[list[ast.AST], ast.AST | None]] = []
            if isinstance(node, ast.Assign):
                pairs.append((list(node.targets), node.value))
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
                pairs.append(([node.target], node.value))
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                pairs.append(([node.target], node.iter))
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                pairs += [([i.optional_vars], i.context_expr) for i in node.items if i.optional_vars is not None]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _names(node) & bound:
                pairs.append(([node.func.value], node))  # rows.append(found): rows holds running code's output
            for targets, value in pairs:
                if value is None or not (_has_call(value) or _names(value) & bound):
                    continue
                new = set().union(*(_names(t) for t in targets)) - bound
                if new:
                    bound |= new
                    changed = True
    return bound


def _argnames(decorator: ast.AST) -> list[str]:
    """The names a ``@pytest.mark.parametrize("a, b", ...)`` decorator binds."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return []
    if decorator.func.attr != "parametrize" or not decorator.args:
        return []
    first = decorator.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return [n.strip() for n in first.value.split(",")]
    if isinstance(first, (ast.Tuple, ast.List)):
        return [e.value for e in first.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _is_pytest_raises(item: ast.withitem) -> bool:
    call = item.context_expr
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in {"raises", "warns"}
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "pytest"
    )


def _live(function: ast.AST, imported: frozenset[str] = frozenset()) -> int:
    bound = _bound_from_calls(function, imported)
    found = 0
    for node in ast.walk(function):
        if isinstance(node, ast.Assert) and (_has_call(node.test) or _names(node.test) & bound):
            found += 1
        elif isinstance(node, (ast.With, ast.AsyncWith)) and any(_is_pytest_raises(i) for i in node.items):
            found += any(_has_call(stmt) for stmt in node.body)
    return found


def live_assertions(tree: ast.Module) -> int:
    """How many assertions in the module depend on running code."""
    return sum(_live(function, _imported(tree)) for function in _functions(tree))


# Project code: what a test imports from these runs the code under test.
PROJECT = ("chalicelib", "app", "local", "tests")
# Assertions made by a library: the CDK's Template matchers, hypothesis' state machines.
CHECKING_CALLS = frozenset(
    {"has_resource", "has_resource_properties", "resource_count_is", "run_state_machine_as_test"}
)
SHARED = [TESTS / "support.py", TESTS / "conftest.py", *sorted(TESTS.glob("*/conftest.py"))]
SHARED += sorted(p for p in TESTS.glob("*/*.py") if not p.name.startswith(("test_", "__", "conftest")))


def _imported(tree: ast.Module) -> frozenset[str]:
    return frozenset(
        alias.asname or alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
        if (node.module if isinstance(node, ast.ImportFrom) else alias.name or "").startswith(PROJECT)
    )


def checking_helpers(trees: list[ast.Module]) -> set[str]:
    """Functions that assert or raise: a test that calls one checks what it got."""
    return {
        f.name
        for tree in trees
        for f in _functions(tree)
        if any(isinstance(n, (ast.Assert, ast.Raise)) for n in ast.walk(f)) or _live(f)
    } | CHECKING_CALLS


def dead_tests(tree: ast.Module, helpers: set[str]) -> list[str]:
    """Test functions that neither assert on running code nor call anything that checks."""
    dead = []
    imported = _imported(tree)
    for function in tree.body:
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or not function.name.startswith("test"):
            continue
        called = {
            n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
            for n in ast.walk(function)
            if isinstance(n, ast.Call)
        }
        if not _live(function, imported) and not called & helpers:
            dead.append(function.name)
    return dead


def constant_assertions(tree: ast.Module) -> list[int]:
    """Lines of asserts whose test is a constant: they pass whatever the code does."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Constant) and node.test.value
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TESTS)))
def test_each_test_module_asserts_something_the_code_decides(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert live_assertions(tree) > 0, f"{path.name}: no assertion depends on a call's result"
    assert constant_assertions(tree) == [], f"{path.name}: asserts a constant at these lines"


@pytest.fixture(scope="module")
def helpers() -> set[str]:
    return checking_helpers([ast.parse(p.read_text()) for p in SHARED if p.exists()])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TESTS)))
def test_each_test_asserts_or_calls_a_check(path: Path, helpers: set[str]) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert dead_tests(tree, helpers | checking_helpers([tree])) == [], f"{path.name}: these tests check nothing"


@pytest.mark.parametrize(
    ("source", "live"),
    [
        ("def test_x():\n    assert True\n", 0),
        ("def test_x():\n    x = 1\n    assert x == 1\n", 0),
        ("def test_x():\n    pass\n", 0),
        ("def test_x():\n    with pytest.raises(ValueError):\n        pass\n", 0),
        ("def test_x(api):\n    assert api.get('/')[0] == 200\n", 1),
        ("def test_x():\n    status, out = f()\n    assert status == 200\n", 1),
        ("def test_x():\n    rows = f()\n    first = rows[0]\n    assert first\n", 1),
        ("def test_x(aws):\n    assert aws['queue']\n", 1),
        ("def test_x():\n    assert len([1, 2]) == 2\n", 0),
        ("@pytest.mark.parametrize('n', [1])\ndef test_x(n):\n    assert n == 1\n", 0),
        ("@pytest.mark.parametrize(('n', 'm'), [(1, 2)])\ndef test_x(n, m, api):\n    assert api.f(n) == m\n", 1),
        ("def test_x():\n    with pytest.raises(ValueError):\n        parse('x')\n", 1),
    ],
)
def test_the_check_tells_live_assertions_from_dead_ones(source: str, live: int) -> None:
    assert live_assertions(ast.parse(source)) == live


def test_a_constant_assertion_is_found() -> None:
    assert constant_assertions(ast.parse("def test_x():\n    assert 1\n    assert f()\n")) == [2]


def test_a_test_that_checks_nothing_is_found() -> None:
    tree = ast.parse(
        "def helper(x):\n    assert x\n\n"
        "def test_dead():\n    run()\n\n"
        "def test_helper():\n    helper(run())\n\n"
        "def test_spy(monkeypatch):\n    seen = []\n    monkeypatch.setattr(m, 'f', seen.append)\n    assert seen\n"
    )
    assert dead_tests(tree, checking_helpers([tree])) == ["test_dead"]
