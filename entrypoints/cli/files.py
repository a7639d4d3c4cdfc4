"""Entrypoints layer: the local file an upload sends — checked, named, typed and hashed."""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import stat
from dataclasses import dataclass
from pathlib import Path

from entrypoints.cli.errors import CliError
from entrypoints.cli.progress import Progress
from entrypoints.cli.storage import CHUNK_SIZE

_COMPRESSION_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}


@dataclass(frozen=True)
class Source:
    """A regular file the user named, with the name and media type to declare."""

    path: Path
    size: int
    file_name: str
    content_type: str


def read_source(args: argparse.Namespace) -> Source:
    """The file named by `args.file`, checked readable (CliError if not)."""
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
    return Source(
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


def hash_file(source: Source, progress: Progress) -> str:
    """The file's SHA-256 hex, read in chunks (CliError when it cannot be read)."""
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
