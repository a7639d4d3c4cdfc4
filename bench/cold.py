"""Benchmarks: cold start — a fresh interpreter to the first `GET /documents/{id}` response.

Each run is a new process, timed by the parent from spawn to the moment the child reports its
first response on standard output (the child's CPU time until then comes with it), the same way
on both sides; interpreter teardown after the response is not part of a cold start (Lambda
keeps the process) and is not timed:
ours imports the `documents_read` handler and invokes it (environment parsing, composition root,
clients, the GetItem, the presign, the JSON response and its log line); the baseline is a plain
boto3 script with the same session, the same clients with the same botocore Config, the same
GetItem and the same presign, and a JSON response. Runs alternate ours/baseline. Both
interpreters start with `-S` and the same `PYTHONPATH`, so neither pays for the development
virtualenv's `.pth` files (the editable install's finder), which Lambda does not have, and both
read bytecode from one cache directory that the untimed first runs fill.

The headline runs where Lambda runs: the built zip (`nox -s package`) unpacked into a temporary
directory, on python3.13 (the functions' runtime), against plain boto3 on the same python3.13.
Both sides find boto3 in one directory standing in for the runtime's (the installed boto3
version, compiled once, as the runtime's is); ours reads the zip's own bytecode, and nothing
writes bytecode. The other figures run from the source tree on the interpreter the bench runs
under: as above; with the collector off on both sides; and ours without bytecode for the zip's
contents, as a zip without `.pyc` files would be (Lambda unpacks it read-only, so Python would
compile those modules again in every cold start).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from bench.aws import RECORD_FILE_VARIABLE, ROOT, Operations, require_same
from bench.events import proxy_event
from bench.package import PACKAGES, runtime_distributions
from bench.plain import CLIENT_OPTIONS, S3_OPTIONS, check_same_config

MARK = b"kumocms-bench-response "
"""What a child writes, with its CPU seconds, once it has its response."""

OURS = """
import os, sys
if os.environ.get("KUMOCMS_BENCH_RECORD"):
    from bench.aws import record_child_requests
    record_child_requests()
import json
from entrypoints.functions.documents_read import handler
class Context:
    function_name = "documents_read"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
response = handler(json.loads(sys.argv[1]), Context())
assert response["statusCode"] == 200, response
import time
sys.stdout.write("__MARK__ %r\\n" % time.process_time())
sys.stdout.flush()
"""

BASELINE = """
import os, sys
if os.environ.get("KUMOCMS_BENCH_RECORD"):
    from bench.aws import record_child_requests
    record_child_requests()
import hashlib, json
from datetime import UTC, datetime, timedelta
import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

RETRIES = __RETRIES__
S3 = __S3__
event = json.loads(sys.argv[1])
endpoint = os.environ["KUMOCMS_AWS_ENDPOINT_URL"]
session = boto3.Session(region_name=os.environ["AWS_REGION"])
dynamodb = session.client("dynamodb", config=Config(**RETRIES), endpoint_url=endpoint)
s3 = session.client("s3", config=Config(**RETRIES, **S3), endpoint_url=endpoint)
document_id = event["pathParameters"]["id"]
item = dynamodb.get_item(
    TableName=os.environ["DOCUMENTS_TABLE"], Key={"pk": {"S": "DOC#" + document_id}},
    ConsistentRead=True,
)["Item"]
doc = {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
key = "%s/%s/r%d" % (
    hashlib.sha256(document_id.encode()).hexdigest()[:4], document_id.lower(), doc["revision"]
)
url = s3.generate_presigned_url(
    "get_object",
    Params={"Bucket": os.environ["S3_BUCKET"], "Key": key,
            "ResponseContentDisposition": 'attachment; filename="%s"' % doc["file_name"],
            "ResponseContentType": doc["content_type"]},
    ExpiresIn=3600,
)
expires = datetime.now(UTC) + timedelta(seconds=3600)
body = {name: doc[name] for name in ("file_name", "content_type", "state", "created_at")}
body.update(document_id=document_id, size=int(doc["size"]), version=int(doc["version"]),
            download={"url": url, "expires_at": expires.isoformat()})
response = {"statusCode": 200, "headers": {"ETag": '"%d"' % doc["version"]},
            "body": json.dumps(body)}
assert response["statusCode"] == 200
import time
sys.stdout.write("__MARK__ %r\\n" % time.process_time())
sys.stdout.flush()
""".replace("__RETRIES__", repr(CLIENT_OPTIONS)).replace("__S3__", repr(S3_OPTIONS))
OURS, BASELINE = (script.replace("__MARK__ ", MARK.decode()) for script in (OURS, BASELINE))
COLLECTOR_OFF = "import gc\ngc.disable()\n"
"""Prepended to both sides to measure our overhead without the collector (see
`cold_start_collector_off`)."""


LAMBDA_PYTHON = "3.13"
"""The functions' runtime (`python3.13`), the version the zip is built for."""


def python_path() -> str:
    """The children's module path: the repository, then the virtualenv's site-packages."""
    paths = [str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return os.pathsep.join(dict.fromkeys(paths))


@attrs.frozen(kw_only=True)
class Interpreter:
    """Which Python a child runs on and what it finds on its module path."""

    executable: str
    path: str
    environment: Mapping[str, str] = attrs.field(factory=dict)
    """Set over the children's environment (e.g. no bytecode cache prefix)."""
    drop: tuple[str, ...] = ()
    """Variables taken out of the children's environment."""
    cwd: Path = ROOT
    """The children's working directory: with `-c` it comes first on the module path."""


SOURCE_TREE = Interpreter(executable=sys.executable, path=python_path())
"""The bench's own interpreter on the source tree and the development virtualenv."""


@attrs.frozen(kw_only=True)
class ColdStart:
    """Medians of interleaved cold starts."""

    ours: float
    baseline: float
    ours_cpu: float
    baseline_cpu: float
    operations: Operations
    runs: int


def _run(
    script: str,
    event: Mapping[str, Any],
    environment: Mapping[str, str],
    interpreter: Interpreter = SOURCE_TREE,
) -> tuple[float, float]:
    """Wall and CPU seconds of one child, from spawn to its first response."""
    child_environment = {
        **{k: v for k, v in environment.items() if k not in interpreter.drop},
        **interpreter.environment,
        "PYTHONPATH": interpreter.path,
    }
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
        [interpreter.executable, "-S", "-c", script, json.dumps(event)],
        env=child_environment,
        cwd=interpreter.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    reported = b""
    for line in child.stdout:  # the handler's log lines come first
        if line.startswith(MARK):
            reported = line.removeprefix(MARK)
            break
    elapsed = time.perf_counter() - started
    _, errors = child.communicate()
    if child.returncode != 0 or not reported:
        message = errors.decode(errors="replace")[-2000:]
        raise RuntimeError(f"a cold-start child failed:\n{message}")
    return elapsed, float(reported)


def _operations(
    script: str,
    event: Mapping[str, Any],
    environment: Mapping[str, str],
    interpreter: Interpreter = SOURCE_TREE,
) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="kumocms-bench-") as temporary:
        record = Path(temporary) / "requests.txt"
        _run(script, event, {**environment, RECORD_FILE_VARIABLE: str(record)}, interpreter)
        return [line for line in record.read_text(encoding="utf-8").splitlines() if line]


def _event(document_id: str) -> dict[str, Any]:
    return proxy_event(
        "GET", "/documents/{id}", f"/documents/{document_id}", path_parameters={"id": document_id}
    )


def _interleaved(
    event: Mapping[str, Any],
    ours_environment: Mapping[str, str],
    baseline_environment: Mapping[str, str],
    *,
    runs: int,
    operations: Operations,
    collector_off: bool = False,
    interpreters: tuple[Interpreter, Interpreter] = (SOURCE_TREE, SOURCE_TREE),
) -> ColdStart:
    prelude = COLLECTOR_OFF if collector_off else ""
    ours: list[tuple[float, float]] = []
    baseline: list[tuple[float, float]] = []
    for _ in range(runs):
        ours.append(_run(prelude + OURS, event, ours_environment, interpreters[0]))
        baseline.append(_run(prelude + BASELINE, event, baseline_environment, interpreters[1]))
    return ColdStart(
        ours=statistics.median(wall for wall, _ in ours),
        baseline=statistics.median(wall for wall, _ in baseline),
        ours_cpu=statistics.median(cpu for _, cpu in ours),
        baseline_cpu=statistics.median(cpu for _, cpu in baseline),
        operations=operations,
        runs=runs,
    )


def cold_start(environment: Mapping[str, str], document_id: str, *, runs: int) -> ColdStart:
    """Median wall time of `runs` interleaved cold starts per side, after one untimed each.

    `environment` must name a bytecode cache directory (PYTHONPYCACHEPREFIX) for the children.
    """
    check_same_config()
    event = _event(document_id)
    # The untimed first runs also write the bytecode both sides then read.
    operations = require_same(
        "cold start",
        _operations(OURS, event, environment),
        _operations(BASELINE, event, environment),
    )
    return _interleaved(event, environment, environment, runs=runs, operations=operations)


def _drop_zip_bytecode(cache: Path) -> None:
    """Remove the cached bytecode of everything the zip holds (ours and bundled packages)."""
    for package in PACKAGES:
        shutil.rmtree(cache / (ROOT / package).relative_to("/"), ignore_errors=True)
    tag = sys.implementation.cache_tag
    for name in runtime_distributions():
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or []:
            if file.suffix == ".py":
                source = Path(str(distribution.locate_file(file))).resolve()
                compiled = cache / source.parent.relative_to("/") / f"{source.stem}.{tag}.pyc"
                compiled.unlink(missing_ok=True)


def cold_start_without_zip_bytecode(
    environment: Mapping[str, str], document_id: str, *, runs: int, operations: Operations
) -> ColdStart:
    """Ours with no bytecode for the zip's contents (compiled in every start), vs the baseline."""
    cache = Path(environment["PYTHONPYCACHEPREFIX"])
    with tempfile.TemporaryDirectory(prefix="kumocms-bench-pyc-") as temporary:
        stripped = Path(temporary) / "cache"
        shutil.copytree(cache, stripped)
        _drop_zip_bytecode(stripped)
        ours_environment = {
            **environment,
            "PYTHONPYCACHEPREFIX": str(stripped),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return _interleaved(
            _event(document_id), ours_environment, environment, runs=runs, operations=operations
        )


def cold_start_collector_off(
    environment: Mapping[str, str], document_id: str, *, runs: int, operations: Operations
) -> ColdStart:
    """Both sides with the cyclic garbage collector off from the first line.

    Ours pauses the collector while it imports and builds its clients (`entrypoints.coldstart`)
    and the plain script does not, so part of the headline ratio is the baseline's collections.
    With the collector off on both sides, the ratio is our code's and our libraries' own cost.
    """
    return _interleaved(
        _event(document_id),
        environment,
        environment,
        runs=runs,
        operations=operations,
        collector_off=True,
    )


def lambda_python() -> str:
    """The real python3.13 executable (resolving a version manager's shim, which needs a cwd).

    Raises:
        FileNotFoundError: there is no python3.13 on PATH.
    """
    found = shutil.which(f"python{LAMBDA_PYTHON}")
    if found is None:
        raise FileNotFoundError(f"python{LAMBDA_PYTHON} is not on PATH")
    answer = subprocess.run(  # noqa: S603 - a fixed query of the interpreter found on PATH
        [found, "-c", "import sys; print(sys.executable)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.strip()


def _runtime_boto3(python: str, target: Path) -> None:
    """boto3, at the version installed here, compiled, where the Lambda runtime has its own."""
    requirement = f"boto3=={importlib.metadata.version('boto3')}"
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-compile", "--target", str(target), requirement]
    for step in (command, [python, "-m", "compileall", "-q", str(target)]):
        done = subprocess.run(step, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"preparing the runtime's boto3 failed:\n{done.stderr[-2000:]}")


@contextlib.contextmanager
def lambda_task(zip_path: Path) -> Iterator[tuple[Interpreter, Interpreter]]:
    """(ours, baseline) on python3.13: ours on the unpacked zip, both on the runtime's boto3."""
    python = lambda_python()
    with tempfile.TemporaryDirectory(prefix="kumocms-bench-task-") as temporary:
        task, runtime = Path(temporary) / "task", Path(temporary) / "runtime"
        elsewhere = Path(temporary) / "empty"
        elsewhere.mkdir()
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task)
        _runtime_boto3(python, runtime)
        # The zip's bytecode sits beside its sources; a cache prefix would hide it. The working
        # directory is Lambda's (the task root) or an empty one, never the source tree, which
        # `-c` would put first on the module path.
        no_writes = {"PYTHONDONTWRITEBYTECODE": "1"}
        drop = ("PYTHONPYCACHEPREFIX",)
        yield (
            Interpreter(
                executable=python,
                path=os.pathsep.join([str(task), str(runtime)]),
                environment=no_writes,
                drop=drop,
                cwd=task,
            ),
            Interpreter(
                executable=python,
                path=str(runtime),
                environment=no_writes,
                drop=drop,
                cwd=elsewhere,
            ),
        )


def _recording(interpreter: Interpreter, zip_root: str) -> Interpreter:
    """The same interpreter able to import the bench's request recorder (for untimed runs)."""
    return attrs.evolve(interpreter, path=os.pathsep.join([interpreter.path, zip_root, str(ROOT)]))


def cold_start_from_zip(
    environment: Mapping[str, str], document_id: str, *, runs: int, zip_path: Path
) -> tuple[ColdStart, ColdStart]:
    """Ours from the built zip vs plain boto3 on python3.13: as shipped, and collector off."""
    event = _event(document_id)
    with lambda_task(zip_path) as (ours, baseline):
        zip_root = ours.path.split(os.pathsep)[0]
        operations = require_same(
            "cold start (python3.13, zip)",
            _operations(OURS, event, environment, _recording(ours, zip_root)),
            _operations(BASELINE, event, environment, _recording(baseline, zip_root)),
        )
        # One untimed run each, so the first timed one does not pay for a cold page cache.
        _run(OURS, event, environment, ours)
        _run(BASELINE, event, environment, baseline)
        started, collector_off = (
            _interleaved(
                event,
                environment,
                environment,
                runs=runs,
                operations=operations,
                collector_off=off,
                interpreters=(ours, baseline),
            )
            for off in (False, True)
        )
        return started, collector_off
