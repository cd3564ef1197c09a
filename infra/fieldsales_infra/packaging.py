"""Reuse Chalice's Lambda dependency build across synths.

``chalice package`` rebuilds every third-party wheel whenever any app file changes (its
cache key hashes the app sources too), which costs a minute or more per synth. The
dependencies depend only on requirements.txt and the Python ABI, so this caches the built
site-packages in a per-user cache (``$FIELDSALES_DEPS_CACHE``, default
``~/.cache/fieldsales/chalice-deps/<abi>-<hash>/``, which outlives fresh clones) and copies it back. The deployment
package is byte-for-byte the same set of files; only the time changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chalice.deploy.packager import DependencyBuilder, MissingDependencyError

CACHE_DIR = Path(
    os.environ.get("FIELDSALES_DEPS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fieldsales" / "chalice-deps"
)


@contextmanager
def cached_dependency_builds(cache_dir: Path = CACHE_DIR) -> Iterator[None]:
    original = DependencyBuilder.build_site_packages

    def build_site_packages(self, abi: str, requirements_filepath: str, target_directory: str) -> None:  # noqa: ANN001
        digest = hashlib.sha256(Path(requirements_filepath).read_bytes() + abi.encode()).hexdigest()[:16]
        cached = cache_dir / f"{abi}-{digest}"
        if not cached.is_dir():
            staging = cache_dir / f".{abi}-{digest}.partial"
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
