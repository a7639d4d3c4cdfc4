"""Entrypoints layer: the CLI's client of the KumoCMS API — JSON in and out, problems as errors.

Problem documents (RFC 9457) become one-line CliErrors naming the problem's `code`. Requests
go through one urllib3 pool (kept-alive connections, verified TLS); urllib3's Retry tries a
request again only when the API cannot have acted on it, honouring `Retry-After`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, SSLError
from urllib3.util import Retry, Timeout

from entrypoints.cli.errors import CliError
from entrypoints.cli.transport import (
    CONNECT_TIMEOUT,
    USER_AGENT,
    TransferError,
    one_line,
    origin_of,
    reason,
    status_phrase,
    tls_context,
)

API_TIMEOUT = 60.0
"""Seconds a socket operation on the API may block."""
MAX_ATTEMPTS = 3
"""Tries of a throttled API call."""
MAX_RETRY_WAIT = 20.0
"""The longest pause between tries, whatever `Retry-After` asks for."""


class ApiError(CliError):
    """The API answered with a problem document (or another error status)."""

    def __init__(
        self, status: int, code: str, detail: str, *, retry_after: int | None = None
    ) -> None:
        hint = f" (retry after {retry_after} s)" if retry_after is not None else ""
        super().__init__(f"{status} {code}: {detail}{hint}")
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reply:
    """One HTTP response read whole (API responses are small)."""

    status: int
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when it is empty).

        Raises:
            CliError: the body is not JSON.
        """
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            raise CliError(f"the API answered {self.status} with a body that is not JSON") from None

    @property
    def retry_after(self) -> int | None:
        """The `Retry-After` header in seconds, when it is a number."""
        return _seconds(self.headers.get("retry-after"))


class ApiClient:
    """Calls one KumoCMS API with one API key."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = API_TIMEOUT) -> None:
        """Check the URL and key.

        Raises:
            CliError: the URL is not http(s) or the key cannot be sent in a header.
        """
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CliError(f"the API URL must be an http:// or https:// URL, not {base_url!r}")
        if parts.query or parts.fragment:
            raise CliError("the API URL must not carry a query or fragment")
        if not api_key.isascii() or not api_key.isprintable() or not api_key.strip():
            raise CliError("the API key must be printable ASCII")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._api_key = api_key.strip()
        self._limits: dict[str, Any] | None = None
        self._limits_read = False
        self._pool = urllib3.PoolManager(
            maxsize=4,
            timeout=Timeout(connect=min(timeout, CONNECT_TIMEOUT), read=timeout),
            ssl_context=tls_context(),
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        query: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        media_type: str = "application/json",
        allow: Collection[str] = (),
    ) -> Reply:
        """Send one request; a problem whose code is not in `allow` raises.

        429 answers (the request was not processed) are retried, as are 503 answers to GET,
        honouring `Retry-After` (see `retries`).

        Raises:
            ApiError: the API answered with an error (its problem's status, code and detail).
            CliError: the API cannot be reached.
        """
        url = self.base_url + path
        if query:
            pairs = {k: _query_value(v) for k, v in query.items() if v is not None}
            if pairs:
                url += "?" + urlencode(pairs)
        sent_headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json, application/problem+json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            sent_headers["Content-Type"] = media_type
        elif method in ("POST", "PUT", "PATCH"):
            data = b""
        reply = self._send(method, url, headers=sent_headers, body=data)
        problem = _problem(reply)
        if problem is not None and problem.code not in allow:
            raise problem
        return reply

    def _send(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers=dict(headers),
                retries=retries(method),
                redirect=False,
            )
        except ValueError as error:  # a header value with a line break or beyond Latin-1
            raise CliError(f"cannot send this request: {reason(error)}") from None
        except urllib3.exceptions.HTTPError as error:
            raise _failure(method, url, error) from None
        names = {name.lower(): value for name, value in response.headers.items()}
        return Reply(response.status, names, response.data)

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        query: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        media_type: str = "application/json",
    ) -> Any:
        """Send one request and return the JSON it answered (None for no content).

        Raises:
            ApiError: the API answered with an error.
            CliError: the API cannot be reached or answered something that is not JSON.
        """
        reply = self.request(
            method, path, body=body, query=query, headers=headers, media_type=media_type
        )
        return reply.json()

    def limits(self) -> Mapping[str, Any] | None:
        """The server's `GET /limits`, asked once per client (one per run).

        None when the server has no such route (404: a deployment older than the route) or
        answers something that is not a JSON object.

        Raises:
            ApiError: the API answered with another error.
            CliError: the API cannot be reached.
        """
        if not self._limits_read:
            try:
                answer = self.call("GET", "/limits")
            except ApiError as error:
                if error.status != HTTPStatus.NOT_FOUND:
                    raise
                answer = None
            self._limits = answer if isinstance(answer, dict) else None
            self._limits_read = True
        return self._limits


def document_path(document_id: str, *rest: str) -> str:
    """`/documents/{id}[/rest...]` with the id escaped (it comes from the command line)."""
    return "/".join(["/documents", quote(document_id, safe=""), *rest])


def user_path(user_id: str, *rest: str) -> str:
    """`/users/{id}[/rest...]` with the id escaped."""
    return "/".join(["/users", quote(user_id, safe=""), *rest])


def if_match_header(version: str | None) -> dict[str, str]:
    """`If-Match: "<version>"` from `3` or `"3"` (nothing when None)."""
    if version is None:
        return {}
    value = version.strip()
    return {"If-Match": value if value.startswith(('"', "W/")) or value == "*" else f'"{value}"'}


def _problem(reply: Reply) -> ApiError | None:
    media = reply.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/problem+json":
        try:
            document = json.loads(reply.body)
        except (UnicodeDecodeError, ValueError):
            document = None
        if isinstance(document, dict):
            code = str(document.get("code") or "error")
            detail = str(document.get("detail") or document.get("title") or "").strip()
            status = document.get("status")
            if not isinstance(status, int) or isinstance(status, bool):
                status = reply.status
            return ApiError(status, code, one_line(detail), retry_after=reply.retry_after)
    if reply.status >= 400:
        code = status_phrase(reply.status).lower().replace(" ", "_").replace("-", "_")
        return ApiError(reply.status, code, "the API answered without a problem document")
    return None


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _ApiRetry(Retry):
    """urllib3's Retry with our bounds: only the listed statuses, and a capped `Retry-After`."""

    # A Retry-After alone makes no status retryable (it would retry a POST's 503).
    RETRY_AFTER_STATUS_CODES = frozenset()

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        """The server's `Retry-After` in seconds, at most MAX_RETRY_WAIT."""
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_WAIT)


def retries(method: str) -> Retry:
    """When a request is tried again: only when the API cannot have acted on it.

    A 429 (throttled before it was processed) is retried whatever the method; a 503 only for
    GET, since a write may have happened behind it. The pause is the answer's `Retry-After`
    (capped at MAX_RETRY_WAIT), else an exponential backoff. Connection failures are not
    retried: a request that broke on the wire may have been processed.
    """
    return _ApiRetry(
        total=MAX_ATTEMPTS - 1,
        connect=0,
        read=0,
        other=0,
        redirect=False,
        status_forcelist=(429, 503) if method == "GET" else (429,),
        allowed_methods=None,
        backoff_factor=1.0,
        backoff_max=MAX_RETRY_WAIT,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def _failure(method: str, url: str, error: urllib3.exceptions.HTTPError) -> CliError:
    """A one-line error naming the API's origin (urllib3's own texts name pools and retries)."""
    cause: BaseException = error
    if isinstance(error, MaxRetryError) and error.reason is not None:
        cause = error.reason
    if isinstance(cause, (ConnectTimeoutError, SSLError)):  # also NewConnectionError
        return TransferError(f"cannot reach {origin_of(url)}: {reason(_innermost(cause))}")
    return TransferError(f"{method} to {origin_of(url)} failed: {reason(_innermost(cause))}")


def _innermost(error: BaseException) -> BaseException:
    """The socket or protocol error that urllib3 wrapped (as a cause, or as an argument)."""
    for _ in range(8):
        inner = error.__cause__ or next(
            (arg for arg in error.args if isinstance(arg, BaseException)), None
        )
        if inner is None:
            break
        error = inner
    return error


def _seconds(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())
