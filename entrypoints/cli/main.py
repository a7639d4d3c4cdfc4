"""Entrypoints layer: the `kumocms` console script — argument parsing and error reporting."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from entrypoints.cli import commands as api_commands
from entrypoints.cli import serve
from entrypoints.cli.errors import CliError
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
    api_commands.add_parsers(commands)
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
