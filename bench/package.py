"""Benchmarks: the size of the Lambda zip.

When noxfile.py has a `package` session (scripts/package_lambda.py builds the zip), the bench
runs it and measures `dist/kumocms-lambda.zip`. Otherwise it zips what that zip must hold: the
three packages' sources (without the local stack, which never runs in Lambda) and the installed
files of their runtime dependencies for Python 3.13 except boto3 and what it brings (the Lambda
runtime provides those), deflated at level 9.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import attrs
from packaging.requirements import Requirement

from bench.aws import ROOT

PACKAGES = ("kumocms", "adapters", "entrypoints")
EXCLUDED = ("entrypoints/local/",)
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
LAMBDA_PYTHON = {"python_version": "3.13", "python_full_version": "3.13.0", "extra": ""}
ZIP = ROOT / "dist" / "kumocms-lambda.zip"


@attrs.frozen(kw_only=True)
class ZipSize:
    """The zip's size and how it was obtained."""

    size: int
    how: str
    dependencies: tuple[str, ...] = ()
    path: Path | None = None
    """The built zip (None when the size was computed without building it)."""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _has_package_session() -> bool:
    source = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    return bool(re.search(r"def package\(|name=[\"']package[\"']", source))


def runtime_distributions() -> list[str]:
    """The runtime dependencies (transitively, for Python 3.13) that the zip must carry."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    found: dict[str, None] = {}
    while wanted:
        requirement = wanted.pop()
        name = _normalise(requirement.name)
        if name in RUNTIME_PROVIDED or name in found:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(LAMBDA_PYTHON):
            continue
        found[name] = None
        wanted.extend(Requirement(text) for text in importlib.metadata.requires(name) or [])
    return sorted(found)


def _files() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if (
                path.is_file()
                and path.suffix in {".py", ".typed"}
                and "__pycache__" not in relative
                and not relative.startswith(EXCLUDED)
            ):
                yield relative, path
    for name in runtime_distributions():
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or []:
            relative = file.as_posix()
            if relative.startswith("..") or "__pycache__" in relative or relative.endswith(".pyc"):
                continue
            yield relative, Path(str(distribution.locate_file(file)))


def computed_zip_size() -> ZipSize:
    """Zip the packages and their non-boto3 runtime dependencies the way the build does."""
    with tempfile.TemporaryDirectory(prefix="kumocms-bench-") as temporary:
        output = Path(temporary) / "lambda.zip"
        with zipfile.ZipFile(output, "w") as archive:
            for name, path in sorted(set(_files())):
                archive.writestr(
                    zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)),
                    path.read_bytes(),
                    compress_type=zipfile.ZIP_DEFLATED,
                    compresslevel=9,
                )
        return ZipSize(
            size=output.stat().st_size,
            how="computed (no `nox -s package` session yet)",
            dependencies=tuple(runtime_distributions()),
        )


class ZipBuild:
    """The zip being built by `nox -s package` in the background (or computed at the end)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        if _has_package_session():
            self._process = subprocess.Popen(
                ["nox", "-s", "package"],  # noqa: S607
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )

    def result(self) -> ZipSize:
        """Wait for the build and measure the zip."""
        if self._process is None:
            return computed_zip_size()
        _, errors = self._process.communicate()
        if self._process.returncode != 0:
            # It downloads wheels for the Lambda platform; offline, measure what it would hold.
            reason = (errors.decode(errors="replace").strip().splitlines() or ["?"])[-1]
            computed = computed_zip_size()
            return attrs.evolve(computed, how=f"computed (`nox -s package` failed: {reason})")
        return ZipSize(size=ZIP.stat().st_size, how="built by `nox -s package`", path=ZIP)
