"""The local stack started in-process on free ports and driven over real HTTP."""

from __future__ import annotations

import http.client
import json
import time
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
