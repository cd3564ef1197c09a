"""The contract as client teams use it, against the running local stack: a Python client
(openapi-python-client) and TypeScript types (openapi-typescript) generated from the served
document, a short flow driven through the generated Python client, and the docs page
rendered by a real headless Chromium (Selenium, the OS's chromium and chromedriver)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "contract" / "node_modules" / ".bin"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "fieldsales_client"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.e2e


def _snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


@pytest.fixture(scope="module")
def served(stack, tmp_path_factory) -> tuple[dict[str, Any], Path]:
    doc = stack.http.get(stack.base_url + "/v1/openapi.json", timeout=30).json()
    path = tmp_path_factory.mktemp("contract") / "openapi.json"
    path.write_text(json.dumps(doc))
    return doc, path


@pytest.fixture(scope="module")
def python_client(served) -> Path:
    doc, path = served
    out = path.parent / PACKAGE  # with --meta none, the package itself
    config = path.parent / "generator.json"
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    command = [str(GENERATOR), "generate", "--path", str(path), "--output-path", str(out)]
    command += ["--meta", "none", "--config", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    # the generator skips what it cannot model with a warning: there must be none
    assert "Warning" not in result.stdout + result.stderr, result.stdout[-4000:] + result.stderr[-2000:]
    return out


def _operation_ids(doc: dict[str, Any]) -> set[str]:
    return {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}


def test_generated_python_client_has_every_operation(served, python_client: Path):
    doc, _ = served
    generated = {p.stem for p in (python_client / "api").rglob("*.py") if p.stem != "__init__"}
    assert {_snake(i) for i in _operation_ids(doc)} - generated == set()
    assert {"create_sign_in", "list_feed", "create_account", "approve_expense"} <= generated


def test_a_flow_through_the_generated_python_client(stack, python_client: Path):
    sys.path.insert(0, str(python_client.parent))
    try:
        from fieldsales_client import AuthenticatedClient
        from fieldsales_client.api.crm import create_account
        from fieldsales_client.api.feed import list_feed
        from fieldsales_client.api.signins import create_sign_in, get_sign_in
        from fieldsales_client.models import AccountIn, Location, SignInIn, SignInInKind, SignInLocation
    finally:
        sys.path.remove(str(python_client.parent))

    client = AuthenticatedClient(base_url=stack.base_url, token=stack.token("rep_a"), raise_on_unexpected_status=True)
    new = AccountIn(name="Client-made Ltd", location=Location(31.23, 121.47))
    account = create_account.sync(client=client, body=new)
    assert account.name == "Client-made Ltd" and account.owner_id == "rep_a"
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    body = SignInIn(
        kind=SignInInKind.CHECK_IN,
        location=SignInLocation(lat=31.23, lng=121.47, accuracy_m=10.0),
        client_time=now,
        account_id=account.id,
    )
    signin = create_sign_in.sync(client=client, body=body)
    assert signin.kind.value == "check_in" and signin.account_id == account.id
    assert get_sign_in.sync(signin.id, client=client).id == signin.id
    stack.drain()
    feed = list_feed.sync(client=client, types="signin", limit=50)
    assert any(any(r.id == account.id for r in item.related) for item in feed.items), [i.to_dict() for i in feed.items]


def test_generated_typescript_types_have_every_operation(served):
    doc, path = served
    out = path.parent / "api.d.ts"
    generator = TOOLS / "openapi-typescript"
    assert generator.exists(), "the npm tools are missing: make installs them (tools/contract)"
    result = subprocess.run([str(generator), str(path), "-o", str(out)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    types = out.read_text()
    missing = [i for i in _operation_ids(doc) if not re.search(rf"^\s+{i}: {{", types, re.M)]
    assert missing == []
    tsc = subprocess.run(
        [str(TOOLS / "tsc"), "--noEmit", "--strict", str(out)], capture_output=True, text=True, timeout=180
    )
    assert tsc.returncode == 0, tsc.stdout[-3000:]


def test_docs_page_renders_every_operation_in_a_real_browser(stack, served, tmp_path: Path):
    doc, _ = served
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(stack.base_url + "/v1/docs")
        expected = _operation_ids(doc)

        def rendered(d: Any) -> set[str] | bool:
            names = {e.text for e in d.find_elements(By.CSS_SELECTOR, ".opblock-summary-operation-id")}
            return names if names >= expected else False

        WebDriverWait(driver, 90, poll_frequency=1).until(rendered)
        assert "Fieldsales API" in driver.find_element(By.CSS_SELECTOR, ".info .title").text
        assert driver.find_elements(By.CSS_SELECTOR, ".errors-wrapper") == []
    finally:
        driver.quit()


def test_openapi_document_is_served_and_lists_every_registered_route(stack):
    import app  # noqa: F401 - registers every route
    from chalicelib.web import REGISTRY

    doc = stack.http.get(stack.base_url + "/v1/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.1")
    served = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    assert served == {(op.path, op.method) for op in REGISTRY}
