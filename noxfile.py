"""Task runner: every check CI runs, and the local stack, are nox sessions."""

from __future__ import annotations

import os
import secrets
import subprocess
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


@nox.session
def fuzz(session: nox.Session) -> None:
    """Schemathesis against the local stack's served OpenAPI document (bounded; see
    schemathesis.toml for the checks and the reasons for every exclusion)."""
    session.install("-e", ".[dev]", "schemathesis>=4.0")
    key = "fuzz-" + secrets.token_urlsafe(24)
    server = subprocess.Popen(
        [
            str(Path(session.bin) / "kumocms"),
            "serve",
            "--port",
            "0",
            "--admin-key",
            key,
            "--restore-delay",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("http://"):
            session.error("the local stack did not start")
        max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "25")
        session.run(
            "schemathesis",
            "run",
            f"{url}/docs",
            "--max-time",
            "240",
            f"--max-examples={max_examples}",
            *session.posargs,
            env={"KUMOCMS_API_KEY": key},
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        session.log("local stack stopped")
