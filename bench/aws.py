"""Benchmarks: the moto server, the environment the functions read, and the request recorder.

The recorder is one botocore `before-call` hook (the one tests/support/aws.py counts with),
attached to every client any botocore session creates in the process — ours and the
baselines' alike — so requests are counted and compared the same way on both sides.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

REGION = "eu-west-1"
ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # Nothing from the developer's ~/.aws, no instance metadata lookups: every run the same.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
RECORD_FILE_VARIABLE = "KUMOCMS_BENCH_RECORD"
"""A child process that finds this variable records its AWS requests into the named file."""


class OperationsDifferError(AssertionError):
    """A baseline does not make the same AWS requests as the code it is compared with."""


# ---- the moto server ------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoServer:
    """`python -m moto.server` on 127.0.0.1 in its own process (as AWS is another machine)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **CREDENTIALS},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("the moto server exited at start")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the moto server did not start within a minute")

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None


def child_environment(endpoint: str, resources: Mapping[str, str]) -> dict[str, str]:
    """What a Lambda function's process sees: its variables, pointed at the emulator."""
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "HOME") if name in os.environ}
    return {
        **keep,
        **CREDENTIALS,
        **resources,
        "KUMOCMS_AWS_ENDPOINT_URL": endpoint,
        "PYTHONHASHSEED": "0",
    }


def use_environment(environment: Mapping[str, str]) -> None:
    """Make this process look like the function's (the handlers read os.environ once)."""
    os.environ.update(environment)


# ---- the request recorder -------------------------------------------------------------------


class Recorder:
    """Every AWS request made by any client in this process, as `service:Operation`."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self._lock = threading.Lock()

    def hook(self, model: Any, **_: Any) -> None:
        """The botocore `before-call` handler."""
        name = f"{model.service_model.endpoint_prefix}:{model.name}"
        with self._lock:
            self.log.append(name)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[str]]:
        """The requests made inside the block (in order)."""
        with self._lock:
            start = len(self.log)
        captured: list[str] = []
        try:
            yield captured
        finally:
            with self._lock:
                captured.extend(self.log[start:])


RECORDER = Recorder()


@functools.cache
def install_recorder() -> Recorder:
    """Attach the recorder's hook to every client created from now on (once per process)."""
    import botocore.session  # noqa: PLC0415 - only where AWS is used

    create_client = botocore.session.Session.create_client

    def recording_create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-call.*.*", RECORDER.hook)
        return client

    botocore.session.Session.create_client = recording_create_client  # type: ignore[method-assign]
    return RECORDER


def record_child_requests() -> None:
    """In a child process: record requests into the file the parent named, at exit."""
    path = os.environ.get(RECORD_FILE_VARIABLE)
    if not path:
        return
    import atexit  # noqa: PLC0415

    recorder = install_recorder()
    atexit.register(lambda: Path(path).write_text("\n".join(recorder.log), encoding="utf-8"))


@attrs.frozen(kw_only=True)
class Operations:
    """The AWS requests of one run of a use case."""

    names: tuple[str, ...]

    @property
    def count(self) -> int:
        """How many requests."""
        return len(self.names)

    def summary(self) -> str:
        """`dynamodb:GetItem + s3:PutObject x2` in first-seen order."""
        counts = Counter(self.names)
        return " + ".join(
            f"{name}" + (f" x{counts[name]}" if counts[name] > 1 else "")
            for name in dict.fromkeys(self.names)
        )


def require_same(
    use_case: str, ours: Sequence[str], baseline: Sequence[str], *, ordered: bool = True
) -> Operations:
    """Fail loudly unless both sides made the same requests (in the same order if `ordered`).

    Concurrent requests (a list page queries its shards from a thread pool) arrive in any
    order, so they are compared as multisets.

    Raises:
        OperationsDifferError: the lists differ.
    """
    same = list(ours) == list(baseline) if ordered else Counter(ours) == Counter(baseline)
    if not same:
        raise OperationsDifferError(
            f"{use_case}: the baseline's AWS requests differ from ours\n"
            f"  ours:     {list(ours)}\n  baseline: {list(baseline)}"
        )
    return Operations(names=tuple(ours))
