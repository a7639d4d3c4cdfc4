"""Entrypoints layer: stdlib HTTP connections of the CLI — TLS, streamed bodies, one-line failures.

Exactly the headers a caller gives are sent (plus Host and Content-Length): presigned storage
requests are signed over their headers, so nothing may be added to them.
"""

from __future__ import annotations

import functools
import http.client
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from urllib.parse import urlsplit

from entrypoints.cli.errors import CliError
from kumocms import __version__

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a connection."""
USER_AGENT = f"kumocms-cli/{__version__}"


class TransferError(CliError):
    """No connection could be made, or it broke while a request or response was on the wire."""


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL: what messages name (never a presigned query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@contextmanager
def open_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | Iterator[bytes] | None = None,
    length: int | None = None,
    timeout: float,
) -> Iterator[http.client.HTTPResponse]:
    """Send a request (streaming an iterator body of `length` bytes) and yield the response.

    Exactly the given headers are sent, plus Host and Content-Length.

    Raises:
        CliError: the server cannot be reached, or the connection broke.
    """
    parts = urlsplit(url)
    origin = origin_of(url)
    connection = _connect(url, timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
        except ValueError as error:  # a header value with a line break or beyond Latin-1
            raise CliError(f"cannot send this request: {reason(error)}") from None
        try:
            if isinstance(body, bytes):
                length = len(body)
            if length is not None:
                connection.putheader("Content-Length", str(length))
            connection.endheaders()
            response = _send_body(connection, body)
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(f"{method} to {origin} failed: {reason(error)}") from None
        yield response
    finally:
        connection.close()


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=tls_context()
        )
    elif parts.scheme == "http":
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    else:
        raise CliError(f"cannot fetch a {parts.scheme or 'relative'} URL")
    try:
        connection.timeout = min(timeout, CONNECT_TIMEOUT)
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise TransferError(f"cannot reach {origin_of(url)}: {reason(error)}") from None
    return connection


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every connection (loading CA certificates costs time)."""
    return ssl.create_default_context()


def _send_body(
    connection: http.client.HTTPConnection, body: bytes | Iterator[bytes] | None
) -> http.client.HTTPResponse:
    try:
        if isinstance(body, bytes):
            connection.send(body)
        elif body is not None:
            for chunk in body:
                connection.send(chunk)
    except OSError:
        # Storage may refuse a request early (an expired URL) and close the connection while
        # the body is still being sent; its answer is then the useful error, when it came.
        try:
            return connection.getresponse()
        except (OSError, http.client.HTTPException):
            pass
        raise
    return connection.getresponse()


def read_all(response: http.client.HTTPResponse, url: str) -> bytes:
    """The whole response body (TransferError when the connection breaks)."""
    try:
        return response.read()
    except (OSError, http.client.HTTPException) as error:
        raise TransferError(f"reading from {origin_of(url)} failed: {reason(error)}") from None


def response_headers(response: http.client.HTTPResponse) -> dict[str, str]:
    """A response's headers with lower-cased names."""
    return {name.lower(): value for name, value in response.getheaders()}


def reason(error: BaseException) -> str:
    """Why a request failed, in one line for a message."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, http.client.IncompleteRead):
        return "the connection closed before the whole response arrived"
    if isinstance(error, OSError) and error.strerror:
        return one_line(error.strerror)
    text = one_line(str(error))
    return text or type(error).__name__


def one_line(text: str) -> str:
    """Text with every run of whitespace made one space."""
    return " ".join(text.split())


def status_phrase(status: int) -> str:
    """The reason phrase of a status code (`error` for one HTTP does not define)."""
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
