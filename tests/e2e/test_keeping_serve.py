"""§11 end to end: revisions, trash, history and legal holds on `kumocms serve`, over HTTP.

Two servers: one with the default timers for the story, one whose timers run at once
(`--trash-days 0 --max-revisions 1 --revision-days 0 --reconcile-every 1`).
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import call_json, serve_process

pytestmark = pytest.mark.slow
KEY = "keeping-serve-admin-key-00000"
FIRST = b"the first version"
SECOND = b"v2"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    # Copies above 8 bytes go through the transfer worker (202).
    yield from serve_process("--admin-key", KEY, "--sync-copy-limit", "8")


@pytest.fixture(scope="module")
def eager() -> Iterator[str]:
    yield from serve_process(
        *("--admin-key", KEY),
        *("--trash-days", "0", "--max-revisions", "1", "--revision-days", "0"),
        *("--reconcile-every", "1"),
    )


def _call(url: str, method: str, path: str, body: object = None) -> tuple[int, Any]:
    return call_json(url, KEY, method, path, body)


def _ok(url: str, method: str, path: str, body: object = None, *, status: int = 200) -> Any:
    code, answer = _call(url, method, path, body)
    assert code == status, answer
    return answer


def _upload(url: str, content: bytes) -> str:
    body = {"file_name": "a.txt", "content": base64.b64encode(content).decode()}
    return str(_ok(url, "POST", "/documents", body, status=201)["document_id"])


def _replace(url: str, doc_id: str, content: bytes) -> None:
    body = {"file_name": "b.txt", "content": base64.b64encode(content).decode()}
    _ok(url, "PUT", f"/documents/{doc_id}", body)


def _bytes(url: str, path: str) -> bytes:
    link = _ok(url, "GET", f"{path}?redirect=false")
    with urllib.request.urlopen(link["url"], timeout=30) as reply:
        return bytes(reply.read())


def _wait(check: Callable[[], bool], message: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.25)


def _events(url: str, doc_id: str) -> list[str]:
    history = _ok(url, "GET", f"/documents/{doc_id}/history")
    return [entry["event"] for entry in reversed(history["items"])]


def test_revisions_are_kept_listed_read_and_restored(url: str) -> None:
    doc_id = _upload(url, FIRST)
    _replace(url, doc_id, SECOND)
    listed = _ok(url, "GET", f"/documents/{doc_id}/revisions")["items"]
    assert [(r["revision"], r["size"], r["current"]) for r in listed] == [
        (2, len(SECOND), True),
        (1, len(FIRST), False),
    ]
    assert listed[1]["created_by"]["name"] is not None
    assert _bytes(url, f"/documents/{doc_id}/revisions/1/content") == FIRST
    # Larger than --sync-copy-limit: the transfer worker copies it (202), then it is current.
    code, started = _call(url, "POST", f"/documents/{doc_id}/revisions/1/restore", {})
    assert code == 202, started

    def restored() -> bool:
        return _ok(url, "GET", f"/documents/{doc_id}")["revision"] == 3

    _wait(restored, "the worker restored revision 1 as revision 3")
    document = _ok(url, "GET", f"/documents/{doc_id}")
    assert (document["file_name"], document["size"]) == ("a.txt", len(FIRST))
    assert _bytes(url, f"/documents/{doc_id}/content") == FIRST
    assert _events(url, doc_id) == ["uploaded", "replaced", "replace_started", "revision_restored"]


def test_a_legal_hold_blocks_deletes_until_it_is_released(url: str) -> None:
    doc_id = _upload(url, FIRST)
    held = _ok(url, "PUT", f"/documents/{doc_id}/legal-hold", {"enabled": True, "reason": "case"})
    assert held["legal_hold"]["reason"] == "case"

    def applied() -> bool:
        hold = _ok(url, "GET", f"/documents/{doc_id}")["legal_hold"]
        return bool(hold and hold["applied"])

    _wait(applied, "the worker placed the S3 legal holds")
    code, problem = _call(url, "DELETE", f"/documents/{doc_id}")
    assert (code, problem["code"]) == (409, "legal_hold")
    released = _ok(url, "PUT", f"/documents/{doc_id}/legal-hold", {"enabled": False})
    assert released["legal_hold"] is None
    _ok(url, "DELETE", f"/documents/{doc_id}", status=204)


def test_the_trash_keeps_a_document_until_it_is_restored_or_purged(url: str) -> None:
    doc_id = _upload(url, FIRST)
    _ok(url, "DELETE", f"/documents/{doc_id}", status=204)
    assert _call(url, "GET", f"/documents/{doc_id}")[0] == 404
    assert doc_id not in [d["document_id"] for d in _ok(url, "GET", "/documents")["items"]]
    trashed = {d["document_id"]: d for d in _ok(url, "GET", "/trash")["items"]}
    assert trashed[doc_id]["purge_at"] is not None
    assert trashed[doc_id]["deleted_by"]["name"]
    assert _call(url, "GET", f"/documents/{doc_id}/revisions")[0] == 404
    back = _ok(url, "POST", f"/trash/{doc_id}/restore", {})
    assert back["state"] == "active"
    assert _bytes(url, f"/documents/{doc_id}/content") == FIRST
    _ok(url, "DELETE", f"/documents/{doc_id}", status=204)
    _ok(url, "DELETE", f"/trash/{doc_id}", status=204)
    assert doc_id not in [d["document_id"] for d in _ok(url, "GET", "/trash")["items"]]
    assert _events(url, doc_id) == ["uploaded", "deleted", "undeleted", "deleted", "purged"]


def test_the_timers_purge_the_trash_and_prune_revisions(eager: str) -> None:
    doc_id = _upload(eager, FIRST)
    _replace(eager, doc_id, SECOND)

    def pruned() -> bool:
        items = _ok(eager, "GET", f"/documents/{doc_id}/revisions")["items"]
        return [r["revision"] for r in items] == [2]

    _wait(pruned, "reconcile pruned revision 1 (--max-revisions 1 --revision-days 0)")
    _ok(eager, "DELETE", f"/documents/{doc_id}", status=204)

    def purged() -> bool:
        return doc_id not in [d["document_id"] for d in _ok(eager, "GET", "/trash")["items"]]

    _wait(purged, "reconcile purged the trash (--trash-days 0)")
    history = _ok(eager, "GET", f"/documents/{doc_id}/history")["items"]
    assert (history[0]["event"], history[0]["actor"]) == ("purged", {"system": "reconcile"})
