"""Build script: the one Lambda deployment package, deterministic, its handlers import-checked.

`nox -s package` runs it. The zip holds the modules of `kumocms`, `adapters` and `entrypoints` that
the handlers import (found from the handler strings by following imports, deferred ones
included, so the CLI and the local stack never ship), the declared data files, and the runtime
dependencies from pyproject.toml, installed as wheels for CPython 3.13 on manylinux. boto3 and
what it brings are left out — the Lambda runtime provides them — unless `--with-boto3` is given.
Beside the zip, `kumocms-lambda.json` says which runtime it was built for and its hashes.

The same inputs give the same bytes: entries are sorted, timestamps and permissions fixed, and
the bytecode is hash-based (see `with_bytecode`). After building, the zip is unpacked and every
handler string (from the manifest inside the zip and from Terraform's routes.json) is imported
in a clean Python 3.13 (`-I -S`: no site-packages, no environment) that sees only the unpacked
zip and, when boto3 is not bundled, a separate directory holding boto3 for the check alone.
"""

from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kumocms", "adapters", "entrypoints")
DATA_FILES: tuple[str, ...] = ()
"""Files of our packages other than modules that a handler reads at run time (none so far;
the `py.typed` markers are for type checkers, not for Lambda)."""
DEFERRING_CALLS = frozenset({"Deferred", "import_module"})
"""Calls whose string argument names a module imported later (`kumocms.deferred.Deferred`,
`importlib.import_module`): followed like an import statement."""
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
"""Distributions the Lambda Python runtime already has (bundled only with --with-boto3)."""
RUNTIME_PROVIDED_TOP_LEVEL = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py"}
)
PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux2014_x86_64", "manylinux2014_aarch64")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16
ROUTES_JSON = ROOT / "terraform" / "modules" / "kumocms" / "routes.json"

CHECK = """
import importlib, json, sys
handlers = json.loads(sys.argv[1])
from entrypoints.manifest import FUNCTIONS
handlers = sorted(set(handlers) | {f.handler for f in FUNCTIONS.values()})
for handler in handlers:
    module, _, name = handler.rpartition(".")
    target = getattr(importlib.import_module(module), name, None)
    if not callable(target):
        raise SystemExit(f"{handler} is not a callable in the package")
    print("ok", handler)
# Handlers import boto3 lazily (on the first invocation); it must be importable all the same.
import boto3
source = "the package" if boto3.__file__.startswith(sys.argv[2]) else "the runtime stand-in"
print(f"boto3 {boto3.__version__} from {source}")
"""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(*, with_boto3: bool) -> list[str]:
    """The project's dependencies, pinned to the versions installed here when there are any."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = []
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
        if _normalise(name) in RUNTIME_PROVIDED and not with_boto3:
            continue
        try:
            requirements.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            requirements.append(requirement)
    return requirements


def pip_install(requirements: Iterable[str], target: Path) -> None:
    """Install wheels for CPython 3.13 on manylinux into `target` (no bytecode)."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        *platforms,
        "--target",
        str(target),
        *requirements,
    ]
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter and arguments


def _skipped(relative: str) -> bool:
    parts = relative.split("/")
    return "__pycache__" in parts or relative.endswith((".pyc", ".pyo"))


def handler_strings() -> list[str]:
    """Every function's handler string, from Terraform's routes.json (a test keeps it current)."""
    manifest = json.loads(ROUTES_JSON.read_text(encoding="utf-8"))
    return sorted({function["handler"] for function in manifest["functions"]})


def module_file(name: str) -> Path | None:
    """The source file of one of our modules (a package's `__init__.py`), None if it is none."""
    if name.split(".", 1)[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.Module, module: str, *, is_package: bool) -> Iterator[str]:
    """What a module imports: statements anywhere (in functions too) and deferring calls.

    Imports under `if TYPE_CHECKING:` are left out: that block never runs.
    """
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*parts, *([base] if base else [])])
            yield base
            # `from package import name` may name a submodule.
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else None
            called = function.id if isinstance(function, ast.Name) else called
            argument = node.args[0] if node.args else None
            if (
                called in DEFERRING_CALLS
                and isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
            ):
                yield argument.value
        stack.extend(ast.iter_child_nodes(node))


def handler_modules(handlers: Iterable[str]) -> set[str]:
    """Our modules the handlers can load, at import time or later, with their packages."""
    found: set[str] = set()
    waiting = [handler.rpartition(".")[0] for handler in handlers]
    while waiting:
        name = waiting.pop()
        path = module_file(name)
        if name in found or path is None:
            continue
        found.add(name)
        parts = name.split(".")
        waiting.extend(".".join(parts[:end]) for end in range(1, len(parts)))
        tree = ast.parse(path.read_bytes(), filename=str(path))
        waiting.extend(_imported_names(tree, name, is_package=path.name == "__init__.py"))
    return found


def own_files() -> Iterator[tuple[str, Path]]:
    """(archive name, file) for the modules the handlers load and the declared data files."""
    for name in sorted(handler_modules(handler_strings())):
        path = module_file(name)
        assert path is not None
        yield path.relative_to(ROOT).as_posix(), path
    for relative in DATA_FILES:
        yield relative, ROOT / relative


def package_files(dependencies: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every file the zip holds."""
    yield from own_files()
    for path in dependencies.rglob("*"):
        relative = path.relative_to(dependencies).as_posix()
        if path.is_file() and not _skipped(relative) and not relative.startswith("bin/"):
            yield relative, path


def write_zip(files: Iterable[tuple[str, Path]], output: Path) -> None:
    """A zip whose bytes depend only on the files' names and contents."""
    output.parent.mkdir(parents=True, exist_ok=True)
    entries = sorted(files)
    names = [name for name, _ in entries]
    if len(names) != len(set(names)):
        raise SystemExit("two files map to the same name in the zip")
    with zipfile.ZipFile(output, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = FILE_MODE
            info.create_system = 3  # Unix, so the mode bits are honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def with_bytecode(files: Iterable[tuple[str, Path]], staging: Path) -> list[tuple[str, Path]]:
    """The files plus their Python 3.13 bytecode, compiled as Lambda will find them.

    `/var/task` is read-only, so without bytecode in the zip every cold start compiles every
    module again. Timestamp-checked bytecode would look stale against the zip's fixed 1980
    dates; `unchecked-hash` bytecode is used as it is, and its bytes depend only on the source.
    """
    entries = []
    for name, path in files:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        entries.append((name, target))
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [
            _interpreter(),
            "-I",
            "-m",
            "compileall",
            "-q",
            "-j",
            "1",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(staging),
            "-p",
            "/var/task",
            str(staging),
        ],
        check=True,
        env={"LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
    )
    entries.extend((path.relative_to(staging).as_posix(), path) for path in staging.rglob("*.pyc"))
    return entries


def check_contents(output: Path, *, with_boto3: bool) -> None:
    """Refuse a zip that bundles what the runtime provides (or lacks it when asked to)."""
    with zipfile.ZipFile(output) as archive:
        top_level = {name.split("/", 1)[0] for name in archive.namelist()}
    bundled = top_level & RUNTIME_PROVIDED_TOP_LEVEL
    if not with_boto3 and bundled:
        raise SystemExit(f"the zip bundles runtime-provided packages: {sorted(bundled)}")
    if with_boto3 and not {"boto3", "botocore"} <= top_level:
        raise SystemExit("--with-boto3 was given but the zip has no boto3")
    missing = [package for package in PACKAGES if package not in top_level]
    if missing:
        raise SystemExit(f"the zip lacks {missing}")


def _interpreter() -> str:
    """The real Python 3.13 executable (resolving version-manager shims, which need a cwd)."""
    found = shutil.which(f"python{PYTHON_VERSION}")
    if found is None:
        raise SystemExit(f"python{PYTHON_VERSION} is needed to check the handlers")
    answer = subprocess.run(  # noqa: S603 - a fixed query of the interpreter found on PATH
        [found, "-c", "import sys; print(sys.executable)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.strip()


def import_handlers(output: Path, *, with_boto3: bool, work: Path) -> None:
    """Import every handler string in a clean Python 3.13 that sees only the unpacked zip."""
    python = _interpreter()
    unpacked = work / "unpacked"
    with zipfile.ZipFile(output) as archive:
        archive.extractall(unpacked)
    paths = [str(unpacked)]
    if not with_boto3:
        boto3_dir = work / "boto3"
        boto3 = "boto3"
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            boto3 = f"boto3=={importlib.metadata.version('boto3')}"
        pip_install([boto3], boto3_dir)
        paths.append(str(boto3_dir))
    bootstrap = f"import sys; sys.path[:0] = {paths!r}\n{CHECK}"
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [python, "-I", "-S", "-c", bootstrap, json.dumps(handler_strings()), str(unpacked)],
        check=True,
        env={"LANG": "C.UTF-8"},
        cwd=work,
    )


def main(argv: list[str] | None = None) -> int:
    """Build the zip, check it, and print its size and hash."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "kumocms-lambda.zip")
    parser.add_argument(
        "--with-boto3",
        action="store_true",
        help="bundle boto3 and its dependencies instead of using the runtime's",
    )
    parser.add_argument("--no-check", action="store_true", help="skip the import check")
    args = parser.parse_args(argv)
    output: Path = args.output.resolve()
    with tempfile.TemporaryDirectory(prefix="kumocms-package-") as temporary:
        work = Path(temporary)
        dependencies = work / "dependencies"
        pip_install(runtime_requirements(with_boto3=args.with_boto3), dependencies)
        write_zip(with_bytecode(package_files(dependencies), work / "staging"), output)
        check_contents(output, with_boto3=args.with_boto3)
        if not args.no_check:
            import_handlers(output, with_boto3=args.with_boto3, work=work)
    described = write_description(output, with_boto3=args.with_boto3)
    data = output.read_bytes()
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    with zipfile.ZipFile(output) as archive:
        files = len(archive.namelist())
    sys.stdout.write(
        f"{_shown(output)}: {len(data):,} bytes ({len(data) / 1024**2:.2f} MiB), "
        f"{files} files, base64 sha256 {digest}\n"
        f"{_shown(described)}: what the zip was built for\n"
    )
    return 0


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def description_path(output: Path) -> Path:
    """The zip's description beside it: `kumocms-lambda.zip` -> `kumocms-lambda.json`."""
    return output.with_suffix(".json")


def write_description(output: Path, *, with_boto3: bool) -> Path:
    """A JSON file beside the zip saying which runtime it was built for and its hashes.

    `runtime` is the Lambda runtime identifier its wheels and bytecode fit (bytecode of another
    Python version is ignored, so the zip would still run there, only compiling every module in
    every cold start); `source_code_hash` is what Terraform's `filebase64sha256()` gives.
    """
    data = output.read_bytes()
    digest = hashlib.sha256(data)
    description = {
        "zip": output.name,
        "runtime": f"python{PYTHON_VERSION}",
        "python_version": PYTHON_VERSION,
        "platforms": list(PLATFORMS),
        "boto3_bundled": with_boto3,
        "size": len(data),
        "sha256": digest.hexdigest(),
        "source_code_hash": base64.b64encode(digest.digest()).decode("ascii"),
        "handlers": handler_strings(),
    }
    path = description_path(output)
    path.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
