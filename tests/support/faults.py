"""Test support: inject AWS faults into a share of requests with a botocore event hook.

The hook runs first on `before-send` and a chosen request gets a throttling error, a 5xx answer
or a read timeout instead of its answer. botocore's own retry policy (the one the adapters
configure) then decides what happens, exactly as it would against AWS.

A read timeout is raised before the request is sent: it never reaches the emulator. A throttle
or 5xx answer does not stop botocore from calling the emulator's own `before-send` handler too
(botocore calls every handler and takes the first answer): the emulator acts on the request and
its answer is lost, as when a response times out after AWS did the work. So a retried
CreateMultipartUpload or PutEvents may create twice (an upload nobody knows, a duplicate event).
"""

from __future__ import annotations

import io
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

_THROTTLE_CODES = {
    "dynamodb": "ProvisionedThroughputExceededException",
    "s3": "SlowDown",
    "events": "ThrottlingException",
    "sqs": "ThrottlingException",
}


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class FaultInjector:
    """Fails `rate` of the requests of the clients it is attached to (seeded, thread-safe)."""

    def __init__(self, rate: float, *, seed: int = 0) -> None:
        self.rate = rate
        self.enabled = True
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.requests = 0

    def attach(self, session: Any) -> FaultInjector:
        """Every client the boto3 session creates from now on is affected."""
        session.events.register_first("before-send", self._maybe_fail)
        return self

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True

    def _maybe_fail(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        with self._lock:
            self.requests += 1
            if not self.enabled or self._random.random() >= self.rate:
                return None
            kind = self._random.choice(("throttle", "server", "timeout"))
        service = kwargs.get("event_name", "before-send.unknown").split(".")[1]
        self.injected[f"{service}:{kind}"] += 1
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "server":
            return _response(request.url, 503 if service == "s3" else 500, service, "InternalError")
        return _response(
            request.url,
            503 if service == "s3" else 400,
            service,
            _THROTTLE_CODES.get(service, "Throttling"),
        )


def _response(url: str, status: int, service: str, code: str) -> AWSResponse:
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        headers = {"Content-Type": "application/xml"}
    else:
        body = json.dumps({"__type": code, "message": "injected"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(url, status, headers, _Raw(body))
