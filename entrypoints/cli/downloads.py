"""Entrypoints layer: `kumocms download` — stream a document's content and verify it."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from entrypoints.cli.api import document_path
from entrypoints.cli.errors import CliError
from entrypoints.cli.options import Commands, add_command, api_client
from entrypoints.cli.output import note, out
from entrypoints.cli.progress import show_progress, stderr_progress
from entrypoints.cli.storage import download


def add_download(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `download`."""
    parser = add_command(
        commands,
        "download",
        _run_download,
        parents=[api],
        summary="download a document's content",
        description=(
            "Stream a document's content from its presigned URL into a file named after the "
            "document (or -o), verify its size and SHA-256, and print the path. A file that "
            "fails verification is deleted."
        ),
        subject="document",
    )
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


def _run_download(args: argparse.Namespace) -> int:
    api = api_client(args)
    document: dict[str, Any] = api.call("GET", document_path(args.id))
    link = api.call("GET", document_path(args.id, "content"), query={"redirect": False})
    expected_sha, expected_size = document.get("sha256"), document.get("size")
    progress = stderr_progress(
        int(expected_size or 0),
        label="download",
        enabled=show_progress(args, int(expected_size or 0)),
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
    out(str(target))
    return 0


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
        note(f"document {document_id} declares no sha256; the download was not verified")
