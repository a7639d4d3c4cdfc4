"""Entrypoints layer: what API Gateway REST does in front of the handlers, in-process.

Routing from the route table, the REQUEST authorizer (identity source `Authorization`, results
cached per header value), payload limits (10 MB request, 6 MB Lambda event), base64 bodies for
the route table's binary media types (other bodies, JSON included, as text), `multiValueHeaders`,
and problem+json gateway responses
for the errors API Gateway itself produces. The local HTTP front and the tests drive the real
handlers through it.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from entrypoints.http.apigw import cors_headers
from entrypoints.http.envelope import API_GATEWAY_PAYLOAD_BYTES, LAMBDA_SYNC_PAYLOAD_BYTES
from entrypoints.http.problems import BEARER_CHALLENGE, problem_document
from entrypoints.http.routes import ROUTES, Route, is_binary, match

Handler = Callable[[Mapping[str, Any], Any], Any]
MAX_REQUEST_BYTES = API_GATEWAY_PAYLOAD_BYTES
"""API Gateway REST's payload limit (10 MB)."""
MAX_EVENT_BYTES = LAMBDA_SYNC_PAYLOAD_BYTES
"""A synchronous Lambda invocation's payload limit (6 MB)."""
ACCOUNT = "000000000000"


@attrs.frozen
class GatewayResponse:
    """What goes back to the HTTP client."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@attrs.define
class _Cached:
    policy: Mapping[str, Any]
    context: Mapping[str, Any]
    expires: float


class LambdaContext:
    """The parts of Lambda's context object the handlers read."""

    def __init__(self, function: str, timeout_seconds: float = 30.0) -> None:
        self.function_name = function
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (simulated) timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Gateway:
    """API Gateway REST (proxy integration) in front of in-process Lambda handlers."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        authorizer: Handler,
        *,
        region: str,
        cache_ttl_seconds: float = 300.0,
        cors_allowed_origins: tuple[str, ...] = (),
        stage: str = "local",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handlers = handlers
        self._authorizer = authorizer
        self._cache_ttl = cache_ttl_seconds
        self._cors = cors_allowed_origins
        self._stage = stage
        self._clock = clock
        self._api_arn = f"arn:aws:execute-api:{region}:{ACCOUNT}:local"
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def handle(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        source_ip: str = "127.0.0.1",
    ) -> GatewayResponse:
        """Serve one HTTP request."""
        method = method.upper()
        origin = next((v for k, v in headers if k.lower() == "origin"), None)
        cors = cors_headers(origin, self._cors)
        if method == "OPTIONS":
            return self._preflight(path, headers, cors)
        if len(body) > MAX_REQUEST_BYTES:
            return self._problem(
                413,
                "payload_too_large",
                "requests carry at most 10 MB; use a presigned upload",
                cors,
            )
        route, params, path_known = match(method, path)
        if route is None:
            if path_known:
                allowed = ", ".join(r.method for r in ROUTES if r.pattern.match(path))
                response = self._problem(
                    405, "method_not_allowed", "the method is not allowed on this path", cors
                )
                return attrs.evolve(response, headers={**response.headers, "Allow": allowed})
            return self._problem(404, "not_found", "no such route", cors)
        authorizer_context: Mapping[str, Any] | None = None
        if route.authorized:
            outcome = self._authorize(route, headers, source_ip)
            if isinstance(outcome, GatewayResponse):
                return attrs.evolve(outcome, headers={**cors, **outcome.headers})
            authorizer_context = outcome
        event = self._event(
            route,
            method,
            path,
            params,
            query=query,
            headers=headers,
            body=body,
            source_ip=source_ip,
            authorizer=authorizer_context,
        )
        encoded = json.dumps(event).encode("utf-8")
        if len(encoded) > MAX_EVENT_BYTES:
            return self._problem(
                413,
                "payload_too_large",
                "the request is over the 6 MB Lambda limit; use a presigned upload",
                cors,
            )
        try:
            result = self._handlers[route.function](event, LambdaContext(route.function))
            return self._response(result)
        except Exception:  # noqa: BLE001 - a crashed function is a 502, like API Gateway's
            return self._problem(502, "bad_gateway", "the function failed", cors)

    # ---- authorizer -----------------------------------------------------------------------

    def _authorize(
        self, route: Route, headers: Sequence[tuple[str, str]], source_ip: str
    ) -> Mapping[str, Any] | GatewayResponse:
        token = next((v for k, v in headers if k.lower() == "authorization"), None)
        if not token:
            return self._problem(401, "unauthorized", "a valid API key is required", {})
        now = self._clock()
        with self._lock:
            cached = self._cache.get(token)
            if cached is not None and cached.expires <= now:
                del self._cache[token]
                cached = None
        if cached is None:
            event = {
                "type": "REQUEST",
                "methodArn": self._method_arn(route),
                "resource": route.path,
                "path": route.path,
                "httpMethod": route.method,
                "headers": dict(headers),
                "multiValueHeaders": _multi(headers),
                "requestContext": {"stage": self._stage, "identity": {"sourceIp": source_ip}},
            }
            try:
                result = self._authorizer(event, LambdaContext("authorizer"))
            except Exception as error:  # noqa: BLE001 - mapped like API Gateway does
                if str(error) == "Unauthorized":
                    return self._problem(401, "unauthorized", "a valid API key is required", {})
                return self._problem(
                    503, "service_unavailable", "authorization is unavailable; try again", {}
                )
            cached = _Cached(
                policy=result.get("policyDocument", {}),
                context=result.get("context", {}),
                expires=now + self._cache_ttl,
            )
            if self._cache_ttl > 0:
                with self._lock:
                    self._cache[token] = cached
        if not _allows(cached.policy, self._method_arn(route)):
            return self._problem(403, "forbidden", "the API key's role cannot do this", {})
        return cached.context

    def flush_cache(self) -> None:
        """Forget cached authorizer results (what redeploying a stage does)."""
        with self._lock:
            self._cache.clear()

    def _method_arn(self, route: Route) -> str:
        return f"{self._api_arn}/{self._stage}/{route.method}{route.path}"

    # ---- events and responses -------------------------------------------------------------

    def _event(
        self,
        route: Route,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        query: Sequence[tuple[str, str]],
        headers: Sequence[tuple[str, str]],
        body: bytes,
        source_ip: str,
        authorizer: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        single_query = dict(query)
        context: dict[str, Any] = {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": path,
            "stage": self._stage,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip},
        }
        if authorizer is not None:
            context["authorizer"] = {**authorizer, "principalId": authorizer.get("user_id")}
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        body_text, encoded = _event_body(body, binary=is_binary(content_type))
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers) or None,
            "multiValueHeaders": _multi(headers) or None,
            "queryStringParameters": single_query or None,
            "multiValueQueryStringParameters": _multi(query) or None,
            "pathParameters": dict(params) or None,
            "stageVariables": None,
            "requestContext": context,
            "body": body_text,
            "isBase64Encoded": encoded,
        }

    def _response(self, result: Any) -> GatewayResponse:
        if not isinstance(result, Mapping) or not isinstance(result.get("statusCode"), int):
            return self._problem(502, "bad_gateway", "the function returned no response", {})
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(key)] = ", ".join(str(v) for v in values)
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return GatewayResponse(status=result["statusCode"], headers=headers, body=body)

    def _preflight(
        self, path: str, headers: Sequence[tuple[str, str]], cors: Mapping[str, str]
    ) -> GatewayResponse:
        if not cors or not any(r.pattern.match(path) for r in ROUTES):
            return self._problem(403, "forbidden", "this origin may not call the API", {})
        requested = next(
            (v for k, v in headers if k.lower() == "access-control-request-headers"), ""
        )
        return GatewayResponse(
            status=204,
            headers={
                **cors,
                "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": requested
                or "Authorization, Content-Type, If-Match, Idempotency-Key",
                "Access-Control-Max-Age": "600",
            },
            body=b"",
        )

    @staticmethod
    def _problem(status: int, code: str, detail: str, cors: Mapping[str, str]) -> GatewayResponse:
        document = problem_document(status, code, detail)
        challenge = {"WWW-Authenticate": BEARER_CHALLENGE} if status == 401 else {}
        return GatewayResponse(
            status=status,
            headers={**cors, "Content-Type": "application/problem+json", **challenge},
            body=json.dumps(document).encode("utf-8"),
        )


def _event_body(body: bytes, *, binary: bool) -> tuple[str | None, bool]:
    """The event's `body` and `isBase64Encoded`: base64 only for binary media types.

    A text body that is not UTF-8 cannot travel in a JSON event as it is; the invalid bytes
    become U+FFFD, and the handler sees text that is not what was sent.
    """
    if not body:
        return None, False
    if binary:
        return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", errors="replace"), False


def _multi(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def _allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """Whether an IAM policy allows invoking `method_arn` (Deny wins; `*` matches anything)."""
    allowed = False
    for statement in policy.get("Statement", []):
        resources = statement.get("Resource", [])
        if isinstance(resources, str):
            resources = [resources]
        if any(_arn_matches(pattern, method_arn) for pattern in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _arn_matches(pattern: str, arn: str) -> bool:
    return fnmatch.fnmatchcase(arn, pattern)
