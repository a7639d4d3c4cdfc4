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

A second measurement runs ours without bytecode for the zip's contents (our packages and the
dependencies the zip bundles), as the zip is built today: Lambda unpacks it read-only, so
Python compiles those modules again in every cold start.
"""

from __future__ import annotations

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
from collections.abc import Mapping
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


def python_path() -> str:
    """The children's module path: the repository, then the virtualenv's site-packages."""
    paths = [str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return os.pathsep.join(dict.fromkeys(paths))


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
    script: str, event: Mapping[str, Any], environment: Mapping[str, str]
) -> tuple[float, float]:
    """Wall and CPU seconds of one child, from spawn to its first response."""
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, "-S", "-c", script, json.dumps(event)],
        env={**environment, "PYTHONPATH": python_path()},
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


def _operations(script: str, event: Mapping[str, Any], environment: Mapping[str, str]) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="kumocms-bench-") as temporary:
        record = Path(temporary) / "requests.txt"
        _run(script, event, {**environment, RECORD_FILE_VARIABLE: str(record)})
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
) -> ColdStart:
    prelude = COLLECTOR_OFF if collector_off else ""
    ours: list[tuple[float, float]] = []
    baseline: list[tuple[float, float]] = []
    for _ in range(runs):
        ours.append(_run(prelude + OURS, event, ours_environment))
        baseline.append(_run(prelude + BASELINE, event, baseline_environment))
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
