"""The `kumocms` console script run as a subprocess against a local stack started in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest

from entrypoints.local.stack import LocalStack, StackOptions

ADMIN_KEY = "cli-admin-key-000000000000000000"
MiB = 1024 * 1024
STACK_ENVIRONMENT = {
    # Small multipart uploads: moto's minimum part size is 5 MiB, like S3's.
    "MULTIPART_THRESHOLD": str(8 * MiB),
    "MULTIPART_PART_SIZE": str(5 * MiB),
    # §10: the stack declares two fields (tests/cli/test_search.py finds documents by them).
    "INDEXED_FIELDS": json.dumps({"team": "string", "year": "number"}),
}
_SCRIPT = Path(sys.executable).with_name("kumocms")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "entrypoints.cli.main"]


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def error(self) -> str:
        """The one-line error message (asserts that it is exactly one line)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("kumocms: error: "), self.err
        return lines[0].removeprefix("kumocms: error: ")


class Cli:
    """Runs the console script with the stack's URL and a key in the environment."""

    def __init__(self, stack: LocalStack, cwd: Path) -> None:
        self.stack = stack
        self.cwd = cwd

    def __call__(
        self,
        *args: str,
        key: str | None = ADMIN_KEY,
        url: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Result:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("KUMOCMS_")}
        environ["KUMOCMS_API_URL"] = url or self.stack.base_url
        if key is not None:
            environ["KUMOCMS_API_KEY"] = key
        environ.update(env or {})
        done = subprocess.run(
            [*COMMAND, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environ,
            cwd=self.cwd,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Result(done.returncode, done.stdout, done.stderr)

    def many(self, *calls: Sequence[str], **options: Any) -> list[Result]:
        """Independent runs at once (each run spends most of its time importing)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda args: self(*args, **options), calls))


def _reset_moto() -> None:
    # The embedded moto server keeps its state in process-wide backends that outlive
    # LocalStack.stop(); without a reset, the next stack in this process finds its bucket taken.
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    _reset_moto()
    local = LocalStack(
        StackOptions(port=0, admin_key=ADMIN_KEY, restore_delay=1, environment=STACK_ENVIRONMENT)
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()
        _reset_moto()


@pytest.fixture(scope="module")
def files() -> Iterator[Path]:
    """Files to upload (tens of MB in all), deleted after the module."""
    with tempfile.TemporaryDirectory(prefix="kumocms-cli-files-") as directory:
        yield Path(directory)


@pytest.fixture
def cli(stack: LocalStack) -> Iterator[Cli]:
    """A runner whose working directory (where downloads land) is deleted after the test."""
    with tempfile.TemporaryDirectory(prefix="kumocms-cli-") as directory:
        yield Cli(stack, Path(directory))


@pytest.fixture
def moto_endpoint(stack: LocalStack) -> str:
    endpoint = stack.runtimes["users"].settings.endpoint_url
    assert endpoint is not None
    return endpoint
