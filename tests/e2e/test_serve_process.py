"""`kumocms serve` as a subprocess: scriptable output, a working API, a clean stop on signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
KEY = "serve-process-admin-key-000000"


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) in ({pid} | found):
            found.add(int(entry.name))
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_url_and_key_serves_and_stops_cleanly(stop_signal: int) -> None:
    command = [
        sys.executable,
        "-m",
        "entrypoints.cli.main",
        "serve",
        "--port",
        "0",
        "--admin-key",
        KEY,
        "--restore-delay",
        "2",
    ]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        _drive(process, stop_signal)


def _drive(process: subprocess.Popen[str], stop_signal: int) -> None:
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        key_line = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert key_line == f"admin key: {KEY}"
        assert process.stdout.readline().startswith("emulator endpoint: http://127.0.0.1:")
        assert process.stdout.readline().strip() == "emulator region: eu-west-1"
        with urllib.request.urlopen(url + "/healthcheck", timeout=10) as reply:
            assert json.load(reply)["status"] == "ok"
        me = urllib.request.Request(url + "/me", headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(me, timeout=10) as reply:
            assert json.load(reply)["role"] == "admin"
        children = _children(process.pid)
        process.send_signal(stop_signal)
        assert process.wait(timeout=20) == 0
        time.sleep(0.2)
        assert not any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in children)
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_rejects_a_malformed_admin_key_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", "serve", "--admin-key", "short"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("kumocms: error: --admin-key:")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_serve_prints_the_emulator_and_provisions_in_the_region_it_is_given() -> None:
    command = [sys.executable, "-m", "entrypoints.cli.main", "serve", "--port", "0"]
    with subprocess.Popen(
        [*command, "--admin-key", KEY, "--region", "eu-central-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(4)]
            assert lines[0].startswith("http://127.0.0.1:")
            assert lines[1] == f"admin key: {KEY}"
            endpoint = lines[2].removeprefix("emulator endpoint: ")
            assert endpoint.startswith("http://127.0.0.1:")
            assert lines[3] == "emulator region: eu-central-1"
            queues = {region: _queues(endpoint, region) for region in ("eu-central-1", "eu-west-1")}
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert any(url.endswith("-ingest") for url in queues["eu-central-1"]), queues
    assert queues["eu-west-1"] == []


def _queues(endpoint: str, region: str) -> list[str]:
    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return list(sqs.list_queues().get("QueueUrls", []))


def test_serve_refuses_a_region_that_is_not_one() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", "serve", "--region", "Mars/1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "not an AWS region name" in result.stderr
