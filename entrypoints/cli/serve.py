"""Entrypoints layer: `kumocms serve` — run the local stack until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from entrypoints.cli.errors import CliError
from entrypoints.cli.options import seconds_type
from entrypoints.observability import configure_logging
from kumocms.errors import InvalidApiKeyError
from kumocms.rules import validate_api_key_format
from kumocms.search import IndexedFields

_SECONDS = seconds_type(86400, zero=True)
_INTERVAL = seconds_type(86400)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `serve`."""
    parser = commands.add_parser(
        "serve",
        help="run KumoCMS locally on the embedded AWS emulator",
        description=(
            "Start the embedded AWS emulator (moto), provision the resources the Terraform "
            "module creates, and serve the HTTP API on loopback. Standard output starts with "
            "the API base URL and the admin key; logs go to standard error. Stop with Ctrl-C "
            "(SIGINT) or SIGTERM."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8080,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--admin-key",
        default=None,
        help="bootstrap admin API key (default: $KUMOCMS_ADMIN_KEY or a new one)",
    )
    parser.add_argument(
        "--restore-delay",
        type=_SECONDS,
        default=5.0,
        metavar="SECONDS",
        help="how long a simulated Glacier restore takes (default: %(default)s)",
    )
    parser.add_argument(
        "--authorizer-cache-ttl",
        type=_SECONDS,
        default=60.0,
        metavar="SECONDS",
        help="authorizer result cache lifetime (default: %(default)s)",
    )
    parser.add_argument(
        "--sync-copy-limit",
        type=_bytes,
        default=None,
        metavar="BYTES",
        help="largest object archived or made permanent within the request; larger ones go "
        "to the transfer worker (default: 268435456)",
    )
    parser.add_argument(
        "--index-field",
        type=_index_field,
        action="append",
        default=None,
        metavar="NAME:TYPE",
        help="declare an indexed metadata field (string, number, boolean or date) that "
        "GET /documents can filter on as meta.NAME; repeatable",
    )
    parser.add_argument(
        "--trash-days",
        type=_count(0),
        default=None,
        metavar="N",
        help="days a deleted document stays in the trash; 0 purges it at the next reconcile "
        "(default: $TRASH_DAYS or 30)",
    )
    parser.add_argument(
        "--max-revisions",
        type=_count(1),
        default=None,
        metavar="N",
        help="revisions kept whatever their age (default: $MAX_REVISIONS or 20)",
    )
    parser.add_argument(
        "--revision-days",
        type=_count(0),
        default=None,
        metavar="N",
        help="revisions younger than this are kept whatever their number "
        "(default: $REVISION_DAYS or 90)",
    )
    parser.add_argument(
        "--reconcile-every",
        type=_INTERVAL,
        default=None,
        metavar="SECONDS",
        help="how often the reconcile job runs (default: $RECONCILE_EVERY or 60)",
    )
    parser.add_argument(
        "--region",
        type=_region,
        default="eu-west-1",
        help="the emulator's AWS region, where everything is provisioned (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.set_defaults(run=run)


def _bytes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of bytes: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 byte")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


_RETENTION_FLAGS = (
    ("trash_days", "TRASH_DAYS", 0),
    ("max_revisions", "MAX_REVISIONS", 1),
    ("revision_days", "REVISION_DAYS", 0),
)
"""Flags whose value reaches the functions as the environment variable of the same name."""


def _index_field(text: str) -> tuple[str, str]:
    name, colon, kind = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError(f"expected NAME:TYPE, not {text!r}")
    try:
        IndexedFields({name: kind})
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name, kind


def _environment(args: argparse.Namespace) -> dict[str, str]:
    """What the flags change in the functions' environment."""
    environment: dict[str, str] = {}
    if getattr(args, "sync_copy_limit", None) is not None:
        environment["SYNC_COPY_LIMIT"] = str(args.sync_copy_limit)
    fields = getattr(args, "index_field", None)
    if fields:
        declared = dict(fields)
        if len(declared) != len(fields):
            raise CliError("--index-field: a field is declared twice")
        try:
            IndexedFields(declared)
        except ValueError as error:
            raise CliError(f"--index-field: {error}") from None
        environment["INDEXED_FIELDS"] = json.dumps(declared)
    for flag, variable, minimum in _RETENTION_FLAGS:
        value = getattr(args, flag, None)
        if value is None and os.environ.get(variable, "").strip():
            try:
                value = _count(minimum)(os.environ[variable].strip())
            except argparse.ArgumentTypeError as error:
                raise CliError(f"${variable}: {error}") from None
        if value is not None:
            environment[variable] = str(value)
    return environment


def _reconcile_every(args: argparse.Namespace) -> float:
    """--reconcile-every, else $RECONCILE_EVERY, else a minute."""
    value = getattr(args, "reconcile_every", None)
    if value is not None:
        return float(value)
    raw = os.environ.get("RECONCILE_EVERY", "").strip()
    if not raw:
        return 60.0
    try:
        return float(_INTERVAL(raw))
    except argparse.ArgumentTypeError as error:
        raise CliError(f"$RECONCILE_EVERY: {error}") from None


def _region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not an AWS region name: {text!r}")
    return text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0 to 65535")
    return value


def run(args: argparse.Namespace, *, out: TextIO = sys.stdout) -> int:
    """Serve until a signal arrives; exit 0 after a clean stop."""
    configure_logging(args.log_level, stream=sys.stderr)
    admin_key = args.admin_key or os.environ.get("KUMOCMS_ADMIN_KEY") or None
    if admin_key is not None:
        try:
            validate_api_key_format(admin_key)
        except InvalidApiKeyError as error:
            raise CliError(f"--admin-key: {error}") from None
    environment = _environment(args)
    # Imported here: the emulator and boto3 are heavy, and every other command starts faster.
    from entrypoints.local.stack import LocalStack, StackOptions  # noqa: PLC0415

    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    stack = LocalStack(
        StackOptions(
            host=args.host,
            port=args.port,
            admin_key=admin_key,
            restore_delay=args.restore_delay,
            authorizer_cache_ttl=args.authorizer_cache_ttl,
            region=getattr(args, "region", "eu-west-1"),
            environment=environment,
            reconcile_every=_reconcile_every(args),
        )
    )
    try:
        try:
            stack.start()
        except OSError as error:
            raise CliError(f"cannot serve on {args.host}:{args.port}: {error.strerror}") from None
        # The first two lines are the contract (§7); what follows is for people and scripts.
        print(stack.base_url, file=out)
        print(f"admin key: {stack.admin_key}", file=out)
        print(f"emulator endpoint: {stack.emulator_endpoint}", file=out)
        print(f"emulator region: {stack.options.region}", file=out)
        examples = _examples(
            stack.base_url, stack.admin_key, stack.emulator_endpoint, stack.options.region
        )
        print(examples, file=out, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", file=sys.stderr)
    return 0


def _examples(
    url: str, key: str, emulator: str = "http://127.0.0.1:5000", region: str = "eu-west-1"
) -> str:
    path_line, kumocms = _cli_in_a_new_terminal()
    return f"""
# Try it (in another terminal):
{path_line}export KUMOCMS_API_URL={url} KUMOCMS_API_KEY={key}
curl -s $KUMOCMS_API_URL/healthcheck
curl -s -H "Authorization: Bearer $KUMOCMS_API_KEY" $KUMOCMS_API_URL/documents
{kumocms} upload README.md --metadata '{{"team": "docs"}}'
{kumocms} list
# The emulator, for the AWS CLI (it takes any credentials):
# AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \\
#   aws --endpoint-url {emulator} --region {region} s3 ls
# OpenAPI: {url}/docs   Stop: Ctrl-C"""


def _cli_in_a_new_terminal() -> tuple[str, str]:
    """The PATH line (ending in a newline, or empty) and the command that run this CLI.

    A new terminal has not activated the virtual environment `serve` runs from (`nox -s serve`
    installs into `.nox/serve`), so its `bin` goes on PATH; without a `kumocms` script beside
    the interpreter, the interpreter runs the module.
    """
    bin_dir = Path(sys.executable).parent
    if (bin_dir / "kumocms").is_file():
        return f'export PATH={shlex.quote(str(bin_dir))}:"$PATH"\n', "kumocms"
    return "", f"{shlex.quote(sys.executable)} -m entrypoints.cli.main"
