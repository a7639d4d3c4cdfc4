"""Archive and restore use cases, and the restore events that complete and expire them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kumocms.commands import ArchiveDocument, RestoreDocument, UpdateMetadata
from kumocms.errors import (
    DocumentArchivedError,
    IllegalTransitionError,
    InvalidRestoreRequestError,
    PreconditionFailedError,
    RestoreInProgressError,
)
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from kumocms.model import RestoreRequest
from kumocms.states import ArchiveState, RestoreTier, StorageClass
from kumocms.usecases.archive import archive_document, restore_document
from kumocms.usecases.documents import get_content, update_metadata
from kumocms.usecases.ingest import Outcome, RestoreExpired, handle_storage_event
from tests.unit.conftest import World


def _archived(world: World, storage_class: StorageClass = StorageClass.GLACIER) -> DocumentId:
    doc = world.upload_direct(b"cold data").document
    archive_document(
        world.ports, world.editor, ArchiveDocument(document_id=doc.id, storage_class=storage_class)
    )
    world.deliver()
    return doc.id


def _restore(world: World, doc_id: DocumentId, **request: object):
    return restore_document(
        world.ports,
        world.editor,
        RestoreDocument(document_id=doc_id, request=RestoreRequest(**request)),
    )  # type: ignore[arg-type]


def test_archive_moves_content_to_glacier_and_blocks_downloads(world: World) -> None:
    doc_id = _archived(world)
    doc = world.repo.get(doc_id)
    assert doc.state is ArchiveState.ARCHIVED
    assert doc.storage_class is StorageClass.GLACIER
    assert doc.version == 2  # the archive's own copy event changed nothing
    assert world.blobs.objects[content_key(ContentRef(doc_id, 1))].storage_class is (
        StorageClass.GLACIER
    )
    with pytest.raises(DocumentArchivedError):
        get_content(world.ports, world.reader, doc_id)


def test_archive_to_deep_archive(world: World) -> None:
    doc_id = _archived(world, StorageClass.DEEP_ARCHIVE)
    assert world.repo.get(doc_id).storage_class is StorageClass.DEEP_ARCHIVE


def test_archive_only_from_active(world: World) -> None:
    pending = world.upload_presigned(b"x" * 10).document
    with pytest.raises(IllegalTransitionError):
        archive_document(world.ports, world.editor, ArchiveDocument(document_id=pending.id))
    doc_id = _archived(world)
    with pytest.raises(IllegalTransitionError):
        archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc_id))


def test_archive_to_standard_is_invalid(world: World) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(InvalidRestoreRequestError):
        archive_document(
            world.ports,
            world.editor,
            ArchiveDocument(document_id=doc.id, storage_class=StorageClass.STANDARD),
        )


def test_archive_honours_if_match(world: World) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(PreconditionFailedError):
        archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc.id, if_match=5))


def test_restore_runs_then_completes_through_the_storage_event(world: World) -> None:
    doc_id = _archived(world)
    result = _restore(world, doc_id, days=3, tier=RestoreTier.EXPEDITED)
    assert result.in_progress
    assert result.retry_after_seconds is not None
    assert result.retry_after_seconds >= 1
    doc = result.view.document
    assert doc.state is ArchiveState.RESTORING
    assert doc.restore is not None
    assert doc.restore.tier is RestoreTier.EXPEDITED
    with pytest.raises(RestoreInProgressError):
        get_content(world.ports, world.reader, doc_id)
    again = _restore(world, doc_id)
    assert again.in_progress
    assert again.view.document.version == doc.version  # nothing written
    world.clock.advance(world.blobs.restore_delay)
    outcomes = world.deliver()
    assert Outcome.APPLIED in outcomes
    restored = world.repo.get(doc_id)
    assert restored.state is ArchiveState.RESTORED
    assert restored.restore is not None
    assert restored.restore.expires_at is not None
    url = get_content(world.ports, world.reader, doc_id).url
    assert world.blobs.client_get(url) == b"cold data"
    assert world.bus.names()[-2:] == ["DocumentRestoreRequested", "DocumentRestored"]


def test_restored_copy_expires_back_to_archived(world: World) -> None:
    doc_id = _archived(world)
    _restore(world, doc_id, days=1)
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    world.clock.advance(timedelta(days=2))
    world.deliver()
    doc = world.repo.get(doc_id)
    assert doc.state is ArchiveState.ARCHIVED
    assert doc.restore is None
    with pytest.raises(DocumentArchivedError):
        get_content(world.ports, world.reader, doc_id)


def test_restore_again_when_restored_extends_the_expiry(world: World) -> None:
    doc_id = _archived(world)
    _restore(world, doc_id, days=1)
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    before = world.repo.get(doc_id)
    result = _restore(world, doc_id, days=10)
    assert not result.in_progress
    after = result.view.document
    assert after.state is ArchiveState.RESTORED
    assert after.restore is not None
    assert before.restore is not None
    assert after.restore.expires_at is not None
    assert before.restore.expires_at is not None
    assert after.restore.expires_at > before.restore.expires_at
    assert result.view.download is not None


def test_permanent_restore_copies_back_to_standard(world: World) -> None:
    doc_id = _archived(world)
    _restore(world, doc_id)
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    result = _restore(world, doc_id, permanent=True)
    doc = result.view.document
    assert doc.state is ArchiveState.ACTIVE
    assert doc.storage_class is StorageClass.STANDARD
    assert doc.restore is None
    world.deliver()
    world.clock.advance(timedelta(days=30))
    assert world.blobs.client_get(get_content(world.ports, world.reader, doc_id).url)


def test_permanent_flag_while_restoring_is_applied_on_completion(world: World) -> None:
    doc_id = _archived(world)
    _restore(world, doc_id)
    _restore(world, doc_id, permanent=True)
    assert world.repo.get(doc_id).restore.permanent  # type: ignore[union-attr]
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    doc = world.repo.get(doc_id)
    assert doc.state is ArchiveState.ACTIVE
    assert doc.storage_class is StorageClass.STANDARD


def test_restore_of_active_or_pending_is_a_conflict(world: World) -> None:
    active = world.upload_direct(b"x").document
    pending = world.upload_presigned(b"x" * 10).document
    for doc_id in (active.id, pending.id):
        with pytest.raises(IllegalTransitionError):
            _restore(world, doc_id)


@pytest.mark.parametrize("days", [0, 366, -1])
def test_restore_days_out_of_range(days: int) -> None:
    with pytest.raises(InvalidRestoreRequestError):
        RestoreRequest(days=days)


def test_expedited_is_not_available_for_deep_archive(world: World) -> None:
    doc_id = _archived(world, StorageClass.DEEP_ARCHIVE)
    with pytest.raises(InvalidRestoreRequestError):
        _restore(world, doc_id, tier=RestoreTier.EXPEDITED)
    assert _restore(world, doc_id, tier=RestoreTier.BULK).in_progress


def test_old_expiry_events_do_not_undo_a_newer_restore(world: World) -> None:
    doc_id = _archived(world)
    _restore(world, doc_id)
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    stale = RestoreExpired(
        key=content_key(ContentRef(doc_id, 1)), occurred_at=world.clock.now() - timedelta(days=30)
    )
    assert handle_storage_event(world.ports, stale) is Outcome.UNCHANGED
    assert world.repo.get(doc_id).state is ArchiveState.RESTORED


def test_patch_is_allowed_while_archived(world: World) -> None:
    doc_id = _archived(world)
    view = update_metadata(
        world.ports, world.editor, UpdateMetadata(document_id=doc_id, patch={"x": 1})
    )
    assert view.document.state is ArchiveState.ARCHIVED


def test_retry_after_follows_settings_override(world: World) -> None:
    import attrs

    world.ports = attrs.evolve(
        world.ports,
        settings=attrs.evolve(world.ports.settings, restore_poll_interval=timedelta(seconds=2)),
    )
    doc_id = _archived(world)
    assert _restore(world, doc_id).retry_after_seconds == 2
    with pytest.raises(RestoreInProgressError) as failure:
        get_content(world.ports, world.reader, doc_id)
    assert failure.value.retry_after_seconds == 2
