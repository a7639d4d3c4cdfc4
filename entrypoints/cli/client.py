"""Entrypoints layer: a small stdlib HTTP client of the KumoCMS API and of presigned storage URLs.

API calls send and receive JSON and turn problem documents (RFC 9457) into one-line CliErrors
naming the problem's `code`. Transfers to and from storage stream through fixed-size chunks,
so no file is ever held in memory whole; multipart uploads run their parts on threads and ask
the API for fresh part URLs when the ones they hold are missing, expiring or rejected.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import re
import secrets
import ssl
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import quote, urlencode, urljoin, urlsplit

from entrypoints.cli.errors import CliError
from kumocms import __version__

MiB = 1024**2
CHUNK_SIZE = 1 * MiB
"""Bytes read from a file or a response at a time."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a connection."""
API_TIMEOUT = 60.0
"""Seconds a socket operation on the API may block."""
TRANSFER_TIMEOUT = 120.0
"""Seconds a socket operation on a storage transfer may block."""
MAX_REDIRECTS = 5
MAX_ATTEMPTS = 3
"""Tries of a throttled API call, and of one multipart part."""
MAX_RETRY_WAIT = 20.0
PART_URL_BATCH = 100
"""Part URLs asked for at once when the ones at hand run out."""
PART_URL_MARGIN = timedelta(minutes=2)
"""A part URL this close to its expiry is replaced before it is used."""
USER_AGENT = f"kumocms-cli/{__version__}"

ProgressCallback = Callable[[int], None]


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


class StorageError(CliError):
    """Storage refused a presigned request."""

    def __init__(self, status: int, code: str, message: str) -> None:
        text = f"storage answered {status} {code}" + (f": {message}" if message else "")
        super().__init__(text)
        self.status = status
        self.code = code


class TransferError(CliError):
    """No connection could be made, or it broke while a request or response was on the wire."""


class Sink(Protocol):
    """Where a download is written."""

    def write(self, data: bytes, /) -> object:
        """Write bytes."""
        ...


class _CancelledError(Exception):
    """Another part failed; this one stops sending."""


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


class Progress:
    """A one-line progress bar on a text stream, e.g. `upload [#####     ] 52% 10.4/20.0 MB`.

    Thread-safe; redraws at most ten times a second. A None stream makes it silent.
    """

    WIDTH = 30

    def __init__(self, total: int, *, label: str, stream: TextIO | None) -> None:
        self.total = max(total, 0)
        self.label = label
        self._stream = stream
        self._done = 0
        self._lock = threading.Lock()
        self._drawn_at = 0.0
        self._finished = False

    def add(self, count: int) -> None:
        """Count bytes moved (negative when a failed attempt is taken back)."""
        if self._stream is None:
            return
        with self._lock:
            self._done = max(0, self._done + count)
            now = time.monotonic()
            if now - self._drawn_at >= 0.1 or self._done >= self.total:
                self._drawn_at = now
                self._draw()

    def finish(self) -> None:
        """Draw the final state and end the line (once)."""
        if self._stream is None:
            return
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        assert self._stream is not None
        fraction = min(1.0, self._done / self.total) if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + " " * (self.WIDTH - filled)
        self._stream.write(
            f"\r{self.label} [{bar}] {int(fraction * 100):3d}% "
            f"{self._done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        )
        self._stream.flush()


SILENT = Progress(0, label="", stream=None)


@dataclass(frozen=True)
class FileSlice:
    """`length` bytes of a file from `offset`, read in chunks when sent."""

    path: Path
    offset: int
    length: int

    def chunks(self, cancel: threading.Event | None = None) -> Iterator[bytes]:
        """The slice's bytes, CHUNK_SIZE at a time.

        Raises:
            CliError: the file cannot be read or shrank meanwhile.
        """
        try:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                left = self.length
                while left > 0:
                    if cancel is not None and cancel.is_set():
                        raise _CancelledError
                    chunk = file.read(min(CHUNK_SIZE, left))
                    if not chunk:
                        raise CliError(f"{self.path} changed while it was being uploaded")
                    left -= len(chunk)
                    yield chunk
        except OSError as error:
            raise CliError(f"cannot read {self.path}: {_reason(error)}") from None


# ---- the API --------------------------------------------------------------------------------


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
            return ApiError(status, code, _one_line(detail), retry_after=reply.retry_after)
    if reply.status >= 400:
        phrase = HTTPStatus(reply.status).phrase if _known(reply.status) else "error"
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        return ApiError(reply.status, code, "the API answered without a problem document")
    return None


def _known(status: int) -> bool:
    return status in HTTPStatus._value2member_map_


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- HTTP -----------------------------------------------------------------------------------


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
            raise CliError(f"cannot send this request: {_reason(error)}") from None
        try:
            if isinstance(body, bytes):
                length = len(body)
            if length is not None:
                connection.putheader("Content-Length", str(length))
            connection.endheaders()
            response = _send_body(connection, body)
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(f"{method} to {origin} failed: {_reason(error)}") from None
        yield response
    finally:
        connection.close()


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=_tls_context()
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
        raise TransferError(f"cannot reach {origin_of(url)}: {_reason(error)}") from None
    return connection


@functools.cache
def _tls_context() -> ssl.SSLContext:
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
        return Reply(response.status, _headers(response), _read_all(response, url))


def _read_all(response: http.client.HTTPResponse, url: str) -> bytes:
    try:
        return response.read()
    except (OSError, http.client.HTTPException) as error:
        raise TransferError(f"reading from {origin_of(url)} failed: {_reason(error)}") from None


def _headers(response: http.client.HTTPResponse) -> dict[str, str]:
    return {name.lower(): value for name, value in response.getheaders()}


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, http.client.IncompleteRead):
        return "the connection closed before the whole response arrived"
    if isinstance(error, OSError) and error.strerror:
        return _one_line(error.strerror)
    text = _one_line(str(error))
    return text or type(error).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _seconds(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


# ---- storage --------------------------------------------------------------------------------


def _storage_error(status: int, body: bytes) -> StorageError:
    text = body[:4096].decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]{1,100})</Code>", text)
    message = re.search(r"<Message>([^<]{1,300})</Message>", text)
    phrase = HTTPStatus(status).phrase if _known(status) else "error"
    return StorageError(
        status,
        code.group(1) if code else phrase,
        _one_line(message.group(1)) if message else "",
    )


def _counted(chunks: Iterator[bytes], on_sent: ProgressCallback | None) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        if on_sent is not None:
            on_sent(len(chunk))


def put_object(
    url: str,
    headers: Mapping[str, str],
    source: FileSlice,
    *,
    on_sent: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, str]:
    """PUT a file slice to a presigned URL with exactly `headers`; the response headers.

    Raises:
        StorageError: storage refused it.
        TransferError: the connection broke.
        CliError: storage cannot be reached, or the file cannot be read.
    """
    with open_request(
        "PUT",
        url,
        headers=headers,
        body=_counted(source.chunks(cancel), on_sent),
        length=source.length,
        timeout=TRANSFER_TIMEOUT,
    ) as response:
        body = _read_all(response, url)
        if not 200 <= response.status < 300:
            raise _storage_error(response.status, body)
        return _headers(response)


def post_form(
    url: str,
    fields: Mapping[str, str],
    source: FileSlice,
    *,
    file_name: str,
    on_sent: ProgressCallback | None = None,
) -> None:
    """POST a presigned form: its fields in order, then the file last as field `file`.

    Raises:
        StorageError: storage refused it.
        CliError: storage cannot be reached, the connection broke, or the file cannot be read.
    """
    boundary = "kumocms-" + secrets.token_hex(16)
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'.encode()
        + str(value).encode("utf-8")
        + b"\r\n"
        for name, value in fields.items()
    )
    head += (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{_quoted(file_name)}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _counted(source.chunks(), on_sent)
        yield tail

    with open_request(
        "POST",
        url,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "User-Agent": USER_AGENT,
        },
        body=body(),
        length=len(head) + source.length + len(tail),
        timeout=TRANSFER_TIMEOUT,
    ) as response:
        reply = _read_all(response, url)
        if not 200 <= response.status < 300:
            raise _storage_error(response.status, reply)


def _quoted(text: str) -> str:
    """A form parameter value that cannot break out of its quotes or its line."""
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in text)


def download(
    url: str, sink: Sink, *, on_received: ProgressCallback | None = None
) -> tuple[str, int]:
    """Stream a presigned GET (following redirects) into `sink`; the SHA-256 hex and size.

    Raises:
        StorageError: storage refused it.
        CliError: storage cannot be reached, or the connection broke.
    """
    digest = hashlib.sha256()
    size = 0
    for _ in range(MAX_REDIRECTS + 1):
        with open_request(
            "GET", url, headers={"User-Agent": USER_AGENT}, timeout=TRANSFER_TIMEOUT
        ) as response:
            location = response.getheader("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise _storage_error(response.status, _read_all(response, url))
            try:
                while chunk := response.read(CHUNK_SIZE):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if on_received is not None:
                        on_received(len(chunk))
            except (OSError, http.client.HTTPException) as error:
                raise TransferError(
                    f"download from {origin_of(url)} failed: {_reason(error)}"
                ) from None
            return digest.hexdigest(), size
    raise CliError(f"download from {origin_of(url)} redirected too often")


# ---- upload instructions --------------------------------------------------------------------


def follow_upload(
    api: ApiClient,
    document: Mapping[str, Any],
    path: Path,
    *,
    size: int,
    parallel: int = 4,
    progress: Progress = SILENT,
) -> dict[str, Any] | None:
    """Carry out a document's `upload` instructions with the `size` bytes of the file at `path`.

    (During a replacement the document still describes its old content, so the size declared
    in the request is passed rather than read from the document.)

    Returns:
        The document after a multipart upload was completed (its content is confirmed then),
        or None after a PUT or POST upload (storage confirms those asynchronously).

    Raises:
        CliError: storage or the API refused a step, or the instructions are unknown.
    """
    instructions = document.get("upload")
    document_id = str(document.get("document_id"))
    if not isinstance(instructions, dict):
        raise CliError(f"the API gave no upload instructions for document {document_id}")
    method = instructions.get("method")
    whole = FileSlice(path, 0, size)
    if method == "PUT":
        put_object(
            str(instructions["url"]), dict(instructions["headers"]), whole, on_sent=progress.add
        )
        progress.finish()
        return None
    if method == "POST":
        post_form(
            str(instructions["url"]),
            dict(instructions["fields"]),
            whole,
            file_name=str(document.get("file_name") or path.name),
            on_sent=progress.add,
        )
        progress.finish()
        return None
    if method == "MULTIPART":
        parts = upload_parts(
            api, document_id, instructions, path, size=size, parallel=parallel, progress=progress
        )
        progress.finish()
        completed: dict[str, Any] = api.call(
            "POST", document_path(document_id, "uploads", "complete"), {"parts": parts}
        )
        return completed
    raise CliError(f"unknown upload method {method!r}; is this client older than the API?")


class _PartUrls:
    """Part URLs of one multipart upload: handed out, then re-issued when missing or stale."""

    def __init__(
        self, api: ApiClient, document_id: str, count: int, instructions: Mapping[str, Any]
    ) -> None:
        self._api = api
        self._document_id = document_id
        self._count = count
        self._lock = threading.Lock()
        self._urls: dict[int, tuple[str, datetime | None]] = {}
        self._remember(instructions.get("parts") or [], instructions.get("expires_at"))

    def get(self, number: int, *, fresh: bool = False) -> str:
        """The URL for part `number`; `fresh` asks the API for a new one first."""
        with self._lock:
            if fresh or not self._usable(number):
                wanted = [number]
                if not fresh:
                    last = min(self._count, number + PART_URL_BATCH - 1)
                    wanted += [n for n in range(number + 1, last + 1) if not self._usable(n)]
                self._issue(wanted)
            if number not in self._urls:
                raise CliError(f"the API issued no URL for part {number}")
            return self._urls[number][0]

    def _usable(self, number: int) -> bool:
        found = self._urls.get(number)
        if found is None:
            return False
        expires_at = found[1]
        return expires_at is None or expires_at - PART_URL_MARGIN > datetime.now(UTC)

    def _issue(self, numbers: list[int]) -> None:
        issued = self._api.call(
            "POST",
            document_path(self._document_id, "uploads", "parts"),
            {"part_numbers": numbers},
        )
        if not isinstance(issued, dict):
            raise CliError("the API answered part URLs in an unexpected shape")
        self._remember(issued.get("parts") or [], issued.get("expires_at"))

    def _remember(self, parts: list[Any], expires_at: object) -> None:
        moment = _timestamp(expires_at)
        for part in parts:
            self._urls[int(part["part_number"])] = (str(part["url"]), moment)


def upload_parts(
    api: ApiClient,
    document_id: str,
    instructions: Mapping[str, Any],
    path: Path,
    *,
    size: int,
    parallel: int,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Upload every part on `parallel` threads; the `{part_number, etag}` list to complete.

    A part whose URL is refused (an expired signature answers 403) or whose connection breaks
    is sent again with a freshly issued URL, up to MAX_ATTEMPTS times.

    Raises:
        CliError: a part failed for good (the other parts are stopped).
    """
    part_size = int(instructions["part_size"])
    count = -(-size // part_size)
    urls = _PartUrls(api, document_id, count, instructions)
    cancel = threading.Event()

    def one(number: int) -> dict[str, Any]:
        offset = (number - 1) * part_size
        piece = FileSlice(path, offset, min(part_size, size - offset))
        failure: CliError | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            sent = 0

            def count_sent(n: int) -> None:
                nonlocal sent
                sent += n
                progress.add(n)

            try:
                url = urls.get(number, fresh=attempt > 1)
                headers = put_object(url, {}, piece, on_sent=count_sent, cancel=cancel)
            except (StorageError, TransferError) as error:
                progress.add(-sent)
                if isinstance(error, StorageError) and not _retryable(error):
                    raise
                failure = error
                if not (isinstance(error, StorageError) and error.status == 403):
                    time.sleep(min(5.0, 0.5 * 2**attempt))  # a busy or flaky endpoint
                continue
            etag = headers.get("etag")
            if not etag:
                raise CliError(f"storage returned no ETag for part {number}")
            return {"part_number": number, "etag": etag}
        raise CliError(f"part {number} failed {MAX_ATTEMPTS} times; last: {failure}")

    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="kumocms-part")
    futures: list[Future[dict[str, Any]]] = []
    try:
        futures = [pool.submit(one, number) for number in range(1, count + 1)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None and not isinstance(error, _CancelledError):
                raise error
        return [future.result() for future in futures]
    finally:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _retryable(error: StorageError) -> bool:
    """Refusals a fresh URL or a second try can cure: expiry (403), timeouts, 5xx."""
    return error.status in (403, 500, 502, 503, 504) or error.code == "RequestTimeout"


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stderr_progress(total: int, *, label: str, enabled: bool) -> Progress:
    """A progress bar on stderr when `enabled`, else a silent one."""
    return Progress(total, label=label, stream=sys.stderr if enabled else None)
