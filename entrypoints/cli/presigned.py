"""Entrypoints layer: the CLI carries out the API's upload instructions (PUT, POST, multipart).

Multipart uploads run their parts on threads and ask the API for fresh part URLs when the ones
they hold are missing, expiring or rejected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from entrypoints.cli.api import ApiClient, document_path
from entrypoints.cli.errors import CliError
from entrypoints.cli.progress import SILENT, Progress
from entrypoints.cli.storage import (
    CancelledError,
    FileSlice,
    StorageError,
    post_form,
    put_object,
)
from entrypoints.cli.transport import TransferError

PART_ATTEMPTS = 3
"""Tries of one multipart part."""
PART_URL_BATCH = 100
"""Part URLs asked for at once when the ones at hand run out."""
PART_URL_MARGIN = timedelta(minutes=2)
"""A part URL this close to its expiry is replaced before it is used."""


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
    is sent again with a freshly issued URL, up to PART_ATTEMPTS times.

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
        for attempt in range(1, PART_ATTEMPTS + 1):
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
        raise CliError(f"part {number} failed {PART_ATTEMPTS} times; last: {failure}")

    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="kumocms-part")
    futures: list[Future[dict[str, Any]]] = []
    try:
        futures = [pool.submit(one, number) for number in range(1, count + 1)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None and not isinstance(error, CancelledError):
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
