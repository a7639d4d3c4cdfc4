"""Entrypoints layer: the API client commands of `kumocms` — documents, users and admin bootstrap.

Every command but `admin bootstrap` talks to a KumoCMS API over HTTP (`--api-url`,
`--api-key`, or $KUMOCMS_API_URL and $KUMOCMS_API_KEY). `admin bootstrap` writes the first
admin straight into a deployed users table with the AWS credentials of the caller.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import mimetypes
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entrypoints.cli.client import (
    CHUNK_SIZE,
    ApiClient,
    ApiError,
    Progress,
    document_path,
    download,
    follow_upload,
    if_match_header,
    stderr_progress,
    user_path,
)
from entrypoints.cli.errors import CliError

MiB = 1024**2
DIRECT_LIMIT = 4 * MiB
"""The API's default direct-upload limit; larger files go through presigned URLs."""
PROGRESS_MIN = 4 * MiB
"""Transfers at most this big show no progress bar."""
WAIT_TIMEOUT = 30.0
STATES = ("pending", "active", "archived", "restoring", "restored", "rejected")
ROLES = ("reader", "editor", "admin")
TIERS = ("Standard", "Expedited", "Bulk")
STORAGE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
_COMPRESSION_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}

Run = Callable[[argparse.Namespace], int]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the API client commands and `admin bootstrap`."""
    api = _api_options()
    transfer = _transfer_options()
    _add_upload(commands, api, transfer)
    _add_get(commands, api)
    _add_download(commands, api)
    _add_list(commands, api)
    _add_patch(commands, api)
    _add_replace(commands, api, transfer)
    _add_archive(commands, api)
    _add_restore(commands, api)
    _add_delete(commands, api)
    _add_users(commands, api)
    _add_admin(commands)


# ---- option types ---------------------------------------------------------------------------


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError("seconds must be above 0 and at most a week")
    return value


_SIZE = re.compile(r"(\d+)\s*(?:([kmg])(i?b)?|(b))?", re.IGNORECASE)


def _byte_size(text: str) -> int:
    """Bytes: `4194304`, `4MiB`, `4M`, `512k` (K, M and G count in 1024s)."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"not a size such as 4MiB or 4194304: {text!r}")
    unit = (found.group(2) or "").lower()
    return int(found.group(1)) * (1024 ** ("kmg".index(unit) + 1) if unit else 1)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. \'{"team": "docs"}\'')
    return value


# ---- shared options -------------------------------------------------------------------------


def _api_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("API")
    group.add_argument(
        "--api-url",
        metavar="URL",
        help="the API's base URL (default: $KUMOCMS_API_URL)",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help=(
            "the API key (default: $KUMOCMS_API_KEY; prefer the variable, since arguments "
            "show in process lists)"
        ),
    )
    return parent


def _transfer_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--name", help="the document's file name (default: FILE's name)")
    parent.add_argument(
        "--content-type",
        metavar="TYPE",
        help="its media type (default: guessed from the name's extension)",
    )
    parent.add_argument(
        "--metadata", type=_json_object, metavar="JSON", help="user metadata, a JSON object"
    )
    parent.add_argument(
        "--direct-limit",
        type=_byte_size,
        default=DIRECT_LIMIT,
        metavar="SIZE",
        help=(
            "largest file sent inside the API request; larger ones go through presigned "
            "URLs (default: 4MiB, the API's default limit)"
        ),
    )
    parent.add_argument(
        "--parallel",
        type=_int_range(1, 32),
        default=4,
        metavar="N",
        help="parts of a multipart upload sent at once (default: %(default)s)",
    )
    parent.add_argument(
        "--no-sha256",
        action="store_true",
        help=(
            "do not hash the file before a presigned upload (one read fewer; the API then "
            "issues a form upload and storage computes the checksum)"
        ),
    )
    parent.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr for large files (default: when stderr is a terminal)",
    )
    parent.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after a presigned upload, wait until storage has confirmed it (default: wait)",
    )
    parent.add_argument(
        "--wait-timeout",
        type=_seconds,
        default=WAIT_TIMEOUT,
        metavar="SECONDS",
        help="how long --wait waits (default: %(default)s)",
    )
    parent.add_argument("-q", "--quiet", action="store_true", help="print only the document id")
    return parent


def _client(args: argparse.Namespace) -> ApiClient:
    url = args.api_url or os.environ.get("KUMOCMS_API_URL", "").strip()
    key = args.api_key or os.environ.get("KUMOCMS_API_KEY", "").strip()
    if not url:
        raise CliError("no API URL: pass --api-url or set KUMOCMS_API_URL")
    if not key:
        raise CliError("no API key: pass --api-key or set KUMOCMS_API_KEY")
    return ApiClient(url, key)


def _command(run: Run) -> Run:
    """A command whose unexpected API answers become one-line errors too."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (KeyError, TypeError, AttributeError) as error:
            raise CliError(f"the API answered in an unexpected shape ({error!r})") from None

    return wrapped


# ---- output ---------------------------------------------------------------------------------


def _out(text: str) -> None:
    """Print to stdout; a closed pipe (`kumocms list | head`) ends quietly."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(141) from None


def _out_json(value: object) -> None:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    _out(json.dumps(value, indent=2, ensure_ascii=encoding != "utf8"))


def _note(text: str) -> None:
    print(f"kumocms: {text}", file=sys.stderr, flush=True)


def _show_progress(args: argparse.Namespace, size: int) -> bool:
    if size <= PROGRESS_MIN or args.progress is False:
        return False
    return bool(args.progress) or sys.stderr.isatty()


def _human(size: object) -> str:
    if not isinstance(size, int):
        return "-"
    if size < 1000:
        return f"{size} B"
    value, unit = size / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


# ---- upload and replace ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    path: Path
    size: int
    file_name: str
    content_type: str


def _source(args: argparse.Namespace) -> _Source:
    path = Path(args.file)
    try:
        info = path.stat()
        if stat.S_ISREG(info.st_mode):
            with path.open("rb"):
                pass
    except OSError as error:
        raise CliError(f"cannot read {args.file}: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CliError(f"cannot read {args.file}: not a regular file")
    name = args.name if args.name is not None else path.name
    return _Source(
        path=path,
        size=info.st_size,
        file_name=name,
        content_type=args.content_type or guess_content_type(name),
    )


def guess_content_type(name: str) -> str:
    """The media type a file name's extension suggests (`application/octet-stream` if none)."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSION_TYPES.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def _hash_file(source: _Source, progress: Progress) -> str:
    digest = hashlib.sha256()
    try:
        with source.path.open("rb") as file:
            while chunk := file.read(CHUNK_SIZE):
                digest.update(chunk)
                progress.add(len(chunk))
    except OSError as error:
        raise CliError(f"cannot read {source.path}: {error.strerror or error}") from None
    finally:
        progress.finish()
    return digest.hexdigest()


def _send_content(
    api: ApiClient,
    method: str,
    path: str,
    *,
    args: argparse.Namespace,
    source: _Source,
    headers: Mapping[str, str],
    may_fall_back: bool,
) -> tuple[dict[str, Any], str | None]:
    """Upload or replace: directly when small, else through the API's upload instructions.

    Returns:
        The document the API answered last, and the sha256 declared for the content.
    """
    fields: dict[str, Any] = {"file_name": source.file_name, "content_type": source.content_type}
    if args.metadata is not None:
        fields["metadata"] = args.metadata
    if source.size <= args.direct_limit:
        sent = _send_direct(
            api,
            method,
            path,
            fields=fields,
            source=source,
            headers=headers,
            may_fall_back=may_fall_back,
        )
        if sent is not None:
            return sent
        _note("the API takes smaller direct uploads; using a presigned upload")
    show = _show_progress(args, source.size)
    sha256: str | None = None
    if not args.no_sha256:
        sha256 = _hash_file(source, stderr_progress(source.size, label="sha256", enabled=show))
        fields["sha256"] = sha256
    document: dict[str, Any] = api.call(
        method, path, {**fields, "size": source.size}, headers=headers
    )
    if document.get("upload") is None:
        return document, sha256
    if method == "POST" and headers.get("Idempotency-Key"):
        # A replayed request answers its first body; the upload may have happened since.
        current: dict[str, Any] = api.call("GET", document_path(document["document_id"]))
        if current["state"] != "pending":
            return current, sha256
    progress = stderr_progress(source.size, label="upload", enabled=show)
    try:
        completed = follow_upload(
            api, document, source.path, size=source.size, parallel=args.parallel, progress=progress
        )
    except CliError as error:
        progress.finish()
        if method == "POST":
            hint = f"document {document['document_id']} stays pending until it expires"
            raise CliError(f"{error} ({hint})", exit_code=error.exit_code) from None
        raise
    return (document if completed is None else completed), sha256


def _send_direct(
    api: ApiClient,
    method: str,
    path: str,
    *,
    fields: Mapping[str, Any],
    source: _Source,
    headers: Mapping[str, str],
    may_fall_back: bool,
) -> tuple[dict[str, Any], str] | None:
    """Send the content inside the request; None when the API wants a presigned upload."""
    try:
        content = source.path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {source.path}: {error.strerror or error}") from None
    digest = hashlib.sha256(content).hexdigest()
    body = {
        **fields,
        "size": len(content),
        "sha256": digest,
        "content": base64.b64encode(content).decode("ascii"),
    }
    try:
        reply = api.request(
            method,
            path,
            body=body,
            headers=headers,
            allow=("payload_too_large",) if may_fall_back else (),
        )
    except ApiError as error:
        if error.code != "payload_too_large":
            raise
        raise CliError(f"{error}; lower --direct-limit") from None
    if reply.status == 413:
        return None
    return reply.json(), digest


def _settle(
    api: ApiClient,
    document: Mapping[str, Any],
    *,
    wait: bool,
    timeout: float,
    replaced_from: int | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """The document once storage has confirmed (or refused) its new content.

    A new document is settled when it is no longer `pending`. A replacement leaves the document
    `active` with its old content until storage confirms the new one, so it is settled when the
    version moves past `replaced_from`: confirmed when the sha256 is the new content's,
    refused otherwise.

    Raises:
        CliError: storage refused the content.
    """
    path = document_path(str(document["document_id"]))

    def outcome(current: Mapping[str, Any]) -> str:
        if current["state"] == "rejected":
            return "rejected"
        if replaced_from is None:
            return "waiting" if current["state"] == "pending" else "done"
        if current["version"] <= replaced_from:
            return "waiting"
        return "done" if sha256 in (None, current["sha256"]) else "rejected"

    current: dict[str, Any] = api.call("GET", path)
    deadline = time.monotonic() + timeout
    pause = 0.2
    while wait and outcome(current) == "waiting" and time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(2.0, pause * 1.5)
        current = api.call("GET", path)
    state = outcome(current)
    document_id = current["document_id"]
    if state == "rejected" and replaced_from is None:
        raise CliError(
            f"document {document_id} was rejected: the uploaded content did not match its "
            "declared size or sha256"
        )
    if state == "rejected":
        raise CliError(
            f"the replacement of {document_id} was not applied: storage received content that "
            "did not match its declared size or sha256 (or another change came first)"
        )
    if wait and state == "waiting":
        what = "replacement" if replaced_from is not None else "upload"
        _note(
            f"the {what} of {document_id} is not confirmed after {timeout:g} s; "
            f"check later with `kumocms get {document_id}`"
        )
    return current


def _print_document(document: Mapping[str, Any], args: argparse.Namespace) -> None:
    if getattr(args, "quiet", False):
        _out(str(document["document_id"]))
    else:
        _out_json(document)


def _add_upload(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    api: argparse.ArgumentParser,
    transfer: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "upload",
        parents=[transfer, api],
        help="upload a file as a new document",
        description=(
            "Upload FILE as a new document. Files up to --direct-limit travel inside the API "
            "request (base64 JSON); larger ones are hashed, declared to the API, and sent "
            "straight to storage with the presigned PUT, form POST or multipart instructions "
            "the API answers. Prints the document as JSON."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the file to upload")
    parser.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="retrying with the same key within 24 hours creates the document only once",
    )
    parser.set_defaults(run=_command(_run_upload))


def _run_upload(args: argparse.Namespace) -> int:
    source = _source(args)
    api = _client(args)
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    document, _ = _send_content(
        api,
        "POST",
        "/documents",
        args=args,
        source=source,
        headers=headers,
        may_fall_back=not headers,
    )
    if document["state"] == "pending":
        document = _settle(api, document, wait=args.wait, timeout=args.wait_timeout)
    _print_document(document, args)
    return 0


def _add_replace(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    api: argparse.ArgumentParser,
    transfer: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "replace",
        parents=[transfer, api],
        help="give a document new content",
        description=(
            "Replace the content of an active document with FILE, the way upload sends it. "
            "Until a presigned replacement is confirmed the old content stays readable. "
            "Without --metadata the metadata is kept."
        ),
    )
    parser.add_argument("id", metavar="ID", help="the document id")
    parser.add_argument("file", metavar="FILE", help="the file with the new content")
    parser.add_argument("--if-match", metavar="VERSION", help="only if the version is this")
    parser.set_defaults(run=_command(_run_replace))


def _run_replace(args: argparse.Namespace) -> int:
    source = _source(args)
    api = _client(args)
    headers = if_match_header(args.if_match)
    document, sha256 = _send_content(
        api,
        "PUT",
        document_path(args.id),
        args=args,
        source=source,
        headers=headers,
        may_fall_back=True,
    )
    if document.get("upload") is not None:
        document = _settle(
            api,
            document,
            wait=args.wait,
            timeout=args.wait_timeout,
            replaced_from=int(document["version"]),
            sha256=sha256,
        )
    _print_document(document, args)
    return 0


# ---- reading --------------------------------------------------------------------------------


def _add_get(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "get",
        parents=[api],
        help="show a document",
        description="Print a document as JSON, with a download link when it is readable.",
    )
    parser.add_argument("id", metavar="ID", help="the document id")
    parser.set_defaults(run=_command(_run_get))


def _run_get(args: argparse.Namespace) -> int:
    _out_json(_client(args).call("GET", document_path(args.id)))
    return 0


def _add_download(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "download",
        parents=[api],
        help="download a document's content",
        description=(
            "Stream a document's content from its presigned URL into a file named after the "
            "document (or -o), verify its size and SHA-256, and print the path. A file that "
            "fails verification is deleted."
        ),
    )
    parser.add_argument("id", metavar="ID", help="the document id")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file or directory to write (default: the document's file name here; - is stdout)",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a file named after the document"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr for large files (default: when stderr is a terminal)",
    )
    parser.set_defaults(run=_command(_run_download))


def _download_target(args: argparse.Namespace, file_name: str) -> Path:
    name = Path(file_name.replace("\\", "/")).name
    if name in ("", ".", ".."):
        name = "download"
    if args.output is None or Path(args.output).is_dir():
        target = Path(args.output or ".") / name
        if target.exists() and not args.force:
            raise CliError(f"{target} exists; pass --force to overwrite it, or -o PATH")
        return target
    target = Path(args.output)
    if not target.parent.is_dir():
        raise CliError(f"cannot write {target}: no such directory")
    return target


def _run_download(args: argparse.Namespace) -> int:
    api = _client(args)
    document: dict[str, Any] = api.call("GET", document_path(args.id))
    link = api.call("GET", document_path(args.id, "content"), query={"redirect": False})
    expected_sha, expected_size = document.get("sha256"), document.get("size")
    progress = stderr_progress(
        int(expected_size or 0),
        label="download",
        enabled=_show_progress(args, int(expected_size or 0)),
    )
    if args.output == "-":
        try:
            sha256, size = download(str(link["url"]), sys.stdout.buffer, on_received=progress.add)
        finally:
            progress.finish()
        _verify(args.id, sha256, size, expected_sha, expected_size, partial=None)
        return 0
    target = _download_target(args, str(document.get("file_name") or ""))
    partial = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
    try:
        # Created like any new file (mode 0666 less the umask), unlike a tempfile's 0600.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise CliError(f"cannot write in {target.parent}: {error.strerror or error}") from None
    sink = os.fdopen(descriptor, "wb")
    try:
        try:
            sha256, size = download(str(link["url"]), sink, on_received=progress.add)
            sink.close()
        finally:
            progress.finish()
        _verify(args.id, sha256, size, expected_sha, expected_size, partial=partial)
        partial.replace(target)
    except BaseException:
        sink.close()
        partial.unlink(missing_ok=True)
        raise
    _out(str(target))
    return 0


def _verify(
    document_id: str,
    sha256: str,
    size: int,
    expected_sha: object,
    expected_size: object,
    *,
    partial: Path | None,
) -> None:
    removed = "; the partial file was deleted" if partial is not None else ""
    if isinstance(expected_size, int) and size != expected_size:
        raise CliError(
            f"download of {document_id} failed verification: got {size} bytes, the document "
            f"has {expected_size}{removed}"
        )
    if isinstance(expected_sha, str) and sha256 != expected_sha.lower():
        raise CliError(
            f"download of {document_id} failed verification: its sha256 is {sha256}, the "
            f"document's is {expected_sha}{removed}"
        )
    if expected_sha is None:
        _note(f"document {document_id} declares no sha256; the download was not verified")


def _add_list(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "list",
        parents=[api],
        help="list documents, newest first",
        description="List documents newest first, as a table or (--json) as the API's page.",
    )
    parser.add_argument(
        "--limit", type=_int_range(1, 100), metavar="N", help="documents per page (1-100)"
    )
    parser.add_argument("--state", choices=STATES, help="only documents in this state")
    parser.add_argument("--cursor", help="continue from a previous page's next_cursor")
    parser.add_argument("--all", action="store_true", help="follow every page")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=_command(_run_list))


def _run_list(args: argparse.Namespace) -> int:
    api = _client(args)
    items: list[dict[str, Any]] = []
    cursor = args.cursor
    limit = args.limit or (100 if args.all else None)
    while True:
        page = api.call(
            "GET", "/documents", query={"limit": limit, "state": args.state, "cursor": cursor}
        )
        items += page["items"]
        cursor = page.get("next_cursor")
        if not (args.all and cursor):
            break
    if args.json:
        _out_json({"items": items, "next_cursor": cursor})
        return 0
    rows = [
        [
            str(item["document_id"]),
            str(item["state"]),
            _human(item.get("size")),
            str(item.get("updated_at") or "-"),
            str(item.get("file_name") or ""),
        ]
        for item in items
    ]
    _out(_table(rows, ["DOCUMENT ID", "STATE", "SIZE", "UPDATED", "NAME"]))
    if cursor:
        _note(f"more documents: pass --all, or --cursor {cursor}")
    return 0


# ---- writing --------------------------------------------------------------------------------


def _add_patch(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "patch",
        parents=[api],
        help="merge-patch a document's metadata",
        description=(
            "Apply a JSON merge patch (RFC 7396) to a document's user metadata: keys set to "
            "null are removed, objects merge. Prints the document."
        ),
    )
    parser.add_argument("id", metavar="ID", help="the document id")
    parser.add_argument("patch", type=_json_object, metavar="JSON", help="the merge patch")
    parser.add_argument("--if-match", metavar="VERSION", help="only if the version is this")
    parser.set_defaults(run=_command(_run_patch))


def _run_patch(args: argparse.Namespace) -> int:
    document = _client(args).call(
        "PATCH",
        document_path(args.id),
        args.patch,
        headers=if_match_header(args.if_match),
        media_type="application/merge-patch+json",
    )
    _out_json(document)
    return 0


def _add_archive(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "archive",
        parents=[api],
        help="move a document's content to Glacier",
        description="Move an active document's content to an archive storage class.",
    )
    parser.add_argument("id", metavar="ID", help="the document id")
    parser.add_argument(
        "--storage-class", choices=STORAGE_CLASSES, default="GLACIER", help="(default: GLACIER)"
    )
    parser.add_argument("--if-match", metavar="VERSION", help="only if the version is this")
    parser.set_defaults(run=_command(_run_archive))


def _run_archive(args: argparse.Namespace) -> int:
    document = _client(args).call(
        "POST",
        document_path(args.id, "archive"),
        {"storage_class": args.storage_class},
        headers=if_match_header(args.if_match),
    )
    _out_json(document)
    return 0


def _add_restore(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "restore",
        parents=[api],
        help="restore archived content",
        description=(
            "Start a restore of an archived document (or extend a restored copy). With --wait, "
            "poll until the content is readable, as often as the API's Retry-After says."
        ),
    )
    parser.add_argument("id", metavar="ID", help="the document id")
    parser.add_argument(
        "--days",
        type=_int_range(1, 365),
        default=1,
        help="how long the restored copy stays (default: %(default)s)",
    )
    parser.add_argument("--tier", choices=TIERS, default="Standard", help="(default: Standard)")
    parser.add_argument(
        "--permanent", action="store_true", help="copy the content back to a hot storage class"
    )
    parser.add_argument("--if-match", metavar="VERSION", help="only if the version is this")
    parser.add_argument("--wait", action="store_true", help="wait until the content is readable")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up waiting after this long (default: no limit)",
    )
    parser.set_defaults(run=_command(_run_restore))


def _run_restore(args: argparse.Namespace) -> int:
    api = _client(args)
    document = api.call(
        "POST",
        document_path(args.id, "restore"),
        {"days": args.days, "tier": args.tier, "permanent": args.permanent},
        headers=if_match_header(args.if_match),
    )
    if args.wait:
        _await_restore(api, args.id, args.timeout)
        document = api.call("GET", document_path(args.id))
    _out_json(document)
    return 0


def _await_restore(api: ApiClient, document_id: str, timeout: float | None) -> None:
    started = time.monotonic()
    content = document_path(document_id, "content")
    while True:
        reply = api.request(
            "GET", content, query={"redirect": False}, allow=("restore_in_progress",)
        )
        if reply.status == 200:
            return
        pause = float(reply.retry_after or 5)
        waited = time.monotonic() - started
        if timeout is not None:
            if waited >= timeout:
                raise CliError(f"document {document_id} is still restoring after {timeout:g} s")
            pause = min(pause, timeout - waited)
        if sys.stderr.isatty():
            _note(f"restoring {document_id}; asking again in {pause:g} s")
        time.sleep(pause)


def _add_delete(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "delete",
        parents=[api],
        help="delete a document",
        description="Delete a document and its content (a pending upload is aborted).",
    )
    parser.add_argument("id", metavar="ID", help="the document id")
    parser.add_argument("--if-match", metavar="VERSION", help="only if the version is this")
    parser.set_defaults(run=_command(_run_delete))


def _run_delete(args: argparse.Namespace) -> int:
    _client(args).call("DELETE", document_path(args.id), headers=if_match_header(args.if_match))
    _out(f"deleted {args.id}")
    return 0


# ---- users ----------------------------------------------------------------------------------


def _add_users(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    users = commands.add_parser(
        "users",
        help="manage users and API keys (admin)",
        description="Manage users and their API keys; needs an admin key.",
    )
    actions = users.add_subparsers(title="user commands", metavar="COMMAND", required=True)
    create = actions.add_parser(
        "create",
        parents=[api],
        help="create a user and their API key",
        description="Create a user; prints them with their API key, which is shown only once.",
    )
    create.add_argument("name", metavar="NAME", help="the user's name")
    create.add_argument("--role", choices=ROLES, required=True, help="what they may do")
    create.set_defaults(run=_command(_run_users_create))
    listing = actions.add_parser(
        "list", parents=[api], help="list users", description="List every user."
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=_command(_run_users_list))
    for name, disabled, text in (
        ("disable", True, "disable a user (their key stops working)"),
        ("enable", False, "enable a disabled user"),
    ):
        change = actions.add_parser(name, parents=[api], help=text, description=text + ".")
        change.add_argument("id", metavar="ID", help="the user id")
        change.set_defaults(run=_command(functools.partial(_run_users_change, disabled=disabled)))
    rotate = actions.add_parser(
        "rotate-key",
        parents=[api],
        help="issue a user a new API key",
        description="Issue a new API key (shown only once); the old one stops working.",
    )
    rotate.add_argument("id", metavar="ID", help="the user id")
    rotate.set_defaults(run=_command(_run_users_rotate))


def _run_users_create(args: argparse.Namespace) -> int:
    user = _client(args).call("POST", "/users", {"name": args.name, "role": args.role})
    _out_json(user)
    _note("the API key is shown only this once")
    return 0


def _run_users_list(args: argparse.Namespace) -> int:
    api = _client(args)
    users: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.call("GET", "/users", query={"limit": 100, "cursor": cursor})
        users += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if args.json:
        _out_json({"items": users, "next_cursor": None})
        return 0
    rows = [
        [
            str(user["user_id"]),
            str(user["role"]),
            "yes" if user.get("disabled") else "no",
            str(user.get("name") or ""),
        ]
        for user in users
    ]
    _out(_table(rows, ["USER ID", "ROLE", "DISABLED", "NAME"]))
    return 0


def _run_users_change(args: argparse.Namespace, *, disabled: bool) -> int:
    _out_json(_client(args).call("PATCH", user_path(args.id), {"disabled": disabled}))
    return 0


def _run_users_rotate(args: argparse.Namespace) -> int:
    _out_json(_client(args).call("POST", user_path(args.id, "keys"), {}))
    _note("the new API key is shown only this once; the old one stops working")
    return 0


# ---- admin bootstrap ------------------------------------------------------------------------


def _add_admin(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser(
        "admin",
        help="operator tasks on a deployment's AWS resources",
        description="Operator tasks that use AWS credentials instead of an API key.",
    )
    actions = admin.add_subparsers(title="admin commands", metavar="COMMAND", required=True)
    bootstrap = actions.add_parser(
        "bootstrap",
        help="create the first admin in a deployed users table",
        description=(
            "Create an admin user directly in a deployment's users table (run once after "
            "`terraform apply`) with boto3's default AWS credentials, and print their API key "
            "once. Refuses when the table already has an enabled admin, unless --force."
        ),
    )
    bootstrap.add_argument(
        "--users-table", required=True, metavar="TABLE", help="the users table's name"
    )
    bootstrap.add_argument("--name", default="admin", help="the admin's name (default: admin)")
    bootstrap.add_argument(
        "--api-key",
        metavar="KEY",
        help="the key to give them, 20-128 printable ASCII characters (default: a new one)",
    )
    bootstrap.add_argument("--region", help="the AWS region (default: boto3's configuration)")
    bootstrap.add_argument(
        "--endpoint-url", metavar="URL", help="a DynamoDB endpoint (an emulator, a VPC endpoint)"
    )
    bootstrap.add_argument(
        "--event-bus",
        metavar="NAME",
        help="publish the UserCreated event on this EventBridge bus (default: not published)",
    )
    bootstrap.add_argument(
        "--force", action="store_true", help="add an admin even when enabled admins exist"
    )
    bootstrap.set_defaults(run=_run_bootstrap)


def _run_bootstrap(args: argparse.Namespace) -> int:
    # boto3 and the adapters load only for this command: the API commands never need them.
    import boto3  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from adapters.aws import client_config  # noqa: PLC0415
    from adapters.dynamodb import DynamoUserRepository  # noqa: PLC0415
    from adapters.eventbridge import EventBridgeEventBus  # noqa: PLC0415
    from adapters.memory import RecordingEventBus  # noqa: PLC0415
    from adapters.system import RandomIds, SystemClock  # noqa: PLC0415
    from entrypoints.bootstrap import Unwired  # noqa: PLC0415
    from entrypoints.http.representations import user_json  # noqa: PLC0415
    from kumocms.errors import KumoError  # noqa: PLC0415
    from kumocms.ports import Ports  # noqa: PLC0415
    from kumocms.usecases.users import bootstrap_admin  # noqa: PLC0415

    try:
        session = boto3.Session(region_name=args.region)
        if session.get_credentials() is None:
            raise CliError(
                "no AWS credentials found (environment, ~/.aws or an instance role); "
                "admin bootstrap writes to DynamoDB directly"
            )
        config = client_config()
        dynamodb = session.client("dynamodb", endpoint_url=args.endpoint_url, config=config)
        users = DynamoUserRepository(dynamodb, args.users_table)
        events: Any = RecordingEventBus()
        if args.event_bus:
            bus = session.client("events", endpoint_url=args.endpoint_url, config=config)
            events = EventBridgeEventBus(bus, args.event_bus)
        ports = Ports(
            blobs=Unwired("blob store"),
            documents=Unwired("document repository"),
            users=users,
            events=events,
            clock=SystemClock(),
            ids=RandomIds(),
            idempotency=Unwired("idempotency store"),
        )
        if not args.force:
            admins = users.count_enabled_admins()
            if admins:
                raise CliError(
                    f"{args.users_table} already has {admins} enabled admin(s); create users "
                    "with `kumocms users create`, or pass --force"
                )
        issued = bootstrap_admin(ports, name=args.name, api_key=args.api_key)
    except KumoError as error:
        raise CliError(f"admin bootstrap failed: {error}") from None
    except (BotoCoreError, ClientError) as error:
        raise CliError(f"admin bootstrap failed: {' '.join(str(error).split())}") from None
    _out_json(user_json(issued.user, api_key=issued.api_key))
    _note("store the API key now: it is shown only this once")
    return 0
