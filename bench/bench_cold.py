"""The real cold start: the zip `make package` builds, unpacked read-only as Lambda unpacks
it, `import app` the way the runtime imports the handler, against its bare libraries with
bytecode. `python -m bench cold` runs it alone.

Lambda runs each function as ``python`` with the zip extracted to a read-only ``/var/task``
at the head of ``sys.path``: Python can write no bytecode there, so whatever the package
does not ship is compiled from source on every cold start. Each timed run here is a fresh
``python -I -S -B`` (isolated, no site-packages, no bytecode written: the package directory
and the standard library are all it sees) of the target runtime's interpreter (the venv's:
the Makefile builds it with the runtime's Python).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from bench.common import BENCH_ENV, ROOT, table, verdict

RUNS = 15
TARGET_RATIO = 1.3
OUT = ROOT / "bench" / "out" / "cold"
FLAGS = ["-I", "-S", "-B"]  # as Lambda's read-only code directory: nothing written, nothing else on the path

TIMED = """
import sys, time
sys.path[:0] = {paths!r}
_t = time.perf_counter()
{code}
print(time.perf_counter() - _t)
"""

MODULES_OF_APP = """
import json, sys
sys.path[:0] = [{task!r}]
before = set(sys.modules)
import app
loaded = [n for n in sys.modules if n not in before]
third = [n for n in loaded if (getattr(sys.modules[n], "__file__", None) or "").startswith({task!r})
         and n.split(".")[0] not in ("app", "chalicelib")]
print(json.dumps({{"loaded": len(loaded), "from_package": third}}))
"""

RESTORE = """
import snapshot_restore_py
from chalicelib import aws
for hook, args, kwargs in snapshot_restore_py.get_after_restore():
    hook(*args, **kwargs)
for service in app.API_CLIENTS:
    aws.client(service)
"""


def _arch() -> str:
    return {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")


def build_package() -> Path:
    """The same path as `make package` (chalice package, then bytecode), for this machine's
    architecture: the timings must run natively. The deployed arm64 zip differs only in
    its native extensions' binaries."""
    out = OUT / "package"
    shutil.rmtree(out, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    subprocess.run(
        [sys.executable, "-m", "fieldsales_infra.packaging", str(out), "--architecture", _arch()],
        cwd=ROOT / "infra",
        env=env,
        check=True,
        capture_output=True,
    )
    return out / "deployment.zip"


def extract_read_only(zip_path: Path) -> Path:
    task = OUT / "task"
    if task.exists():
        subprocess.run(["chmod", "-R", "u+w", str(task)], check=True)
        shutil.rmtree(task)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
    subprocess.run(["chmod", "-R", "a-w", str(task)], check=True)
    return task


def package_facts(zip_path: Path, task: Path) -> dict[str, float]:
    with zipfile.ZipFile(zip_path) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
    tag = sys.implementation.cache_tag
    sources = [p for p in task.rglob("*.py")]
    compiled = [p for p in sources if (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file()]
    return {
        "zipped_mb": zip_path.stat().st_size / 1e6,
        "unzipped_mb": unzipped / 1e6,
        "modules": len(sources),
        "coverage": len(compiled) / max(len(sources), 1),
    }


def _python(script: str, env: dict[str, str], flags: list[str] = FLAGS) -> str:
    out = subprocess.run(
        [sys.executable, *flags, "-c", script], env=env, cwd="/", check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def _run(code: str, paths: list[str], env: dict[str, str], flags: list[str] = FLAGS) -> float:
    return float(_python(TIMED.format(paths=paths, code=code), env, flags))


def compiled_from_source(task: Path, env: dict[str, str]) -> list[str]:
    """Modules `import app` compiled from source (``-v`` names the file each code object
    came from: a ``.py`` means no usable bytecode)."""
    script = f"import sys; sys.path[:0] = [{str(task)!r}]; import app"
    proc = subprocess.run(
        [sys.executable, *FLAGS, "-v", "-c", script], env=env, cwd="/", check=True, capture_output=True, text=True
    )
    prefix = "# code object from "
    return [
        line[len(prefix) :] for line in proc.stderr.splitlines() if line.startswith(prefix) and line.endswith(".py")
    ]


def cold_import() -> str:
    zip_path = build_package()
    task = extract_read_only(zip_path)
    facts = package_facts(zip_path, task)
    env = {"PATH": "/usr/bin:/bin", **BENCH_ENV}
    mods = json.loads(_python(MODULES_OF_APP.format(task=str(task)), env))
    from_source = compiled_from_source(task, env)
    site = sysconfig.get_paths()["purelib"]  # the venv's libraries, the same pinned versions
    lib_code = "import importlib\n" + "".join(
        f"try:\n    importlib.import_module({m!r})\nexcept Exception:\n    pass\n" for m in mods["from_package"]
    )
    lib_code += "from aws_lambda_powertools import Logger, Metrics\nLogger(service='x'); Metrics(namespace='x')\n"
    # Untimed warm-up: writes the venv libraries' bytecode (the baseline is "with bytecode").
    _run(lib_code, [site], env, flags=["-I", "-S"])
    variants = {
        "app": ("import app", [str(task)], env),
        "libs": (lib_code, [site], env),
        "primed": ("import app", [str(task)], {**env, "PRIME_ON_INIT": "true"}),
        "restore": ("import app\n_t = time.perf_counter()\n" + RESTORE, [str(task)], {**env, "PRIME_ON_INIT": "true"}),
    }
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(RUNS):  # taking turns: a machine that slows down moves every variant alike
        for name, (code, paths, venv) in variants.items():
            samples[name].append(_run(code, paths, venv))
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratio = med["app"] / med["libs"]
    ok = ratio <= TARGET_RATIO and not from_source
    libs = sorted({m.split(".")[0] for m in mods["from_package"] if not m.startswith("_")})
    return _report(facts, mods, from_source, med, ratio, ok, libs)


def _report(facts: dict, mods: dict, from_source: list[str], med: dict, ratio: float, ok: bool, libs: list) -> str:
    ms = {k: f"{v * 1000:.0f} ms" for k, v in med.items()}
    package_rows = [
        ["zipped / unzipped", f"{facts['zipped_mb']:.1f} MB / {facts['unzipped_mb']:.1f} MB"],
        ["Python modules in the package", facts["modules"]],
        [".py files with their `.pyc` (unchecked-hash, this runtime)", f"{facts['coverage'] * 100:.1f}%"],
        ["modules `import app` loads", mods["loaded"]],
        ["of them compiled from source at import", len(from_source)],
    ]
    timing_rows = [
        ["`import app` from the package, read-only, no bytecode writes", ms["app"], f"{ratio:.2f}x"],
        [f"its bare libraries with bytecode ({', '.join(libs)})", ms["libs"], "1.00x"],
    ]
    init_rows = [
        [
            "API (`APIHandler`, SnapStart)",
            "once per published version: `import app` + priming (validators, s3/events/sqs/secretsmanager clients)",
            ms["primed"],
        ],
        ["API, each restore", "after-restore hooks + re-making its clients (shared parsed models)", ms["restore"]],
        [
            "every event function (schedules, S3, stream, webhooks)",
            "`import app`, lazy: clients on first use",
            ms["app"],
        ],
    ]
    return (
        "### Cold start of the deployment package (what Lambda runs)\n\n"
        f"Built by the `make package` path for {platform.machine()} (the deployed arm64 zip differs only in its "
        "native extensions), extracted and made read-only; each figure is the median of "
        f"{RUNS} fresh `python {' '.join(FLAGS)}` interpreters ({platform.python_version()}), all variants "
        "taking turns, `sys.path` = the package + the standard library.\n\n"
        + table(["package", ""], package_rows)
        + "\n\n"
        + table(["what", "time", "ratio"], timing_rows)
        + "\n\nPer-function init work (all functions share one package and handler module):\n\n"
        + table(["function", "init does", "time"], init_rows)
        + "\n\n"
        + verdict(
            ok,
            f"packaged `import app` is {ratio:.2f}x its bare libraries with bytecode (target <= {TARGET_RATIO}x), "
            f"{len(from_source)} modules compiled from source",
        )
    )


def run() -> str:
    return "## Cold start of the artifact\n\n" + cold_import()
