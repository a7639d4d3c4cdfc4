"""Entrypoints layer: API Gateway REST proxy (v1) events in, proxy responses out.

Headers are case-insensitive and may arrive in `headers`, `multiValueHeaders` or both; the body
may be null, empty, text or base64; `pathParameters` and query parameters may be null.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs

from entrypoints.http.headers import Headers, event_headers
from entrypoints.http.problems import HttpError
from kumocms.errors import InvalidIdError
from kumocms.ids import UserId
from kumocms.jsonvalue import dumps_json, loads_json
from kumocms.users import Principal, Role


@attrs.frozen(kw_only=True)
class HttpRequest:
    """The parts of a proxy event the operations use."""

    method: str
    path: str
    resource: str | None
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Headers
    body: bytes
    principal: Principal | None
    request_id: str
    base_path: str = ""
    """The stage or base-path prefix before the route path (`/prod`), for `Location` headers."""
    repeated: frozenset[str] = frozenset()
    """Query parameters the request gave more than once."""

    @property
    def media_type(self) -> str:
        """The body's media type without parameters, lower-cased (`""` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> object:
        """The body parsed as JSON with exact numbers.

        Raises:
            HttpError: the body is not UTF-8 JSON.
        """
        try:
            return loads_json(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HttpError(400, "validation_failed", "the body is not valid JSON") from None


@attrs.frozen
class HttpResponse:
    """A response before it becomes a proxy result."""

    status: int
    body: object = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    media_type: str = "application/json"

    def with_headers(self, **headers: str) -> HttpResponse:
        """A copy with more headers."""
        return attrs.evolve(self, headers={**self.headers, **headers})


def parse_event(event: Mapping[str, Any]) -> HttpRequest:
    """Turn a REST proxy event into an HttpRequest.

    Raises:
        HttpError: the body is declared base64 but is not.
    """
    context = event.get("requestContext") or {}
    path = str(event.get("path") or "/")
    return HttpRequest(
        method=str(event.get("httpMethod") or "GET").upper(),
        path=path,
        resource=event.get("resource"),
        path_params={k: str(v) for k, v in (event.get("pathParameters") or {}).items()},
        query=_query(event),
        headers=event_headers(event),
        body=_body(event),
        principal=_principal(context.get("authorizer")),
        request_id=str(context.get("requestId") or ""),
        base_path=_base_path(str(context.get("path") or path), path),
        repeated=_repeated(event),
    )


def _repeated(event: Mapping[str, Any]) -> frozenset[str]:
    """The query parameters given more than once (refused: which one would count?)."""
    multi = event.get("multiValueQueryStringParameters") or {}
    return frozenset(key for key, values in multi.items() if values and len(values) > 1)


def _query(event: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters; of a repeated one, the last value (as `queryStringParameters` has)."""
    query: dict[str, str] = {}
    for key, values in (event.get("multiValueQueryStringParameters") or {}).items():
        if values:
            query[key] = str(values[-1])
    for key, value in (event.get("queryStringParameters") or {}).items():
        if value is not None:
            query.setdefault(key, str(value))
    return query


def _base_path(context_path: str, path: str) -> str:
    """What the full request path has before the route path: a stage or base path."""
    return context_path[: -len(path)].rstrip("/") if context_path.endswith(path) else ""


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None or body == "":
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "validation_failed", "the body is not valid base64") from None
    return str(body).encode("utf-8")


def _principal(authorizer: object) -> Principal | None:
    """The caller the REQUEST authorizer vouched for (its context values are strings)."""
    if not isinstance(authorizer, Mapping):
        return None
    try:
        return Principal(
            user_id=UserId.parse(authorizer.get("user_id")),
            name=str(authorizer.get("name") or ""),
            role=Role(authorizer.get("role")),
        )
    except (ValueError, TypeError, InvalidIdError):  # a context the authorizer did not write
        return None


def render(response: HttpResponse, *, cors: Mapping[str, str]) -> dict[str, Any]:
    """The proxy result for API Gateway."""
    headers = {**cors, **response.headers}
    if response.body is None:
        body = ""
    else:
        headers.setdefault("Content-Type", response.media_type)
        body = dumps_json(response.body)
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    return {
        "statusCode": response.status,
        "headers": headers,
        "body": body,
        "isBase64Encoded": False,
    }


def cors_headers(request_origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS response headers when the request's Origin is allowed (never `*` by default)."""
    if not request_origin or not allowed:
        return {}
    if "*" not in allowed and request_origin not in allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": "*" if "*" in allowed else request_origin,
        "Access-Control-Expose-Headers": "ETag, Location, Retry-After",
        "Vary": "Origin",
    }
