"""Entrypoints layer: the `kumocms` console script — argument parsing and error reporting."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from entrypoints.cli import admin, documents, downloads, keeping, serve, uploads, users
from entrypoints.cli.errors import CliError
from entrypoints.cli.options import api_options, transfer_options
from kumocms import __version__


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command."""
    parser = argparse.ArgumentParser(
        prog="kumocms",
        description="KumoCMS: run the local stack, or use a KumoCMS API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    serve.add_parser(commands)
    api, transfer = api_options(), transfer_options()
    uploads.add_upload(commands, api, transfer)
    documents.add_get(commands, api)
    downloads.add_download(commands, api)
    documents.add_list(commands, api)
    documents.add_patch(commands, api)
    uploads.add_replace(commands, api, transfer)
    documents.add_archive(commands, api)
    documents.add_restore(commands, api)
    documents.add_delete(commands, api)
    keeping.add_trash(commands, api)
    keeping.add_revisions(commands, api)
    keeping.add_history(commands, api)
    keeping.add_holds(commands, api)
    users.add_parser(commands, api)
    admin.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; errors are one line on stderr, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(run(args) or 0)
    except CliError as error:
        print(f"kumocms: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("kumocms: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
