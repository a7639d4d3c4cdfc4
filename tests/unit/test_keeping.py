"""§11 on the fakes: the history of every kind of change, trash, holds and revision retention."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from adapters.memory import InMemoryQueue, in_memory_ports
from kumocms.commands import (
    ArchiveDocument,
    DeleteDocument,
    ReplaceDocument,
    UpdateMetadata,
)
from kumocms.errors import DependencyError, DocumentNotFoundError, ForbiddenError, LegalHoldError
from kumocms.history import EVENTS, actor_json
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from kumocms.model import RevisionPolicy
from kumocms.rules import metadata_to_plain
from kumocms.settings import MiB, Settings
from kumocms.states import StorageClass
from kumocms.usecases import holds, revisions, trash
from kumocms.usecases.archive import archive_document
from kumocms.usecases.documents import delete_document, replace_document, update_metadata
from kumocms.usecases.reconcile import reconcile
from kumocms.usecases.transfer import CopyOrder, run_copy
from tests.unit.conftest import World

PLENTY = timedelta(minutes=15)


def _events(world: World, doc_id: DocumentId) -> list[tuple[str, str]]:
    entries = world.repo.entries(doc_id)
    return [
        (e.event, str(actor_json(e.actor).get("name") or actor_json(e.actor).get("system")))
        for e in entries
    ]


def _names(world: World, doc_id: DocumentId) -> list[str]:
    return [e.event for e in world.repo.entries(doc_id)]


def _replace(world: World, doc_id: DocumentId, content: bytes) -> None:
    command = ReplaceDocument(document_id=doc_id, file_name="v.txt", content=content)
    replace_document(world.ports, world.editor, command)


def _worker(world: World) -> None:
    """Run every order on the transfer queue: copies and hold orders."""
    queue = world.ports.transfers
    assert isinstance(queue, InMemoryQueue)
    while messages := queue.receive(limit=10):
        for message in messages:
            order = holds.HoldOrder.decode(message.body)
            if order is not None:
                holds.apply_holds(world.ports, order.document_id)
            else:
                decoded = CopyOrder.decode(message.body)
                run_copy(world.ports, decoded, attempts=0, remaining=lambda: PLENTY)
            queue.delete(message)


# ---- history ---------------------------------------------------------------------------------


def test_every_change_writes_its_entry_with_its_actor(world: World) -> None:
    doc = world.upload_direct(b"one", metadata={"secret": "s3cr3t", "n": 1}).document
    update_metadata(
        world.ports, world.editor, UpdateMetadata(document_id=doc.id, patch={"secret": None})
    )
    _replace(world, doc.id, b"two")
    presigned = replace_document(
        world.ports, world.editor, ReplaceDocument(document_id=doc.id, file_name="p", size=5)
    )
    assert presigned.upload is not None
    world.blobs.client_put(  # a rogue write of another size: rejected
        world.blobs._url(
            content_key(ContentRef(doc.id, presigned.document.version)),
            "PUT",
            world.clock.now() + timedelta(hours=1),
        ),
        b"wrong length",
        headers={},
    )
    world.deliver()
    archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc.id))
    delete_document(world.ports, world.editor, DeleteDocument(document_id=doc.id))
    trash.restore_from_trash(world.ports, world.editor, doc.id)
    holds.set_legal_hold(world.ports, world.admin, doc.id, enabled=True, reason="case 7")
    _worker(world)
    holds.set_legal_hold(world.ports, world.admin, doc.id, enabled=False, reason=None)
    _worker(world)

    assert _events(world, doc.id) == [
        ("uploaded", "ed"),
        ("metadata_updated", "ed"),
        ("replaced", "ed"),
        ("replace_started", "ed"),
        ("replace_rejected", "ingest"),
        ("archived", "ed"),
        ("deleted", "ed"),
        ("undeleted", "ed"),
        ("legal_hold_set", "ad"),
        ("legal_hold_set", "transfer"),  # the storage holds placed
        ("legal_hold_released", "ad"),
        ("legal_hold_released", "transfer"),  # and lifted
    ]
    entries = world.repo.entries(doc.id)
    assert metadata_to_plain(entries[1].details) == {"keys": ["secret"]}  # never the values
    assert "s3cr3t" not in repr([e.details for e in entries])
    assert [e.version for e in entries] == sorted(e.version for e in entries)
    assert {e.event for e in entries} <= set(EVENTS)


def test_a_presigned_upload_writes_uploaded_then_its_outcome(world: World) -> None:
    good = world.upload_presigned(b"x" * 10)
    bad = world.upload_presigned(b"y" * 10)
    assert good.upload is not None
    assert bad.upload is not None
    world.blobs.client_upload(good.upload, b"x" * 10)
    world.blobs.client_put(
        world.blobs._url(
            content_key(ContentRef(bad.document.id, 1)),
            "PUT",
            world.clock.now() + timedelta(hours=1),
        ),
        b"not ten bytes at all",
        headers={},
    )
    world.deliver()
    assert _events(world, good.document.id) == [("uploaded", "ed"), ("upload_confirmed", "ingest")]
    assert _events(world, bad.document.id) == [("uploaded", "ed"), ("upload_rejected", "ingest")]


def test_expired_aborted_and_abandoned_uploads_are_in_the_history(world: World) -> None:
    expired = world.upload_presigned().document
    aborted = world.upload_presigned().document
    kept = world.upload_direct(b"current").document
    replace_document(
        world.ports, world.editor, ReplaceDocument(document_id=kept.id, file_name="p", size=5)
    )
    delete_document(world.ports, world.editor, DeleteDocument(document_id=aborted.id))
    world.clock.advance(timedelta(days=2))
    reconcile(world.ports)

    assert _events(world, aborted.id) == [("uploaded", "ed"), ("upload_aborted", "ed")]
    assert _events(world, expired.id) == [("uploaded", "ed"), ("upload_expired", "reconcile")]
    assert _names(world, kept.id) == ["uploaded", "replace_started", "upload_expired"]
    # A gone document's entries expire history_retention after it went.
    retention = world.ports.settings.history_retention
    assert all(e.expires_at is not None for e in world.repo.entries(expired.id))
    later = world.clock.now() + retention + timedelta(days=1)
    assert world.repo.history(expired.id, now=later, limit=10, cursor=None).items == ()


def test_history_access_follows_the_documents_condition(world: World) -> None:
    doc = world.upload_direct().document
    assert trash.get_history(world.ports, world.reader, doc.id).items
    delete_document(world.ports, world.editor, DeleteDocument(document_id=doc.id))
    with pytest.raises(ForbiddenError):
        trash.get_history(world.ports, world.reader, doc.id)
    assert trash.get_history(world.ports, world.editor, doc.id).items
    trash.purge_from_trash(world.ports, world.admin, doc.id)
    with pytest.raises(ForbiddenError):
        trash.get_history(world.ports, world.editor, doc.id)
    assert trash.get_history(world.ports, world.admin, doc.id).items[0].event == "purged"
    with pytest.raises(DocumentNotFoundError):
        trash.get_history(world.ports, world.admin, DocumentId.parse("01J00000000000000000000000"))


# ---- trash and holds -------------------------------------------------------------------------


def test_a_hold_on_a_trashed_document_blocks_the_purge_and_the_timer(world: World) -> None:
    doc = world.upload_direct().document
    delete_document(world.ports, world.editor, DeleteDocument(document_id=doc.id))
    holds.set_legal_hold(world.ports, world.admin, doc.id, enabled=True, reason="case")
    assert world.repo.get(doc.id).purge_at is None
    with pytest.raises(LegalHoldError):
        trash.purge_from_trash(world.ports, world.admin, doc.id)
    world.clock.advance(world.ports.settings.trash_retention + timedelta(days=1))
    assert reconcile(world.ports).documents_purged == 0
    holds.set_legal_hold(world.ports, world.admin, doc.id, enabled=False, reason=None)
    _worker(world)
    world.clock.advance(timedelta(days=1))
    assert reconcile(world.ports).documents_purged == 1
    assert not [k for k in world.blobs.objects if doc.id.value.lower() in k]
    assert not [k for k in world.blobs.noncurrent if doc.id.value.lower() in k]


def test_held_versions_refuse_deletes_and_the_hold_covers_an_archive_copy(world: World) -> None:
    doc = world.upload_direct(b"evidence").document
    holds.set_legal_hold(world.ports, world.admin, doc.id, enabled=True, reason="case")
    _worker(world)
    held = world.repo.get(doc.id)
    assert held.legal_hold_applied
    archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc.id))
    assert not world.repo.get(doc.id).legal_hold_applied  # a new version, not held yet
    _worker(world)
    archived = world.repo.get(doc.id)
    assert archived.legal_hold_applied
    assert len(archived.held_versions) == 2  # the STANDARD original stays held too
    for version in archived.held_versions:
        with pytest.raises(Exception, match="AccessDenied"):
            world.blobs.delete_version(ContentRef(doc.id, version.key), version.version_id)


# ---- revisions -------------------------------------------------------------------------------


def test_revisions_list_read_and_restore_as_a_copy(world: World) -> None:
    doc = world.upload_direct(b"first", file_name="one.txt").document
    _replace(world, doc.id, b"second")
    page = revisions.list_revisions(world.ports, world.reader, doc.id, limit=1)
    assert [(v.revision.number, v.current) for v in page.items] == [(2, True)]
    assert page.next_cursor is not None
    rest = revisions.list_revisions(world.ports, world.reader, doc.id, cursor=page.next_cursor)
    assert [v.revision.number for v in rest.items] == [1]
    link = revisions.get_revision_content(world.ports, world.reader, doc.id, 1)
    assert world.blobs.client_get(link.url) == b"first"
    result = revisions.restore_revision(world.ports, world.editor, doc.id, 1)
    restored = result.view.document
    assert (restored.revision_number, restored.file_name, restored.size) == (3, "one.txt", 5)
    assert restored.revision == 3  # a new key: r3
    assert world.blobs.client_get(result.view.download.url) == b"first"  # type: ignore[union-attr]
    # The revision that stopped being current is tagged for the lifecycle rule.
    second = restored.find_revision(2)
    assert second.version_id is not None
    assert world.blobs.tags(ContentRef(doc.id, second.key), second.version_id) == {
        "kumocms-revision": "noncurrent"
    }


def test_a_large_revision_restore_goes_through_the_worker() -> None:
    settings = Settings(direct_upload_limit=8 * MiB, sync_copy_limit=1024)
    world = World(in_memory_ports(settings=settings))
    first = b"a" * (6 * MiB)
    doc = world.upload_direct(first).document
    _replace(world, doc.id, b"small")
    result = revisions.restore_revision(world.ports, world.editor, doc.id, 1)
    assert result.in_progress
    assert result.view.document.revision_number == 2  # readable as before meanwhile
    _worker(world)
    done = world.repo.get(doc.id)
    assert (done.revision_number, done.copy, done.size) == (3, None, len(first))
    assert world.blobs.objects[content_key(ContentRef(doc.id, done.revision or 0))].data == first
    assert _names(world, doc.id)[-2:] == ["replace_started", "revision_restored"]


def test_retention_keeps_the_newest_or_the_young_whichever_keeps_more() -> None:
    settings = Settings(max_revisions=2, revision_retention=timedelta(days=1))
    world = World(in_memory_ports(settings=settings))
    doc = world.upload_direct(b"r1").document
    for n in (2, 3, 4):
        _replace(world, doc.id, f"r{n}".encode())
    assert reconcile(world.ports).revisions_pruned == 0  # all young
    world.clock.advance(timedelta(days=2))
    _replace(world, doc.id, b"r5")
    report = reconcile(world.ports)
    kept = world.repo.get(doc.id).kept_revisions
    # r5 is young, r4 is among the newest two; r1-r3 are old and beyond the newest two.
    assert report.revisions_pruned == 3
    assert [r.number for r in kept] == [4, 5]
    for key in (1, 2, 3):
        assert content_key(ContentRef(doc.id, key)) not in world.blobs.objects
        assert content_key(ContentRef(doc.id, key)) not in world.blobs.noncurrent
    assert RevisionPolicy.of(settings).due(world.repo.get(doc.id)) is None


def test_nothing_of_a_held_or_trashed_document_is_pruned() -> None:
    settings = Settings(max_revisions=1, revision_retention=timedelta(0))
    world = World(in_memory_ports(settings=settings))
    held = world.upload_direct(b"h1").document
    trashed = world.upload_direct(b"t1").document
    for doc in (held, trashed):
        _replace(world, doc.id, b"v2")
    holds.set_legal_hold(world.ports, world.admin, held.id, enabled=True, reason="case")
    delete_document(world.ports, world.editor, DeleteDocument(document_id=trashed.id))
    assert reconcile(world.ports).revisions_pruned == 0
    assert len(world.repo.get(held.id).kept_revisions) == 2
    assert len(world.repo.get(trashed.id).kept_revisions) == 2
    assert world.repo.get(held.id).storage_class is StorageClass.STANDARD


def test_a_record_from_before_revisions_is_held_and_restored_by_its_current_version(
    world: World,
) -> None:
    doc = world.upload_direct(b"legacy").document
    legacy = attrs.evolve(doc, revisions=(), content_version=None)
    world.repo.save(legacy, expected_version=doc.version)
    assert [r.version_id for r in world.repo.get(doc.id).kept_revisions] == [None]

    holds.set_legal_hold(world.ports, world.admin, doc.id, enabled=True, reason="case")
    assert not world.repo.get(doc.id).legal_hold_applied
    _worker(world)
    held = world.repo.get(doc.id)
    assert held.legal_hold_applied
    (version,) = held.held_versions
    assert version.version_id == world.blobs.current_version(ContentRef(doc.id, 1))
    holds.set_legal_hold(world.ports, world.admin, doc.id, enabled=False, reason=None)
    _worker(world)

    other = world.upload_direct(b"old bytes").document
    world.repo.save(
        attrs.evolve(other, revisions=(), content_version=None), expected_version=other.version
    )
    _replace(world, other.id, b"new bytes")
    restored = revisions.restore_revision(world.ports, world.editor, other.id, 1).view
    assert world.blobs.client_get(restored.download.url) == b"old bytes"  # type: ignore[union-attr]


def test_a_purge_that_storage_interrupts_is_finished_and_never_undone(world: World) -> None:
    doc = world.upload_direct(b"to be gone").document
    delete_document(world.ports, world.editor, DeleteDocument(document_id=doc.id))
    world.blobs.available = False
    with pytest.raises(DependencyError):
        trash.purge_from_trash(world.ports, world.admin, doc.id)
    world.blobs.available = True
    # Purged already: out of the trash, beyond restore, recorded; its objects still there.
    assert doc.id not in [v.document.id for v in trash.list_trash(world.ports, world.editor).items]
    with pytest.raises(DocumentNotFoundError):
        trash.restore_from_trash(world.ports, world.editor, doc.id)
    with pytest.raises(ForbiddenError):
        trash.get_history(world.ports, world.editor, doc.id)
    assert _names(world, doc.id)[-1] == "purged"
    assert [k for k in world.blobs.objects if doc.id.value.lower() in k]
    assert reconcile(world.ports).documents_purged == 1  # the next run finishes it
    assert not [k for k in world.blobs.objects if doc.id.value.lower() in k]
    with pytest.raises(DocumentNotFoundError):
        world.repo.get(doc.id)
    assert _names(world, doc.id).count("purged") == 1
