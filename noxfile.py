"""Task runner: every check CI runs, and the local stack, are nox sessions."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

PACKAGES = ["kumocms", "adapters", "entrypoints"]
DEV = ".[dev]"


def _pytest(session: nox.Session, *args: str) -> None:
    """Run pytest; exit code 5 (nothing collected) is not a failure of the run."""
    session.run("pytest", *args, *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on all three packages."""
    session.install("-e", DEV)
    session.run("mypy", *PACKAGES)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite on the interpreter nox runs under, with branch coverage of kumocms."""
    session.install("-e", DEV)
    _pytest(
        session,
        "--cov=kumocms",
        "--cov-branch",
        "--cov-report=term",
        "--cov-fail-under=90",
    )


@nox.session(python="3.13", name="unit-3.13")
def unit_313(session: nox.Session) -> None:
    """The unit tests on Python 3.13 (the Lambda runtime's version)."""
    session.install("-e", DEV)
    _pytest(session, "tests/unit")


@nox.session
def serve(session: nox.Session) -> None:
    """Run KumoCMS locally on the embedded AWS emulator (`nox -s serve -- --port 9000`)."""
    session.install("-e", ".[dev]")
    executable = str(Path(session.bin) / "kumocms")
    # Replace nox's process with the server: stdout stays the server's own (its first two
    # lines are the URL and the admin key) and SIGINT/SIGTERM reach it directly.
    os.execv(executable, [executable, "serve", *session.posargs])
