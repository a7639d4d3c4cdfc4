"""The "Try it" block `kumocms serve` prints works in a new terminal, where PATH lacks the venv."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.cli import serve

KEY = "serve-try-it-admin-key-00000"
NEW_TERMINAL_PATH = "/usr/local/bin:/usr/bin:/bin"
"""A login shell's PATH: no virtual environment on it."""


def _try_it_block(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("# OpenAPI:"):
            return lines
    raise AssertionError(f"serve stopped before printing its examples: {lines}")


@pytest.mark.slow
def test_the_printed_commands_run_in_a_shell_without_the_venv_on_path(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "entrypoints.cli.main", "serve", "--port", "0"]
    with subprocess.Popen(
        [*command, "--admin-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            block = _try_it_block(process)
            exports = [line for line in block if line.startswith("export ")]
            listing = next(line for line in block if line.endswith(" list"))
            script = "\n".join([*exports, listing])
            done = subprocess.run(
                ["/bin/sh", "-c", script],
                capture_output=True,
                text=True,
                timeout=60,
                env={"PATH": NEW_TERMINAL_PATH, "HOME": str(tmp_path)},
                cwd=tmp_path,
                check=False,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:3] == ["DOCUMENT", "ID", "STATE"]


def test_without_a_kumocms_script_the_interpreter_runs_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = tmp_path / "venv dir" / "bin" / "python3"
    monkeypatch.setattr(sys, "executable", str(python))
    block = serve._examples("http://127.0.0.1:8080", KEY)
    assert "export PATH" not in block
    assert f"'{python}' -m entrypoints.cli.main list" in block
    (python.parent).mkdir(parents=True)
    (python.parent / "kumocms").write_text("#!/bin/sh\n")
    block = serve._examples("http://127.0.0.1:8080", KEY)
    assert f"export PATH='{python.parent}':\"$PATH\"" in block
    assert "\nkumocms list\n" in block
