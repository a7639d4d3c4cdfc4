"""Entrypoints layer: `kumocms upload` and `kumocms replace` — direct when small, else presigned.

Files up to the API's direct-upload limit (`GET /limits`, read once per run; `--direct-limit`
overrides it) travel inside the API request; larger ones are hashed, declared to the API, and
sent straight to storage with the upload instructions the API answers.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import time
from collections.abc import Mapping
from typing import Any

from entrypoints.cli.api import ApiClient, ApiError, document_path, if_match_header
from entrypoints.cli.errors import CliError
from entrypoints.cli.files import Source, hash_file, read_source
from entrypoints.cli.options import (
    DIRECT_LIMIT,
    Commands,
    add_command,
    add_if_match,
    api_client,
)
from entrypoints.cli.output import note, print_document
from entrypoints.cli.presigned import follow_upload
from entrypoints.cli.progress import show_progress, stderr_progress


def add_upload(
    commands: Commands,
    api: argparse.ArgumentParser,
    transfer: argparse.ArgumentParser,
) -> None:
    """Register `upload`."""
    parser = add_command(
        commands,
        "upload",
        _run_upload,
        parents=[transfer, api],
        summary="upload a file as a new document",
        description=(
            "Upload FILE as a new document. Files up to the API's direct-upload limit (GET "
            "/limits, or --direct-limit) travel inside the API request (base64 JSON); larger "
            "ones are hashed, declared to the API, and sent straight to storage with the "
            "presigned PUT, form POST or multipart instructions the API answers. Prints the "
            "document as JSON."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the file to upload")
    parser.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="retrying with the same key within 24 hours creates the document only once",
    )


def _run_upload(args: argparse.Namespace) -> int:
    source = read_source(args)
    api = api_client(args)
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
    print_document(document, args)
    return 0


def add_replace(
    commands: Commands,
    api: argparse.ArgumentParser,
    transfer: argparse.ArgumentParser,
) -> None:
    """Register `replace`."""
    parser = add_command(
        commands,
        "replace",
        _run_replace,
        parents=[transfer, api],
        summary="give a document new content",
        description=(
            "Replace the content of an active document with FILE, the way upload sends it. "
            "Until a presigned replacement is confirmed the old content stays readable. "
            "Without --metadata the metadata is kept."
        ),
        subject="document",
    )
    parser.add_argument("file", metavar="FILE", help="the file with the new content")
    add_if_match(parser)


def _run_replace(args: argparse.Namespace) -> int:
    source = read_source(args)
    api = api_client(args)
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
    print_document(document, args)
    return 0


def _send_content(
    api: ApiClient,
    method: str,
    path: str,
    *,
    args: argparse.Namespace,
    source: Source,
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
    if source.size <= direct_limit(api, args.direct_limit):
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
        note("the API takes smaller direct uploads; using a presigned upload")
    show = show_progress(args, source.size)
    sha256: str | None = None
    if not args.no_sha256:
        sha256 = hash_file(source, stderr_progress(source.size, label="sha256", enabled=show))
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


def direct_limit(api: ApiClient, override: int | None) -> int:
    """The largest file to send inside the request.

    `--direct-limit` when given, else the server's `direct_upload_max_bytes`, else (a server
    without `GET /limits`) the API's default.
    """
    if override is not None:
        return override
    limits = api.limits()
    value = None if limits is None else limits.get("direct_upload_max_bytes")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DIRECT_LIMIT


def _send_direct(
    api: ApiClient,
    method: str,
    path: str,
    *,
    fields: Mapping[str, Any],
    source: Source,
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
        note(
            f"the {what} of {document_id} is not confirmed after {timeout:g} s; "
            f"check later with `kumocms get {document_id}`"
        )
    return current
