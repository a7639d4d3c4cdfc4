"""Entrypoints layer: what every API command of the CLI shares — option types, options, a client.

The API commands talk to a KumoCMS API over HTTP (`--api-url`, `--api-key`, or
$KUMOCMS_API_URL and $KUMOCMS_API_KEY).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from entrypoints.cli.api import ApiClient
from entrypoints.cli.errors import CliError

MiB = 1024**2
DIRECT_LIMIT = 4 * MiB
"""The API's default direct-upload limit, for a server without `GET /limits`."""
WAIT_TIMEOUT = 30.0

Run = Callable[[argparse.Namespace], int]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # noqa: SLF001
"""Where commands are registered (`parser.add_subparsers()`)."""


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value

    return parse


def seconds_type(most: float, *, zero: bool = False, most_text: str = "") -> Callable[[str], float]:
    """An argparse type: seconds above 0 (or from 0, with `zero`) and at most `most`."""
    bound = most_text or f"{most:g}"
    wanted = f"from 0 to {bound}" if zero else f"above 0 and at most {bound}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not (value >= 0 if zero else value > 0) or not value <= most:
            raise argparse.ArgumentTypeError(f"seconds must be {wanted}")
        return value

    return parse


seconds = seconds_type(7 * 86400, most_text="a week")
"""An argparse type: seconds above 0, at most a week."""


_SIZE = re.compile(r"(\d+)\s*(?:([kmg])(i?b)?|(b))?", re.IGNORECASE)


def byte_size(text: str) -> int:
    """Bytes: `4194304`, `4MiB`, `4M`, `512k` (K, M and G count in 1024s)."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"not a size such as 4MiB or 4194304: {text!r}")
    unit = (found.group(2) or "").lower()
    return int(found.group(1)) * (1024 ** ("kmg".index(unit) + 1) if unit else 1)


def json_object(text: str) -> dict[str, Any]:
    """An argparse type: a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. \'{"team": "docs"}\'')
    return value


def api_options() -> argparse.ArgumentParser:
    """The parent parser of `--api-url` and `--api-key`."""
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


def transfer_options() -> argparse.ArgumentParser:
    """The parent parser of the options that upload and replace share."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--name", help="the document's file name (default: FILE's name)")
    parent.add_argument(
        "--content-type",
        metavar="TYPE",
        help="its media type (default: guessed from the name's extension)",
    )
    parent.add_argument(
        "--metadata", type=json_object, metavar="JSON", help="user metadata, a JSON object"
    )
    parent.add_argument(
        "--direct-limit",
        type=byte_size,
        default=None,
        metavar="SIZE",
        help=(
            "largest file sent inside the API request; larger ones go through presigned "
            "URLs (default: the API's direct_upload_max_bytes from GET /limits, or 4MiB, "
            "the API's default limit, when it has no such route)"
        ),
    )
    parent.add_argument(
        "--parallel",
        type=int_range(1, 32),
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
        type=seconds,
        default=WAIT_TIMEOUT,
        metavar="SECONDS",
        help="how long --wait waits (default: %(default)s)",
    )
    parent.add_argument("-q", "--quiet", action="store_true", help="print only the document id")
    return parent


def api_client(args: argparse.Namespace) -> ApiClient:
    """A client of the API the options or the environment name (CliError if neither)."""
    url = args.api_url or os.environ.get("KUMOCMS_API_URL", "").strip()
    key = args.api_key or os.environ.get("KUMOCMS_API_KEY", "").strip()
    if not url:
        raise CliError("no API URL: pass --api-url or set KUMOCMS_API_URL")
    if not key:
        raise CliError("no API key: pass --api-key or set KUMOCMS_API_KEY")
    return ApiClient(url, key)


def command(run: Run) -> Run:
    """A command whose unexpected API answers become one-line errors too."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (KeyError, TypeError, AttributeError) as error:
            raise CliError(f"the API answered in an unexpected shape ({error!r})") from None

    return wrapped


def add_command(
    commands: Commands,
    name: str,
    run: Run,
    *,
    parents: list[argparse.ArgumentParser],
    summary: str,
    description: str,
    subject: str | None = None,
) -> argparse.ArgumentParser:
    """Register a command that runs `run`; with a `subject`, its first argument is that ID."""
    parser = commands.add_parser(name, parents=parents, help=summary, description=description)
    if subject is not None:
        parser.add_argument("id", metavar="ID", help=f"the {subject} id")
    parser.set_defaults(run=command(run))
    return parser


def add_group(
    commands: Commands, name: str, *, summary: str, description: str, title: str
) -> Commands:
    """Register a command with subcommands (`users`, `admin`); where to register them."""
    group = commands.add_parser(name, help=summary, description=description)
    return group.add_subparsers(title=title, metavar="COMMAND", required=True)


def add_if_match(parser: argparse.ArgumentParser) -> None:
    """`--if-match VERSION`: the write happens only while the document has that version."""
    parser.add_argument("--if-match", metavar="VERSION", help="only if the version is this")


def add_paging(parser: argparse.ArgumentParser, what: str) -> None:
    """`--limit N`, `--cursor`, `--all` and `--json`: how a listing command pages and prints."""
    parser.add_argument(
        "--limit", type=int_range(1, 100), metavar="N", help=f"{what} per page (1-100)"
    )
    parser.add_argument("--cursor", help="continue from a previous page's next_cursor")
    parser.add_argument("--all", action="store_true", help="follow every page")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def fetch_pages(
    api: ApiClient,
    path: str,
    args: argparse.Namespace,
    query: Mapping[str, object] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The items of one page (from `--cursor`), or of every page with `--all`; the cursor left."""
    items: list[dict[str, Any]] = []
    cursor = args.cursor
    limit = args.limit or (100 if args.all else None)
    while True:
        page = api.call("GET", path, query={**(query or {}), "limit": limit, "cursor": cursor})
        items += page["items"]
        cursor = page.get("next_cursor")
        if not (args.all and cursor):
            return items, cursor
