"""Entrypoints layer: the one error type CLI commands raise for a clean one-line message."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can act on; printed as `kumocms: error: <message>`."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
