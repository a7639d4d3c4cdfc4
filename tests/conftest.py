"""Shared fixtures: fake AWS credentials for moto, Hypothesis profiles."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from entrypoints.local import transactions

# Every document write is a TransactWriteItems (§11 history): without this moto deep-copies
# whole tables on each one (see the module). The local stack installs it too.
transactions.install()

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fault-injection run takes minutes: run it after everything else."""
    items.sort(key=lambda item: item.path.parent.name == "chaos")  # stable: order kept


@pytest.fixture
def progress(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """Print a line on the terminal while a long test runs (whatever the capture mode)."""
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    started = time.monotonic()

    def say(message: str) -> None:
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():  # past fd-level capture, to the terminal
            reporter.write_line(f"  [{time.monotonic() - started:6.1f} s] {message}")

    return say


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees fake credentials and a region; nothing can reach real AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
