"""Storage lives in the models: services and handlers never spell a key.

Every entity builds its own keys (``key_of``), reads itself (``fetch``), gives the start
key that resumes a query after it (``start_key``) and owns its sort-key prefixes and range
sentinels; a service that writes ``User.get(User.pk(t, u),
"PROFILE")``, ``(Plan.pk(t, p), "PLAN")``, ``"MSG#"`` or ``since + "#~"`` fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
CHECKED = sorted([*ROOT.glob("services/*.py"), *ROOT.glob("handlers/*.py")])
ALLOWED: set[tuple[str, str]] = set()  # (file, call) exceptions: none

KEY_PART = re.compile(r"^[A-Z][A-Z0-9_]*#")  # "MSG#", f"DEPT#{d}", "T#..."
SENTINEL = re.compile(r"#~")  # "#~", f"{day}#~" (and x + "~", below)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _is_model(node: ast.AST) -> bool:
    """A class name (``User``) or a class picked from a table (``MODELS[t]``)."""
    if isinstance(node, ast.Subscript):
        node = node.value
        return isinstance(node, ast.Name) and node.id == "MODELS"
    return isinstance(node, ast.Name) and bool(re.match(r"^[A-Z][a-z]", node.id))


def _is_key_builder(node: ast.AST) -> bool:
    """``X.pk(...)``, ``X.user_pk(...)``, ``object_pk(...)``: a partition key."""
    if not isinstance(node, ast.Call):
        return False
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    return name == "pk" or name.endswith("_pk")


def _is_literal_key(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Tuple)
        and len(node.elts) == 2
        and _is_key_builder(node.elts[0])
        and isinstance(node.elts[1], ast.Constant)
    )


def violations(source: str) -> list[str]:
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            if _is_model(node.func.value):
                found.append(f"{line}: {ast.unparse(node.func)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if KEY_PART.match(node.value) or SENTINEL.search(node.value):
                found.append(f"{line}: literal {node.value!r}")
        elif isinstance(node, ast.JoinedStr):
            parts = [p.value for p in node.values if isinstance(p, ast.Constant) and isinstance(p.value, str)]
            lead = node.values[0] if node.values else None
            if (isinstance(lead, ast.Constant) and KEY_PART.match(str(lead.value))) or any("#~" in p for p in parts):
                found.append(f"{line}: f-string {ast.unparse(node)}")
            elif parts and isinstance(node.values[-1], ast.Constant) and str(node.values[-1].value).endswith("#"):
                found.append(f"{line}: sort-key prefix {ast.unparse(node)}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.right, ast.Constant):
            if node.right.value == "~":
                found.append(f"{line}: range sentinel {ast.unparse(node)}")
        elif isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "S" for k in node.keys):
            found.append(f"{line}: wire-format key {ast.unparse(node)}")  # use item.start_key(index)
        elif _is_literal_key(node):  # (X.pk(...), "LITERAL")
            found.append(f"{line}: key {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_services_and_handlers_spell_no_keys(path: Path):
    rel = str(path.relative_to(ROOT))
    found = [v for v in violations(path.read_text()) if not any(rel == f and a in v for f, a in ALLOWED)]
    assert not found, f"{rel} builds keys itself (move them into its model): {found}"


@pytest.mark.parametrize(
    "snippet",
    [
        'User.get(User.pk(t, u), "PROFILE")',
        "MODELS[kind].get(object_pk(t, kind, i), OBJECT_SK, consistent_read=True)",
        'keys = [(Plan.pk(t, p), "PLAN") for p in plans]',
        'Message.SK.startswith("MSG#")',
        'listing = f"BELOW#{user_id}"',
        'lo, hi = since + "#~", until + "#~"',
        'bound = f"{day}#~"',
        'now_key = iso(now) + "~"',
        'BaseItem.SK.startswith(f"{period}#")',
        'esk = {"PK": {"S": last.PK}, "SK": {"S": last.SK}}',
    ],
)
def test_the_check_catches_a_key_spelled_outside_the_models(snippet: str):
    assert violations(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "FORMATS.get(content_type)",
        "headers.get('webhook-id')",
        'scope = f"teamday:{t}:{user}:{day}"',
        'order = sorted(plans, key=lambda p: p.start_time or "~")',
        "User.fetch(t, u)",
        "keys = [User.key_of(t, u) for u in ids]",
        "entity = ((new_image or {}).get('entity') or {}).get('S')",
        'cursor.encode({"k": last.start_key("GSI1")}, scope)',
    ],
)
def test_the_check_lets_ordinary_code_pass(snippet: str):
    assert not violations(snippet)
