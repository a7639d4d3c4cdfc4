"""`archive --wait` and `restore --permanent --wait` against a local stack whose copies of more
than a few bytes go to the transfer worker (what `kumocms serve --sync-copy-limit` sets)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest

from entrypoints.cli.api import ApiClient
from entrypoints.cli.errors import CliError
from entrypoints.cli.waiting import ARCHIVE, PERMANENT_RESTORE, Pacing, settle
from entrypoints.local.stack import LocalStack, StackOptions
from tests.cli.conftest import ADMIN_KEY, STACK_ENVIRONMENT, Cli, _reset_moto

SYNC_COPY_LIMIT = 1024


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    _reset_moto()
    local = LocalStack(
        StackOptions(
            port=0,
            admin_key=ADMIN_KEY,
            restore_delay=1,
            environment={**STACK_ENVIRONMENT, "SYNC_COPY_LIMIT": str(SYNC_COPY_LIMIT)},
        )
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()
        _reset_moto()


def _create(stack: LocalStack, size: int = 4 * SYNC_COPY_LIMIT) -> tuple[str, bytes]:
    content = os.urandom(size)
    document: dict[str, Any] = ApiClient(stack.base_url, ADMIN_KEY).call(
        "POST",
        "/documents",
        {"file_name": "big.bin", "content": base64.b64encode(content).decode()},
    )
    return document["document_id"], content


def test_archive_wait_polls_until_the_worker_archived_it(cli: Cli, stack: LocalStack) -> None:
    doc_id, _ = _create(stack)
    archived = cli("archive", doc_id, "--wait", "--timeout", "60")
    assert archived.code == 0, archived.err
    assert (archived.json["state"], archived.json["storage_class"]) == ("archived", "GLACIER")
    assert f"kumocms: {doc_id} is archiving" in archived.err  # the progress line


def test_archive_without_wait_answers_archiving(cli: Cli, stack: LocalStack) -> None:
    doc_id, _ = _create(stack)
    started = cli("archive", doc_id)
    assert started.code == 0, started.err
    assert started.json["state"] == "archiving"
    assert started.err == ""


def test_a_small_archive_with_wait_is_archived_at_once(cli: Cli, stack: LocalStack) -> None:
    doc_id, _ = _create(stack, size=SYNC_COPY_LIMIT // 2)
    archived = cli("archive", doc_id, "--wait")
    assert archived.code == 0, archived.err
    assert archived.json["state"] == "archived"
    assert archived.err == ""


def test_restore_permanent_wait_polls_until_active(cli: Cli, stack: LocalStack) -> None:
    doc_id, content = _create(stack)
    assert cli("archive", doc_id, "--wait", "--timeout", "60").code == 0
    restored = cli("restore", doc_id, "--wait", "--timeout", "60")
    assert restored.json["state"] == "restored", restored.err
    permanent = cli("restore", doc_id, "--permanent", "--wait", "--timeout", "60")
    assert permanent.code == 0, permanent.err
    assert (permanent.json["state"], permanent.json["storage_class"]) == ("active", "STANDARD")
    fetched = cli("download", doc_id, "-o", str(cli.cwd / "back.bin"))
    assert fetched.code == 0, fetched.err
    assert (cli.cwd / "back.bin").read_bytes() == content


# ---- the settling rules, on scripted answers ----------------------------------------------


def _scripted(*documents: dict[str, Any]) -> tuple[Any, list[float], list[str]]:
    answers = iter(documents)
    slept: list[float] = []
    reported: list[str] = []

    def fetch() -> tuple[dict[str, Any], int | None]:
        return next(answers), 3

    return fetch, slept, reported


def _doc(state: str, *, permanent: bool | None = None) -> dict[str, Any]:
    restore = None if permanent is None else {"permanent": permanent}
    return {"document_id": "D", "state": state, "restore": restore}


def test_a_copy_given_up_is_a_clear_error_not_a_success() -> None:
    fetch, slept, reported = _scripted(_doc("archiving"), _doc("active"))
    pacing = Pacing(retry_after=2, timeout=None, sleep=slept.append, report=reported.append)
    with pytest.raises(CliError) as raised:
        settle(ARCHIVE, _doc("archiving"), fetch, pacing)
    assert str(raised.value) == (
        "the archive of document D did not complete: it is active again with no copy in progress"
    )
    assert slept == [2.0, 3.0]  # the first Retry-After, then each answer's
    assert len(reported) == 2


def test_a_permanent_restore_rolled_back_is_restored_without_the_permanent_flag() -> None:
    fetch, slept, reported = _scripted(
        _doc("restored", permanent=True), _doc("restored", permanent=False)
    )
    pacing = Pacing(retry_after=None, timeout=None, sleep=slept.append, report=reported.append)
    with pytest.raises(CliError, match="permanent restore of document D did not complete"):
        settle(PERMANENT_RESTORE, _doc("restoring", permanent=True), fetch, pacing)
    assert slept[0] == 5.0  # no Retry-After: the default pause


def test_waiting_gives_up_after_the_timeout() -> None:
    now = [0.0]
    fetch, slept, reported = _scripted(*[_doc("archiving")] * 10)

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacing = Pacing(
        retry_after=4, timeout=10, sleep=sleep, clock=lambda: now[0], report=reported.append
    )
    with pytest.raises(CliError, match="document D is still archiving after 10 s"):
        settle(ARCHIVE, _doc("archiving"), fetch, pacing)
    assert sum(slept) == 10
