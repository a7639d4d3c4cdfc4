"""Entrypoints layer: the CLI's client of the KumoCMS API — JSON in and out, problems as errors.

Problem documents (RFC 9457) become one-line CliErrors naming the problem's `code`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from entrypoints.cli.errors import CliError
from entrypoints.cli.transport import (
    USER_AGENT,
    one_line,
    open_request,
    read_all,
    response_headers,
    status_phrase,
)

API_TIMEOUT = 60.0
"""Seconds a socket operation on the API may block."""
MAX_ATTEMPTS = 3
"""Tries of a throttled API call."""
MAX_RETRY_WAIT = 20.0


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
        self._timeout = timeout

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

        429 answers (the request was not processed) are retried, honouring `Retry-After`, as
        are 503 answers to GET.

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
        for attempt in range(1, MAX_ATTEMPTS + 1):
            reply = fetch(method, url, headers=sent_headers, body=data, timeout=self._timeout)
            retryable = reply.status == 429 or (reply.status == 503 and method == "GET")
            if not retryable or attempt == MAX_ATTEMPTS:
                break
            time.sleep(min(MAX_RETRY_WAIT, reply.retry_after or 2 ** (attempt - 1)))
        problem = _problem(reply)
        if problem is not None and problem.code not in allow:
            raise problem
        return reply

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


def fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    timeout: float = API_TIMEOUT,
) -> Reply:
    """One request whose response is small enough to read whole.

    Raises:
        CliError: the server cannot be reached, or the connection broke.
    """
    with open_request(method, url, headers=headers, body=body, timeout=timeout) as response:
        return Reply(response.status, response_headers(response), read_all(response, url))


def _seconds(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())
