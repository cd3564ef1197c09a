"""Build the Lambda deployment package: Chalice's zip, then bytecode for the target runtime.

``chalice package`` zips the app and its wheels as source: on Lambda the code directory is
read-only, so Python compiles every module it imports on every cold start and can keep none
of it. :func:`build_package` (the one path ``make package``, the CDK app and ``make bench``
use) takes Chalice's zip and rewrites it:

- prunes what the runtime never imports: ``__pycache__`` of other interpreters, type stubs
  (``.pyi``, ``py.typed``), packages' own test suites, ``dist-info/RECORD`` (its hashes would
  not match the rewritten tree; nothing reads it at run time);
- compiles every module with the target runtime's interpreter (this one: the infra venv is
  built with the Makefile's ``PYTHON``), ``--invalidation-mode unchecked-hash``: the runtime
  loads the ``.pyc`` without even comparing it with the source, and the embedded paths are
  ``/var/task/...`` as Lambda unpacks it;
- writes the zip reproducibly: entries in sorted order, one fixed timestamp, normalised modes.

``chalice package`` rebuilds every third-party wheel whenever any app file changes (its
cache key hashes the app sources too), which costs a minute or more per synth. The
dependencies depend only on requirements.txt, the Python ABI and the architecture, so
:func:`cached_dependency_builds` caches the built site-packages in a per-user cache
(``$FIELDSALES_DEPS_CACHE``, default ``~/.cache/fieldsales/chalice-deps/<abi>-<arch>-<hash>/``,
which outlives fresh clones) and copies it back.

Run alone (what ``make bench`` does, in the app's venv):
``python -m fieldsales_infra.packaging OUT_DIR [--architecture x86_64]`` from ``infra/``.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import os
import py_compile
import shutil
import stat
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalice import api
from chalice.deploy.packager import DependencyBuilder, MissingDependencyError

from fieldsales_infra.settings import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(
    os.environ.get("FIELDSALES_DEPS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fieldsales" / "chalice-deps"
)
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the paths tracebacks show
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the zip format's epoch: no build time in the artifact
# chalicelib reads these at import; `chalice package` imports app.py, so the packaging
# process needs literal stand-ins. The deployed values are set per function by the CDK app.
IMPORT_PLACEHOLDERS = {
    "TABLE_NAME": "fieldsales-placeholder",
    "BUCKET_NAME": "fieldsales-placeholder",
    "COGNITO_USER_POOL_ID": "placeholder",
    "COGNITO_CLIENT_IDS": "placeholder",
    "AWS_DEFAULT_REGION": "us-east-1",
}
PRUNED_DIR_NAMES = frozenset({"__pycache__", "tests", "test"})
PRUNED_FILE_SUFFIXES = (".pyc", ".pyo", ".pyi")
PRUNED_FILE_NAMES = frozenset({"py.typed", "RECORD"})


class PackagingError(RuntimeError):
    """The package cannot be built for the target runtime."""


def check_runtime() -> None:
    """Chalice targets the runtime of the Python it runs under, and the bytecode is this
    interpreter's: both must be the template's runtime."""
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if running != LAMBDA_RUNTIME:
        raise PackagingError(
            f"the package is for {LAMBDA_RUNTIME} but this is {running}: build the venv with "
            f"`make PYTHON={LAMBDA_RUNTIME}` (see the Makefile)"
        )


def build_package(
    output_dir: Path,
    stage: str,
    stage_config: dict[str, Any] | None = None,
    project_dir: Path = REPO_ROOT,
) -> Path:
    """``chalice package`` into ``output_dir`` (sam.json + deployment.zip), then the zip
    rewritten with bytecode. Returns the zip's path."""
    check_runtime()
    for name, value in IMPORT_PLACEHOLDERS.items():
        os.environ.setdefault(name, value)
    with cached_dependency_builds():
        api.package_app(
            project_dir=str(project_dir), output_dir=str(output_dir), stage=stage, chalice_config=stage_config
        )
    zip_path = output_dir / "deployment.zip"
    ship_bytecode(zip_path)
    return zip_path


def ship_bytecode(zip_path: Path) -> None:
    """Rewrite ``zip_path`` in place: pruned, every module compiled, reproducible."""
    with tempfile.TemporaryDirectory(prefix="fieldsales-pkg-") as tmp:
        tree = Path(tmp) / "task"
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tree)
            modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
        prune(tree)
        compile_tree(tree)
        write_reproducible_zip(tree, zip_path, modes)


def prune(tree: Path) -> None:
    for path in sorted(tree.rglob("*"), reverse=True):  # children before their directories
        if path.is_dir() and path.name in PRUNED_DIR_NAMES and path.parent != tree:
            shutil.rmtree(path)
        elif path.is_file() and (path.suffix in PRUNED_FILE_SUFFIXES or _pruned_name(path)):
            path.unlink()


def _pruned_name(path: Path) -> bool:
    if path.name == "RECORD":
        return path.parent.name.endswith(".dist-info")
    return path.name in PRUNED_FILE_NAMES


def compile_tree(tree: Path) -> None:
    ok = compileall.compile_dir(
        str(tree),
        ddir=LAMBDA_TASK_ROOT,
        quiet=2,
        workers=0,  # one process per core
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise PackagingError("some modules of the package do not compile for " + LAMBDA_RUNTIME)


def write_reproducible_zip(tree: Path, zip_path: Path, modes: dict[str, int] | None = None) -> None:
    modes = modes or {}
    files = sorted((p for p in tree.rglob("*") if p.is_file()), key=lambda p: p.relative_to(tree).as_posix())
    partial = zip_path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            name = path.relative_to(tree).as_posix()
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.create_system = 3  # unix: the modes below are honoured
            executable = (modes.get(name) or path.stat().st_mode) & stat.S_IXUSR
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(zip_path)


@contextmanager
def cached_dependency_builds(cache_dir: Path = CACHE_DIR) -> Iterator[None]:
    original = DependencyBuilder.build_site_packages

    def build_site_packages(self, abi: str, requirements_filepath: str, target_directory: str) -> None:  # noqa: ANN001
        machine = getattr(self, "_machine", "x86_64")
        key = Path(requirements_filepath).read_bytes() + abi.encode() + machine.encode()
        digest = hashlib.sha256(key).hexdigest()[:16]
        cached = cache_dir / f"{abi}-{machine}-{digest}"
        if not cached.is_dir():
            staging = cache_dir / f".{abi}-{machine}-{digest}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            try:
                original(self, abi, requirements_filepath, str(staging))
            except MissingDependencyError:
                # Chalice reports what is missing and packages the rest: do the same, cache nothing.
                shutil.copytree(staging, target_directory, dirs_exist_ok=True)
                shutil.rmtree(staging, ignore_errors=True)
                raise
            staging.rename(cached)
        shutil.copytree(cached, target_directory, dirs_exist_ok=True)

    DependencyBuilder.build_site_packages = build_site_packages  # type: ignore[method-assign]
    try:
        yield
    finally:
        DependencyBuilder.build_site_packages = original  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--architecture", default=LAMBDA_ARCHITECTURE, choices=("x86_64", "arm64"))
    args = parser.parse_args(argv)
    zip_path = build_package(args.output_dir, args.stage, {"lambda_architecture": args.architecture})
    print(zip_path)


if __name__ == "__main__":
    main()
