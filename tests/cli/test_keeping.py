"""The §11 commands against the local stack: revisions, trash, history, hold and release."""

from __future__ import annotations

import base64

from entrypoints.cli.api import ApiClient
from entrypoints.local.stack import LocalStack
from tests.cli.conftest import ADMIN_KEY, Cli


def _document(stack: LocalStack, *contents: bytes) -> str:
    api = ApiClient(stack.base_url, ADMIN_KEY)
    first, *rest = contents
    created = api.call(
        "POST", "/documents", {"file_name": "a.txt", "content": base64.b64encode(first).decode()}
    )
    doc_id = str(created["document_id"])
    for content in rest:
        body = {"file_name": "b.txt", "content": base64.b64encode(content).decode()}
        api.call("PUT", f"/documents/{doc_id}", body)
    return doc_id


def test_revisions_lists_and_restores(cli: Cli, stack: LocalStack) -> None:
    doc_id = _document(stack, b"one", b"two!")

    listed = cli("revisions", doc_id, "--json")
    table = cli("revisions", doc_id)
    restored = cli("revisions", "restore", doc_id, "1")
    after = cli("revisions", doc_id, "--json", "--limit", "1", "--all")

    assert listed.code == 0, listed.err
    assert [(r["revision"], r["current"]) for r in listed.json["items"]] == [(2, True), (1, False)]
    assert table.out.splitlines()[0].split()[:3] == ["REVISION", "SIZE", "CLASS"]
    assert table.out.splitlines()[1].startswith("2 *")
    assert restored.code == 0, restored.err
    assert (restored.json["revision"], restored.json["file_name"]) == (3, "a.txt")
    assert [r["revision"] for r in after.json["items"]] == [3, 2, 1]


def test_trash_restore_and_purge(cli: Cli, stack: LocalStack) -> None:
    doc_id = _document(stack, b"to the bin")

    deleted = cli("delete", doc_id)
    listed = cli("trash", "--json", "--all")
    restored = cli("trash", "restore", doc_id)
    cli("delete", doc_id)
    purged = cli("trash", "purge", doc_id)
    history = cli("history", doc_id, "--json")
    table = cli("history", doc_id)

    assert deleted.out.strip() == f"moved {doc_id} to the trash"
    assert doc_id in [d["document_id"] for d in listed.json["items"]]
    assert restored.code == 0, restored.err
    assert restored.json["state"] == "active"
    assert (purged.code, purged.out.strip()) == (0, f"purged {doc_id}")
    events = [entry["event"] for entry in history.json["items"]]
    assert events == ["purged", "deleted", "undeleted", "deleted", "uploaded"]
    assert table.out.splitlines()[0].split() == ["AT", "EVENT", "VERSION", "BY", "DETAILS"]


def test_hold_blocks_delete_until_release(cli: Cli, stack: LocalStack) -> None:
    doc_id = _document(stack, b"evidence")

    held = cli("hold", doc_id, "--reason", "case 7")
    refused = cli("delete", doc_id)
    released = cli("release", doc_id)
    deleted = cli("delete", doc_id)

    assert held.code == 0, held.err
    assert held.json["legal_hold"]["reason"] == "case 7"
    assert refused.code == 1
    assert "legal hold" in refused.error
    assert released.json["legal_hold"] is None
    assert deleted.code == 0, deleted.err


def test_usage_errors_are_one_line_messages(cli: Cli) -> None:
    assert cli("revisions", "restore", "01J00000000000000000000000").code == 1
    assert cli("revisions", "restore", "01J00000000000000000000000", "one").code == 1
    assert cli("trash", "empty").code == 1
    assert cli("hold", "01J00000000000000000000000").code == 2  # --reason is required
    missing = cli("history", "01J00000000000000000000000")
    assert missing.code == 1
    assert "Traceback" not in missing.err
