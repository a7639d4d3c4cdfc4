"""The Lambda zip holds what the handlers load, and nothing else but its declared data files.

A fresh interpreter serves every route of the route table and every trigger through the
handler strings, against a moto server in this process (tests/infra/handler_tour.py), so what
ends up in its `sys.modules` includes the modules imported on first use (`kumocms.deferred`,
imports inside functions), not only those loaded at start-up. Those modules are compared with
the zip `scripts/package_lambda.py` builds: our packages' part must be exactly them, and every
other file must belong to a bundled distribution.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from entrypoints.bootstrap import build_runtime
from entrypoints.http.routes import ROUTES
from entrypoints.local.provision import provision
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import EnvSettings
from kumocms.usecases.users import bootstrap_admin

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
ADMIN_KEY = "kumo_package-tour-admin-key-000000000000"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
OWN = ("kumocms", "adapters", "entrypoints")
OPTIONAL_IMPORTS = frozenset({"certifi"})
"""Imported by botocore when present (`try: from certifi import where`), not by our code; the
runtime's botocore falls back to its own CA bundle."""
MiB = 1024**2


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "package_lambda", ROOT / "scripts" / "package_lambda.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


package_lambda = _load_build_script()


def _provision(endpoint: str) -> dict[str, str]:
    """What the Terraform module creates, an admin, and a failed event in the DLQ; the
    environment the functions read."""
    session = boto3.Session(region_name=REGION)
    resources = provision(session, endpoint_url=endpoint)
    environment = {**resources.environment(), "KUMOCMS_AWS_ENDPOINT_URL": endpoint}
    needs = FUNCTIONS["users"].needs
    settings = EnvSettings.from_environ(environment, required=needs.required_settings())
    bootstrap_admin(build_runtime(settings, needs, session).ports, name="admin", api_key=ADMIN_KEY)
    # Work for the scheduled re-drive: a failed event for a key nobody knows (ignored).
    unknown = {"key": "0000/unknown/r1", "size": 1, "sequencer": "01"}
    event = {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": resources.bucket}, "object": unknown, "reason": "PutObject"},
    }
    session.client("sqs", endpoint_url=endpoint).send_message(
        QueueUrl=resources.ingest_dlq_url, MessageBody=json.dumps(event)
    )
    return environment


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """What a fresh interpreter served and loaded (see tests/infra/handler_tour.py)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        with pytest.MonkeyPatch.context() as patch:
            for name, value in CREDENTIALS.items():  # for this process's own clients
                patch.setenv(name, value)
            environment = _provision(f"http://{host}:{port}")
        result = tmp_path_factory.mktemp("tour") / "result.json"
        paths = [str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
        done = subprocess.run(
            [sys.executable, "-S", "-m", "tests.infra.handler_tour", str(result)],
            env={
                **CREDENTIALS,
                **environment,
                "KUMOCMS_TOUR_ADMIN_KEY": ADMIN_KEY,
                "LOG_LEVEL": "WARNING",
                "MULTIPART_THRESHOLD": str(6 * MiB),
                "MULTIPART_PART_SIZE": str(5 * MiB),
                "SYNC_COPY_LIMIT": str(1 * MiB),  # the multipart document's archive is a job
                "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
                "PATH": os.environ.get("PATH", ""),
            },
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        yield dict(json.loads(result.read_text(encoding="utf-8")))
    finally:
        server.stop()


def _own_loaded(tour: dict[str, Any]) -> set[str]:
    """Our modules the tour loaded, as paths in the repository (and so in the zip)."""
    loaded = set()
    for name, file in tour["modules"].items():
        if name.split(".", 1)[0] in OWN:
            assert file is not None, name
            loaded.add(Path(file).resolve().relative_to(ROOT).as_posix())
    return loaded


def _third_party_loaded(tour: dict[str, Any]) -> set[str]:
    """Modules from site-packages the tour loaded, except what the Lambda runtime provides."""
    stdlib = {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib")}
    provided = {name.removesuffix(".py") for name in package_lambda.RUNTIME_PROVIDED_TOP_LEVEL}
    found = set()
    for name, file in tour["modules"].items():
        top = name.split(".", 1)[0]
        skipped = top in OWN or top in provided or top in OPTIONAL_IMPORTS or top == "tests"
        if file is None or skipped or name.startswith("__"):
            continue
        path = Path(file).resolve()
        in_stdlib = any(path.is_relative_to(root) for root in stdlib)
        if in_stdlib and "site-packages" not in path.parts:
            continue
        found.add(name)
    return found


@pytest.mark.slow
def test_the_tour_serves_every_route_and_every_function_successfully(
    tour: dict[str, Any],
) -> None:
    served = {(route["method"], route["path"]) for route in tour["routes"]}
    assert served == {(route.method, route.path) for route in ROUTES}
    failed = [route for route in tour["routes"] if route["status"] >= 400]
    assert not failed, "every route runs its successful path (and so its deferred imports)"
    invoked = {route["function"] for route in tour["routes"]} | set(tour["functions"])
    assert invoked == set(FUNCTIONS)


@pytest.mark.slow
def test_our_part_of_the_zip_is_exactly_what_the_handlers_load(tour: dict[str, Any]) -> None:
    selected = {name for name, _ in package_lambda.own_files()}
    loaded = _own_loaded(tour)
    assert loaded - selected == set(), "loaded by a handler but left out of the zip"
    assert selected - loaded == set(package_lambda.DATA_FILES), "in the zip, loaded by none"
    assert not any(name.startswith(("entrypoints/cli/", "entrypoints/local/")) for name in selected)


def _module_name(entry: str) -> str | None:
    """`attr/_make.py` -> `attr._make`, `attr/__init__.py` -> `attr` (None: not a module)."""
    found = re.fullmatch(r"(?P<path>[\w/]+?)(?:/__init__)?(?:\.py|\.[\w-]+\.so)", entry)
    if found is None or "__pycache__" in entry:
        return None
    return found.group("path").replace("/", ".")


def _recorded(archive: zipfile.ZipFile) -> set[str]:
    """Every file a bundled distribution's RECORD lists."""
    listed = set()
    for name in archive.namelist():
        if name.endswith(".dist-info/RECORD"):
            record = archive.read(name).decode("utf-8")
            listed.update(line.split(",", 1)[0] for line in record.splitlines() if line)
    return listed


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip as `nox -s package` builds it (without its import check, which it runs)."""
    if shutil.which("python3.13") is None:
        pytest.skip("building the zip compiles its bytecode with python3.13")
    if importlib.util.find_spec("pip") is None:
        pytest.skip("building the zip installs its dependencies with pip")
    output = tmp_path_factory.mktemp("package") / "kumocms-lambda.zip"
    subprocess.run(
        [sys.executable, "scripts/package_lambda.py", "--output", str(output), "--no-check"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return output


@pytest.mark.slow
def test_the_built_zip_holds_what_the_handlers_load_and_nothing_else(
    tour: dict[str, Any], built_zip: Path
) -> None:
    with zipfile.ZipFile(built_zip) as archive:
        entries = set(archive.namelist())
        recorded = _recorded(archive)
    tag = "cpython-313"
    own = {entry for entry in entries if entry.split("/", 1)[0] in OWN}
    sources = _own_loaded(tour)
    compiled = {
        f"{Path(source).parent.as_posix()}/__pycache__/{Path(source).stem}.{tag}.pyc"
        for source in sources
    }
    assert own == sources | compiled | set(package_lambda.DATA_FILES)

    modules = {module for entry in entries if (module := _module_name(entry)) is not None}
    missing = _third_party_loaded(tour) - modules
    assert not missing, "third-party modules a handler loads are not in the zip"

    unaccounted = {
        entry
        for entry in entries - own - recorded
        if not (
            entry.endswith(f".{tag}.pyc")
            and re.sub(rf"__pycache__/(\w+)\.{tag}\.pyc$", r"\1.py", entry) in recorded
        )
    }
    assert not unaccounted, "files that neither we nor a bundled distribution declare"


@pytest.mark.slow
def test_the_zip_is_described_beside_it(built_zip: Path) -> None:
    description = json.loads(built_zip.with_suffix(".json").read_text(encoding="utf-8"))
    data = built_zip.read_bytes()
    assert description["runtime"] == "python3.13"
    assert description["zip"] == built_zip.name
    assert description["size"] == len(data)
    assert description["sha256"] == hashlib.sha256(data).hexdigest()
    assert description["handlers"] == sorted(f.handler for f in FUNCTIONS.values())
