"""Scheduled reconciliation: lost uploads, late uploads, stuck and expired restores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kumocms.commands import ArchiveDocument, ReplaceDocument, RestoreDocument
from kumocms.errors import DocumentNotFoundError
from kumocms.keys import ContentRef, content_key
from kumocms.states import ArchiveState
from kumocms.usecases.archive import archive_document, restore_document
from kumocms.usecases.documents import replace_document
from kumocms.usecases.reconcile import ReconcileReport, reconcile
from tests.unit.conftest import World


def test_nothing_to_do(world: World) -> None:
    world.upload_direct(b"x")
    assert reconcile(world.ports) == ReconcileReport()


def test_expired_first_upload_is_deleted_with_its_sidecar(world: World) -> None:
    view = world.upload_presigned(b"x" * 10)
    world.clock.advance(world.ports.settings.pending_upload_ttl + timedelta(seconds=1))
    report = reconcile(world.ports)
    assert report.uploads_expired == 1
    with pytest.raises(DocumentNotFoundError):
        world.repo.get(view.document.id)
    assert not [k for k in world.blobs.objects if view.document.id.value.lower() in k]
    assert world.bus.names()[-1] == "DocumentUploadExpired"


def test_upload_that_arrived_but_whose_event_was_lost_is_confirmed(world: World) -> None:
    view = world.upload_presigned(b"x" * 10)
    assert view.upload is not None
    world.blobs.client_upload(view.upload, b"x" * 10)
    world.blobs.notifications()  # lost
    world.clock.advance(world.ports.settings.pending_upload_ttl + timedelta(seconds=1))
    assert reconcile(world.ports).uploads_confirmed == 1
    assert world.repo.get(view.document.id).state is ArchiveState.ACTIVE


def test_abandoned_replacement_is_forgotten(world: World) -> None:
    doc = world.upload_direct(b"old").document
    replace_document(
        world.ports, world.editor, ReplaceDocument(document_id=doc.id, file_name="n", size=5)
    )
    world.clock.advance(world.ports.settings.pending_upload_ttl + timedelta(seconds=1))
    assert reconcile(world.ports).replacements_abandoned == 1
    after = world.repo.get(doc.id)
    assert after.pending is None
    assert after.state is ArchiveState.ACTIVE
    assert after.revision == 1


def test_stuck_restore_is_completed_from_storage_or_reported(world: World) -> None:
    doc = world.upload_direct(b"x").document
    archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc.id))
    restore_document(world.ports, world.editor, RestoreDocument(document_id=doc.id))
    world.blobs.restore_delay = timedelta(days=3)  # slower than AWS promises
    world.blobs.objects[content_key(ContentRef(doc.id, 1))].restore_ready_at = (
        world.clock.now() + timedelta(days=3)
    )
    world.blobs.notifications()
    world.clock.advance(timedelta(hours=11))
    assert reconcile(world.ports).restores_stuck == 1
    assert world.bus.names()[-1] == "DocumentRestoreStuck"
    world.clock.advance(timedelta(days=3))
    world.blobs._events.clear()
    world.blobs.objects[content_key(ContentRef(doc.id, 1))].completion_announced = True
    assert reconcile(world.ports).restores_completed == 1
    assert world.repo.get(doc.id).state is ArchiveState.RESTORED


def test_restored_copy_whose_expiry_event_was_lost_is_archived(world: World) -> None:
    doc = world.upload_direct(b"x").document
    archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc.id))
    restore_document(world.ports, world.editor, RestoreDocument(document_id=doc.id))
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    world.clock.advance(timedelta(days=3))
    world.blobs.notifications()  # the expiry event is lost
    assert reconcile(world.ports).restores_expired == 1
    assert world.repo.get(doc.id).state is ArchiveState.ARCHIVED
