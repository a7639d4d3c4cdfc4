"""Entrypoints layer: what the CLI prints — JSON and tables on stdout, notes on stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any


def out(text: str) -> None:
    """Print to stdout; a closed pipe (`kumocms list | head`) ends quietly."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(141) from None


def out_json(value: object) -> None:
    """Print JSON on stdout (non-ASCII kept when stdout is UTF-8)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    out(json.dumps(value, indent=2, ensure_ascii=encoding != "utf8"))


def note(text: str) -> None:
    """A `kumocms: ` note on stderr."""
    print(f"kumocms: {text}", file=sys.stderr, flush=True)


def human(size: object) -> str:
    """A size for people: `512 B`, `20.0 MB` (`-` when unknown)."""
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


def table(rows: list[list[str]], header: list[str]) -> str:
    """Rows as left-aligned columns under a header."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def print_document(document: Mapping[str, Any], args: argparse.Namespace) -> None:
    """A document as JSON, or only its id with `--quiet`."""
    if getattr(args, "quiet", False):
        out(str(document["document_id"]))
    else:
        out_json(document)
