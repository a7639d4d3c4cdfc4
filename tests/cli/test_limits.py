"""`kumocms upload` chooses its flow from the server's `GET /limits` (read once per run)."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from entrypoints.local.stack import LocalStack, StackOptions
from tests.cli.conftest import ADMIN_KEY, STACK_ENVIRONMENT, Cli, _reset_moto

SMALL_LIMIT = 1024
FALLBACK_NOTE = "the API takes smaller direct uploads"


@pytest.fixture(scope="module")
def small_stack() -> Iterator[LocalStack]:
    """A local stack whose direct-upload limit is 1 KiB."""
    _reset_moto()
    local = LocalStack(
        StackOptions(
            port=0,
            admin_key=ADMIN_KEY,
            environment={**STACK_ENVIRONMENT, "DIRECT_UPLOAD_LIMIT": str(SMALL_LIMIT)},
        )
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()
        _reset_moto()


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kumocms-cli-limits-") as directory:
        yield Path(directory)


def _file(directory: Path, size: int) -> Path:
    path = directory / f"f{size}.bin"
    path.write_bytes(b"k" * size)
    return path


def test_upload_takes_the_servers_direct_limit(small_stack: LocalStack, workdir: Path) -> None:
    cli = Cli(small_stack, workdir)
    direct = cli("upload", str(_file(workdir, SMALL_LIMIT)))
    assert direct.code == 0, direct.err
    assert direct.json["state"] == "active"
    presigned = cli("upload", str(_file(workdir, SMALL_LIMIT + 1)))
    assert presigned.code == 0, presigned.err
    assert presigned.json["state"] == "active"
    # It knew the limit before sending: no direct attempt refused with 413 first.
    assert FALLBACK_NOTE not in presigned.err


def test_direct_limit_overrides_the_server_and_a_413_still_falls_back(
    small_stack: LocalStack, workdir: Path
) -> None:
    cli = Cli(small_stack, workdir)
    result = cli("upload", "--direct-limit", "4KiB", str(_file(workdir, 2048)))
    assert result.code == 0, result.err
    assert FALLBACK_NOTE in result.err
    assert result.json["state"] == "active"


# ---- a server from before GET /limits -------------------------------------------------------


class _OldApi(BaseHTTPRequestHandler):
    """An API without `/limits`: 404 there; POST /documents answers an active document."""

    requests: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""

    def _answer(self, status: int, body: dict[str, Any], media_type: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, {}))
        problem = {"type": "about:blank", "title": "Not found", "status": 404}
        self._answer(
            404,
            {**problem, "detail": "no such route", "code": "not_found"},
            "application/problem+json",
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        self.requests.append(("POST", self.path, body))
        document = {"document_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "state": "active", "upload": None}
        self._answer(201, document, "application/json")


@pytest.fixture
def old_api() -> Iterator[str]:
    _OldApi.requests.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OldApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_limits_route_the_default_limit_applies(old_api: str, workdir: Path) -> None:
    cli = Cli(None, workdir)  # type: ignore[arg-type] - the URL is given per call
    small = cli("upload", str(_file(workdir, 4 * 1024 * 1024)), url=old_api)
    assert small.code == 0, small.err
    large = cli("upload", "--no-sha256", str(_file(workdir, 4 * 1024 * 1024 + 1)), url=old_api)
    assert large.code == 0, large.err
    asked = [(method, path) for method, path, _ in _OldApi.requests]
    assert asked == [("GET", "/limits"), ("POST", "/documents")] * 2  # once per run
    posted = [body for method, _, body in _OldApi.requests if method == "POST"]
    assert "content" in posted[0]
    assert "content" not in posted[1]
    assert posted[1]["size"] == 4 * 1024 * 1024 + 1
