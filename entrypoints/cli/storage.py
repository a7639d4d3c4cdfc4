"""Entrypoints layer: the CLI's requests to presigned storage URLs — streamed PUT, form POST, GET.

Transfers stream through fixed-size chunks, so no file is ever held in memory whole.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin

from entrypoints.cli.errors import CliError
from entrypoints.cli.transport import (
    USER_AGENT,
    TransferError,
    one_line,
    open_request,
    origin_of,
    read_all,
    reason,
    response_headers,
    status_phrase,
)

MiB = 1024**2
CHUNK_SIZE = 1 * MiB
"""Bytes read from a file or a response at a time."""
TRANSFER_TIMEOUT = 120.0
"""Seconds a socket operation on a storage transfer may block."""
MAX_REDIRECTS = 5

ProgressCallback = Callable[[int], None]


class StorageError(CliError):
    """Storage refused a presigned request."""

    def __init__(self, status: int, code: str, message: str) -> None:
        text = f"storage answered {status} {code}" + (f": {message}" if message else "")
        super().__init__(text)
        self.status = status
        self.code = code


class Sink(Protocol):
    """Where a download is written."""

    def write(self, data: bytes, /) -> object:
        """Write bytes."""
        ...


class CancelledError(Exception):
    """Another part failed; this one stops sending."""


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
                        raise CancelledError
                    chunk = file.read(min(CHUNK_SIZE, left))
                    if not chunk:
                        raise CliError(f"{self.path} changed while it was being uploaded")
                    left -= len(chunk)
                    yield chunk
        except OSError as error:
            raise CliError(f"cannot read {self.path}: {reason(error)}") from None


def _storage_error(status: int, body: bytes) -> StorageError:
    text = body[:4096].decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]{1,100})</Code>", text)
    message = re.search(r"<Message>([^<]{1,300})</Message>", text)
    phrase = status_phrase(status)
    return StorageError(
        status,
        code.group(1) if code else phrase,
        one_line(message.group(1)) if message else "",
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
        body = read_all(response, url)
        if not 200 <= response.status < 300:
            raise _storage_error(response.status, body)
        return response_headers(response)


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
        reply = read_all(response, url)
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
                raise _storage_error(response.status, read_all(response, url))
            try:
                while chunk := response.read(CHUNK_SIZE):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if on_received is not None:
                        on_received(len(chunk))
            except (OSError, http.client.HTTPException) as error:
                raise TransferError(
                    f"download from {origin_of(url)} failed: {reason(error)}"
                ) from None
            return digest.hexdigest(), size
    raise CliError(f"download from {origin_of(url)} redirected too often")
