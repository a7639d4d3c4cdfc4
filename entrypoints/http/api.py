"""Entrypoints layer: the HTTP handler factory — routing, auth re-check, idempotency, errors."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, cast

from entrypoints.bootstrap import Runtime
from entrypoints.http import routes as route_table
from entrypoints.http.apigw import (
    HttpRequest,
    HttpResponse,
    cors_headers,
    parse_event,
    render,
)
from entrypoints.http.headers import event_headers
from entrypoints.http.operations import OPERATIONS, Call
from entrypoints.http.problems import HttpError, describe
from entrypoints.http.routes import Route
from entrypoints.observability import configure_logging, get_logger, invocation
from kumocms.errors import AuthenticationError, KumoError, ValidationError
from kumocms.jsonvalue import dumps_json, loads_json

IDEMPOTENCY_TTL = timedelta(hours=24)
IN_FLIGHT_LEASE = timedelta(minutes=5)
"""How long a claim blocks its key while its request runs (longer than any function timeout):
a request that dies half-way does not block its key for a day."""
MAX_IDEMPOTENCY_KEY = 255
_REPLAYED_HEADERS = ("Location", "ETag", "Retry-After", "Content-Type")

Handler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
log = get_logger("kumocms.http")


def make_http_handler(function: str, get_runtime: Callable[[], Runtime]) -> Handler:
    """The Lambda handler of one HTTP function: serves the routes the table gives it."""
    served = {(r.method, r.path) for r in route_table.routes_of(function)}

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        runtime = get_runtime()
        settings = runtime.settings
        configure_logging(settings.log_level)
        with invocation(function, context):
            started = time.perf_counter()
            origin = event_headers(event).get("origin")
            cors = cors_headers(origin, settings.cors_allowed_origins)
            try:
                request = parse_event(event)
                response = _dispatch(request, runtime, served)
            except Exception as error:  # noqa: BLE001 - the edge answers every failure
                response = _problem_response(error)
            log.info(
                "http_request",
                method=event.get("httpMethod"),
                route=event.get("resource"),
                status=response.status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return render(response, cors=cors)

    return handler


def _dispatch(request: HttpRequest, runtime: Runtime, served: set[tuple[str, str]]) -> HttpResponse:
    route = route_table.find(request.method, request.resource or "")
    params = dict(request.path_params)
    if route is None:
        route, params, path_known = route_table.match(request.method, request.path)
        if route is None:
            if path_known:
                raise HttpError(405, "method_not_allowed", "the method is not allowed here")
            raise HttpError(404, "not_found", "no such route")
    if (route.method, route.path) not in served:
        raise HttpError(404, "not_found", "no such route")
    principal = request.principal
    if route.permission is not None:
        if principal is None:
            raise AuthenticationError("a valid API key is required")
        principal.require(route.permission)
    _check_query(route, request)
    call = Call(request=request, route=route, runtime=runtime, params=params, principal=principal)
    operation = OPERATIONS[route.operation_id]
    if route.idempotent_post and request.headers.get("idempotency-key") is not None:
        return _idempotent(call, operation)
    return operation(call)


def _check_query(route: Route, request: HttpRequest) -> None:
    """Refuse unknown and repeated query parameters: an ignored filter answers wrongly.

    Raises:
        ValidationError: the first offending parameter is named in `field`.
    """
    for name in sorted(request.query):
        if not route.accepts_query(name):
            raise ValidationError(f"unknown query parameter {name}", field=name)
    for name in sorted(request.repeated):
        raise ValidationError(f"query parameter {name} is given more than once", field=name)


def _idempotent(call: Call, operation: Callable[[Call], HttpResponse]) -> HttpResponse:
    """Run a POST at most once per (user, method, path, Idempotency-Key) for 24 hours."""
    from kumocms.portvalues import IdempotencyClaim, Remembered  # noqa: PLC0415 - off the read path

    request = call.request
    key = request.headers.get("idempotency-key", "")
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise HttpError(
            400,
            "validation_failed",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
        )
    user = call.principal.user_id.value if call.principal else "-"
    scope = _digest(f"{user}\n{request.method}\n{request.path}\n{key}".encode())
    fingerprint = _digest(request.media_type.encode() + b"\n" + request.body)
    store = call.ports.idempotency
    now = call.ports.clock.now()
    claim = store.claim(
        scope, fingerprint=fingerprint, owner=uuid.uuid4().hex, expires_at=now + IN_FLIGHT_LEASE
    )
    if isinstance(claim, Remembered):
        if claim.fingerprint != fingerprint:
            raise _key_reused()
        return _replayed(claim.outcome)
    if claim is IdempotencyClaim.REUSED:
        raise _key_reused()
    if claim is IdempotencyClaim.IN_FLIGHT:
        raise HttpError(409, "conflict", "a request with this Idempotency-Key is in progress")
    try:
        response = operation(call)
    except Exception as error:
        status, document, headers = describe(error)
        if status >= 500:
            store.release(scope)
            raise
        response = HttpResponse(
            status, document, headers=headers, media_type="application/problem+json"
        )
    store.complete(
        scope,
        fingerprint=fingerprint,
        outcome=_remembered(response),
        expires_at=now + IDEMPOTENCY_TTL,
    )
    return response


def _remembered(response: HttpResponse) -> str:
    """The response as the idempotency store keeps it: status, replayed headers and body."""
    headers = {
        name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers
    }
    record: dict[str, Any] = {"status": response.status, "headers": headers}
    if response.body is not None:
        record["media_type"] = response.media_type
        record["body"] = response.body
    return dumps_json(record)


def _replayed(outcome: str) -> HttpResponse:
    """The response `_remembered` recorded, answered again."""
    record = cast("dict[str, Any]", loads_json(outcome))
    headers = dict(record["headers"])
    media_type = record.get("media_type", "application/json")
    if "body" in record:
        headers["Content-Type"] = media_type
    return HttpResponse(
        record["status"], record.get("body"), headers=headers, media_type=media_type
    )


def _key_reused() -> HttpError:
    return HttpError(
        422, "idempotency_key_reused", "this Idempotency-Key was used with a different request"
    )


def _problem_response(error: BaseException) -> HttpResponse:
    status, document, headers = describe(error)
    if status >= 500:
        # Exception text stays in the logs; the response says only what kind of failure.
        log.error(
            "request_failed",
            error_type=type(error).__name__,
            status=status,
            exc_info=not isinstance(error, KumoError),
        )
    return HttpResponse(status, document, headers=headers, media_type="application/problem+json")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
