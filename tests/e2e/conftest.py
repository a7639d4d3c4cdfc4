"""The local stack started in-process on free ports and driven over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs
import pytest

from entrypoints.local.stack import LocalStack, StackOptions

ADMIN_KEY = "e2e-admin-key-0000000000000000"
MiB = 1024 * 1024


@attrs.frozen
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Response:
    """One HTTP request with http.client (no client-library shortcuts)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=dict(headers or {}))
        reply = connection.getresponse()
        return Response(reply.status, dict(reply.getheaders()), reply.read())
    finally:
        connection.close()


SERVE = [sys.executable, "-m", "entrypoints.cli.main", "serve", "--port", "0"]


def serve_process(*flags: str) -> Iterator[str]:
    """`kumocms serve` as a subprocess on a free port: yields its base URL, then stops it."""
    with subprocess.Popen(
        [*SERVE, *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            base = process.stdout.readline().strip()
            assert base.startswith("http://127.0.0.1:"), base
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def call_json(url: str, key: str, method: str, path: str, body: object = None) -> tuple[int, Any]:
    """One JSON request with a key: the status and the decoded body (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(sent, timeout=30) as reply:
            raw = reply.read()
            return reply.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None


class Api:
    """Calls the KumoCMS API of a running stack."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        query: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        **headers: str,
    ) -> Response:
        all_headers = {"Authorization": f"Bearer {key or self.key}"}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update({k.replace("_", "-"): v for k, v in headers.items()})
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        return request(method, url, body=data, headers=all_headers)


def wait_for(check: Callable[[], bool], *, timeout: float = 20, message: str = "") -> None:
    """Poll until `check()` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting: {message}")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    options = StackOptions(
        port=0,
        admin_key=ADMIN_KEY,
        restore_delay=1.5,
        authorizer_cache_ttl=30,
        ingest_visibility_timeout=1,
        max_receive_count=2,
        dlq_retry_every=0.5,
        environment={
            "MULTIPART_THRESHOLD": str(8 * MiB),
            "MULTIPART_PART_SIZE": str(5 * MiB),
            "DLQ_MAX_RETRIES": "2",
            "DLQ_RETRY_DELAY_SECONDS": "0",
            # Archives above 10 MiB go to the transfer worker (kumocms serve --sync-copy-limit).
            "SYNC_COPY_LIMIT": str(10 * MiB),
            "COPY_PART_SIZE": str(5 * MiB),
        },
    )
    local = LocalStack(options)
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def api(stack: LocalStack) -> Api:
    return Api(stack.base_url, ADMIN_KEY)
