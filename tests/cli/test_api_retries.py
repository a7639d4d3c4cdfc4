"""The CLI's API client retries through urllib3's Retry, against a scripted server on loopback.

Each test scripts the answers of a real HTTP server on 127.0.0.1 and asserts on what the
server recorded: how many requests came, and when (its own clock, not the test's).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from entrypoints.cli.api import ApiClient, ApiError

KEY = "retry-test-key-0000000000000"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    at: float
    """time.monotonic() when the server read the request."""
    headers: dict[str, str]
    body: bytes


class ScriptedApi:
    """Answers requests from a script, in order; the last answer repeats."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.seen: list[Seen] = []
        self.url = ""

    def next_answer(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@contextlib.contextmanager
def scripted(*answers: Answer) -> Iterator[ScriptedApi]:
    api = ScriptedApi(*answers)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                api.seen.append(
                    Seen(self.command, self.path, time.monotonic(), dict(self.headers), body)
                )
                answer = api.next_answer()
            problem = answer.status >= 400
            data = json.dumps(
                answer.body or ({"status": answer.status, "code": "x"} if problem else {})
            ).encode()
            self.send_response(answer.status)
            content_type = "application/problem+json" if problem else "application/json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_PUT(self) -> None:
            self._answer()

        def do_PATCH(self) -> None:
            self._answer()

        def do_DELETE(self) -> None:
            self._answer()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _gaps(api: ScriptedApi) -> list[float]:
    return [later.at - earlier.at for earlier, later in zip(api.seen, api.seen[1:], strict=False)]


@pytest.mark.slow
def test_a_get_answered_503_is_tried_again_after_its_retry_after() -> None:
    with scripted(Answer(503, {"Retry-After": "1"}), Answer(200, body={"user_id": "u"})) as api:
        me = ApiClient(api.url, KEY).call("GET", "/me")
    assert me == {"user_id": "u"}
    assert [seen.method for seen in api.seen] == ["GET", "GET"]
    assert _gaps(api)[0] >= 0.95


@pytest.mark.slow
def test_a_throttled_post_is_sent_again_with_its_idempotency_key_and_body() -> None:
    with scripted(Answer(429, {"Retry-After": "1"}), Answer(201, body={"document_id": "d"})) as api:
        created = ApiClient(api.url, KEY).call(
            "POST", "/documents", {"file_name": "a.txt"}, headers={"Idempotency-Key": "once"}
        )
    assert created == {"document_id": "d"}
    assert len(api.seen) == 2
    assert _gaps(api)[0] >= 0.95
    assert {seen.headers["Idempotency-Key"] for seen in api.seen} == {"once"}
    assert {seen.body for seen in api.seen} == {b'{"file_name": "a.txt"}'}


@pytest.mark.slow
def test_retries_stop_after_three_tries_with_the_last_answer() -> None:
    with scripted(Answer(503, {"Retry-After": "1"})) as api, pytest.raises(ApiError) as raised:
        ApiClient(api.url, KEY).call("GET", "/documents")
    assert len(api.seen) == 3
    assert all(gap >= 0.95 for gap in _gaps(api))
    assert (raised.value.status, raised.value.retry_after) == (503, 1)


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("POST", 503),  # a write may have happened behind a 503
        ("PATCH", 503),
        ("PUT", 503),
        ("DELETE", 503),
        ("GET", 500),
        ("GET", 502),
        ("POST", 413),  # urllib3 would retry a 413 with Retry-After; its body will not shrink
        ("GET", 409),
    ],
)
def test_answers_that_may_follow_a_change_or_will_not_change_are_not_retried(
    method: str, status: int
) -> None:
    with (
        scripted(Answer(status, {"Retry-After": "1"}), Answer(200)) as api,
        pytest.raises(ApiError) as raised,
    ):
        ApiClient(api.url, KEY).call(method, "/documents/x", {} if method != "GET" else None)
    assert raised.value.status == status
    assert [seen.method for seen in api.seen] == [method]


def test_an_accepted_answer_with_a_retry_after_is_returned_not_retried() -> None:
    with scripted(Answer(202, {"Retry-After": "5"}), Answer(200)) as api:
        reply = ApiClient(api.url, KEY).request(
            "GET", "/documents/x/content", allow=("restore_in_progress",)
        )
    assert (reply.status, reply.retry_after) == (202, 5)
    assert len(api.seen) == 1
