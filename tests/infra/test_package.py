"""The deployment package as Lambda gets it, and the functions' runtime settings.

The zip must carry bytecode for every module, made by the target runtime for a code
directory Python cannot write to (unchecked-hash: loaded without comparing with the source),
nothing the runtime never imports, and no build times; the API function must run on
SnapStart behind the alias API Gateway invokes."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fieldsales_infra.packaging import ZIP_TIMESTAMP
from fieldsales_infra.settings import DEFAULT_SIZING, FUNCTION_SIZING, LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

from tests.infra.conftest import INFRA, STAGES, Synth

TAG = sys.implementation.cache_tag  # the infra venv's Python is the runtime's (packaging checks it)
HASH_BASED_UNCHECKED = 0b01  # PEP 552 flags: hash-based, do not check the source


@pytest.fixture(scope="module")
def deployed_zip(synth: Synth) -> Path:
    zips = sorted(synth.outdir.glob("asset.*.zip"), key=lambda p: p.stat().st_size)
    assert zips, "no zip asset in the cloud assembly"
    return zips[-1]  # the Lambda package (the largest asset)


@pytest.fixture(scope="module")
def host_package(tmp_path_factory: pytest.TempPathFactory, deployed_zip: Path) -> Path:
    """The same package for this machine's architecture (the deployed one is arm64), built
    by the same path, extracted read-only as Lambda extracts it."""
    if platform.machine() in ("aarch64", "arm64") and LAMBDA_ARCHITECTURE == "arm64":
        zip_path = deployed_zip
    else:
        out = tmp_path_factory.mktemp("host-package")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
        subprocess.run(
            [sys.executable, "-m", "fieldsales_infra.packaging", str(out), "--architecture", "x86_64"],
            cwd=INFRA,
            env=env,
            check=True,
            capture_output=True,
            timeout=900,
        )
        zip_path = out / "deployment.zip"
    task = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
    subprocess.run(["chmod", "-R", "a-w", str(task)], check=True)
    yield task
    subprocess.run(["chmod", "-R", "u+w", str(task)], check=True)


def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def test_every_module_ships_unchecked_hash_bytecode_of_its_own_source(deployed_zip: Path) -> None:
    with zipfile.ZipFile(deployed_zip) as zf:
        names = set(zf.namelist())
        sources = sorted(n for n in names if n.endswith(".py"))
        assert len(sources) > 500 and "app.py" in sources and "chalicelib/aws.py" in sources
        for source in sources:
            folder, _, file = source.rpartition("/")
            pyc = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{TAG}.pyc"
            assert pyc in names, f"{source} ships without bytecode"
            header = zf.read(pyc)[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER, pyc
            assert int.from_bytes(header[4:8], "little") == HASH_BASED_UNCHECKED, pyc
            assert header[8:16] == importlib.util.source_hash(zf.read(source)), f"{pyc} is not {source}'s"


def test_package_drops_what_the_runtime_never_imports(deployed_zip: Path) -> None:
    names = _names(deployed_zip)
    pycs = [n for n in names if n.endswith(".pyc")]
    assert all(n.endswith(f".{TAG}.pyc") and "/__pycache__/" in f"/{n}" for n in pycs)
    assert not [n for n in names if n.endswith((".pyi", "py.typed"))]
    assert not [n for n in names if n.endswith(".dist-info/RECORD")]
    assert not [n for n in names if {"tests", "test"} & set(n.split("/")[1:-1])]
    assert any(n.endswith(".dist-info/METADATA") for n in names)  # importlib.metadata.version() still works


def test_package_is_reproducible(deployed_zip: Path) -> None:
    with zipfile.ZipFile(deployed_zip) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {ZIP_TIMESTAMP}
    assert {i.external_attr >> 16 for i in infos} <= {0o100644, 0o100755}


def test_read_only_import_compiles_nothing_from_source(host_package: Path, deployed_zip: Path) -> None:
    py_files = sorted(str(p.relative_to(host_package)) for p in host_package.rglob("*.py"))
    assert py_files == sorted(n for n in _names(deployed_zip) if n.endswith(".py"))  # same modules as deployed
    env = {
        "PATH": "/usr/bin:/bin",
        "TABLE_NAME": "t",
        "BUCKET_NAME": "b",
        "STAGE": "test",
        "AUTH_MODE": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PRIME_ON_INIT": "true",  # the API function's init: imports the most
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    script = f"import sys; sys.path[:0] = [{str(host_package)!r}]; import app; print(len(sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-v", "-c", script], env=env, cwd="/", capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = [line for line in proc.stderr.splitlines() if line.startswith("# code object from ")]
    from_source = [line for line in loaded if line.endswith(".py")]
    assert len([line for line in loaded if f"{host_package}/" in line and line.endswith(".pyc'")]) > 300
    assert from_source == []


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_runs_python312_plus_on_arm64_sized_for_its_work(synth: Synth, stage: str) -> None:
    functions = synth.resources(stage, "AWS::Serverless::Function")
    assert set(FUNCTION_SIZING) == set(functions)
    for name, fn in functions.items():
        props = fn["Properties"]
        assert props["Runtime"] == LAMBDA_RUNTIME
        assert tuple(int(x) for x in props["Runtime"].removeprefix("python").split(".")) >= (3, 12)
        assert props["Architectures"] == ["arm64"]
        assert props["MemorySize"] == FUNCTION_SIZING.get(name, DEFAULT_SIZING).memory_mb
    assert functions["ObjectCreated"]["Properties"]["MemorySize"] >= 1769  # Pillow: one full vCPU
    assert functions["APIHandler"]["Properties"]["MemorySize"] > functions["PlanReminders"]["Properties"]["MemorySize"]


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_api_function_snapstarts_and_primes(synth: Synth, stage: str) -> None:
    functions = synth.resources(stage, "AWS::Serverless::Function")
    for name, fn in functions.items():
        props = fn["Properties"]
        api = name == "APIHandler"
        assert ("SnapStart" in props) is api and ("AutoPublishAlias" in props) is api
        assert ("PRIME_ON_INIT" in props["Environment"]["Variables"]) is api
    api = functions["APIHandler"]["Properties"]
    assert api["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert api["Environment"]["Variables"]["PRIME_ON_INIT"] == "true"


def _of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_invokes_the_snapstart_alias_never_latest(transformed: dict, stage: str) -> None:
    template = transformed[stage]
    aliases = _of_type(template, "AWS::Lambda::Alias")
    assert len(aliases) == 1
    ((alias_id, alias),) = aliases.items()
    version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert template["Resources"][version_id]["Type"] == "AWS::Lambda::Version"
    assert template["Resources"]["APIHandler"]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    body = template["Resources"]["RestAPI"]["Properties"]["Body"]
    uris = [
        json.dumps(op["x-amazon-apigateway-integration"]["uri"])
        for methods in body["paths"].values()
        for op in methods.values()
    ]
    assert uris and all("${APIHandler.Arn}:live/invocations" in uri for uri in uris)
    assert alias["Properties"]["Name"] == "live" and alias_id == "APIHandlerAliaslive"
    permission = template["Resources"]["APIHandlerInvokePermission"]
    assert permission["Properties"]["FunctionName"] == {"Fn::Sub": "${APIHandler.Arn}:live"}
    assert permission["DependsOn"] == [alias_id]  # granted once the alias exists
