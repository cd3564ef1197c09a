"""Test modules share helpers through tests/support.py and the conftests, never by
importing another test module (which would run that module's tests' imports, tie two
suites together and hide the helper where no reader looks for it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in TESTS.rglob("test_*.py") if "fixtures" not in p.parts)


def imports_of_test_modules(tree: ast.Module) -> list[str]:
    """The test modules (``test_*``) that a module imports, wherever the import sits."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if _is_test(node.module) else [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [n for n in names if _is_test(n)]
    return found


def _is_test(module: str) -> bool:
    return any(part.startswith("test_") for part in module.split("."))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TESTS)))
def test_no_test_module_imports_another_test_module(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert imports_of_test_modules(tree) == [], f"{path.name}: move the shared helper into tests/support.py"


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from tests.integration.test_expenses import draft\n", ["tests.integration.test_expenses"]),
        ("import tests.unit.test_x\n", ["tests.unit.test_x"]),
        ("from tests.integration import test_goals\n", ["tests.integration.test_goals"]),
        ("from tests.support import draft\n", []),
        ("def f():\n    from tests.integration.test_a import b\n", ["tests.integration.test_a"]),
    ],
)
def test_the_check_finds_imports_of_test_modules(source: str, found: list[str]) -> None:
    assert imports_of_test_modules(ast.parse(source)) == found
