"""Storage events: unknown keys, sidecars, stale revisions, rewrites, restores started elsewhere."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from kumocms.commands import ArchiveDocument
from kumocms.errors import RetryLaterError
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, SidecarRef, content_key, parse_key, sidecar_key
from kumocms.model import is_newer_sequencer
from kumocms.states import ArchiveState, RestoreTier
from kumocms.usecases.archive import archive_document
from kumocms.usecases.ingest import (
    ObjectCreated,
    Outcome,
    RestoreCompleted,
    RestoreInitiated,
    handle_storage_event,
)
from tests.unit.conftest import World

UNKNOWN = DocumentId.parse("01ARZ3NDEKTSV4RRFFQ69G5FAV")


def _created(world: World, key: str, **fields: object) -> Outcome:
    return handle_storage_event(
        world.ports,
        ObjectCreated(key=key, occurred_at=world.clock.now(), **fields),  # type: ignore[arg-type]
    )


def test_keys_round_trip_and_foreign_keys_are_not_ours() -> None:
    ref = ContentRef(UNKNOWN, 12)
    key = content_key(ref)
    assert parse_key(key) == ref
    assert set(key) <= set("0123456789abcdefghijklmnopqrstuvwxyz/._-")
    assert parse_key(sidecar_key(UNKNOWN)) == SidecarRef(UNKNOWN)
    for foreign in [
        "",
        "report.pdf",
        key + "x",
        "0000/" + key.split("/", 1)[1],
        key.replace("/r12", "/r0"),
        key.upper(),
        "ab12/zzzzzzzzzzzzzzzzzzzzzzzzzz/r1",
    ]:
        assert parse_key(foreign) is None


def test_unknown_keys_are_ignored_and_orphans_cleaned_without_records(world: World) -> None:
    assert _created(world, "uploads/someone-elses-file.pdf") is Outcome.IGNORED
    assert _created(world, content_key(ContentRef(UNKNOWN, 1)), size=3) is Outcome.CLEANED
    assert _created(world, sidecar_key(UNKNOWN)) is Outcome.CLEANED
    assert world.repo.list(limit=10, cursor=None, state=None).items == ()


def test_objects_of_young_unknown_documents_are_retried_later(world: World) -> None:
    young = world.ports.ids.document_id()
    with pytest.raises(RetryLaterError):
        _created(world, content_key(ContentRef(young, 1)))
    assert world.repo.list(limit=10, cursor=None, state=None).items == ()


def test_sidecar_events_verify_and_repair_without_bumping_the_version(world: World) -> None:
    doc = world.upload_direct(b"x", metadata={"a": 1}).document
    assert _created(world, sidecar_key(doc.id)) is Outcome.UNCHANGED
    world.blobs.write_sidecar(doc.id, {"tampered": True})
    assert _created(world, sidecar_key(doc.id)) is Outcome.REPAIRED
    assert world.blobs.read_sidecar(doc.id) == {"a": 1}
    assert world.repo.get(doc.id).version == 1


def test_stale_revision_objects_are_deleted(world: World) -> None:
    doc = world.upload_direct(b"x").document
    doc2 = attrs.evolve(doc, version=3)
    world.repo.save(doc2, expected_version=1)
    stale = ContentRef(doc.id, 2)
    world.blobs.client_put(
        world.blobs._url(content_key(stale), "PUT", world.clock.now() + timedelta(hours=1)),
        b"left over",
        headers={},
    )
    assert _created(world, content_key(stale)) is Outcome.CLEANED
    assert content_key(stale) not in world.blobs.objects


def test_future_revisions_are_left_for_their_request(world: World) -> None:
    doc = world.upload_direct(b"x").document
    assert _created(world, content_key(ContentRef(doc.id, 5))) is Outcome.IGNORED


def test_newer_write_to_the_current_key_updates_the_facts(world: World) -> None:
    view = world.upload_presigned(b"a" * 10, declare_sha=False)
    assert view.upload is not None
    world.blobs.client_upload(view.upload, b"a" * 10)
    world.deliver()
    confirmed = world.repo.get(view.document.id)
    # the same form POST used again with other bytes of the same size
    world.blobs.client_upload(view.upload, b"b" * 10)
    events = world.blobs.notifications()
    outcomes = [handle_storage_event(world.ports, e) for e in events]
    assert outcomes == [Outcome.APPLIED]
    rewritten = world.repo.get(view.document.id)
    assert rewritten.version == confirmed.version + 1
    assert rewritten.sha256 != confirmed.sha256
    # the older event delivered late changes nothing
    old = ObjectCreated(
        key=events[0].key, occurred_at=world.clock.now(), sequencer=confirmed.sequencer
    )
    assert handle_storage_event(world.ports, old) is Outcome.UNCHANGED


def test_sequencer_comparison() -> None:
    assert is_newer_sequencer("0055AED6DCD90281E6", "0055AED6DCD90281E5")
    assert not is_newer_sequencer("0055AED6DCD90281E5", "0055AED6DCD90281E5")
    assert is_newer_sequencer("0055AED6DCD90281E60", "0055AED6DCD90281E5")
    assert not is_newer_sequencer("0055AED6DCD90281E5", "0055AED6DCD90281E50")
    assert not is_newer_sequencer(None, "01")
    assert not is_newer_sequencer("01", None)


def test_restore_started_elsewhere_is_followed(world: World) -> None:
    doc = world.upload_direct(b"x").document
    archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc.id))
    world.deliver()
    ref = ContentRef(doc.id, 1)
    world.blobs.request_restore(ref, days=2, tier=RestoreTier.BULK)  # e.g. from the console
    outcomes = world.deliver()
    assert Outcome.APPLIED in outcomes
    assert world.repo.get(doc.id).state is ArchiveState.RESTORING
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    assert world.repo.get(doc.id).state is ArchiveState.RESTORED


def test_restore_completion_for_a_record_that_missed_the_request(world: World) -> None:
    doc = world.upload_direct(b"x").document
    archive_document(world.ports, world.editor, ArchiveDocument(document_id=doc.id))
    world.deliver()
    ref = ContentRef(doc.id, 1)
    world.blobs.request_restore(ref, days=2, tier=RestoreTier.STANDARD)
    world.blobs.notifications()  # the initiated event is lost
    world.clock.advance(world.blobs.restore_delay)
    assert world.deliver()[-1] is Outcome.APPLIED
    assert world.repo.get(doc.id).state is ArchiveState.RESTORED


def test_restore_events_for_deleted_or_other_revisions_change_nothing(world: World) -> None:
    doc = world.upload_direct(b"x").document
    event = RestoreCompleted(key=content_key(ContentRef(doc.id, 9)), occurred_at=world.clock.now())
    assert handle_storage_event(world.ports, event) is Outcome.IGNORED
    event = RestoreCompleted(key=content_key(ContentRef(UNKNOWN, 1)), occurred_at=world.clock.now())
    assert handle_storage_event(world.ports, event) is Outcome.IGNORED
    active = RestoreInitiated(key=content_key(ContentRef(doc.id, 1)), occurred_at=world.clock.now())
    assert handle_storage_event(world.ports, active) is Outcome.UNCHANGED
    assert (
        handle_storage_event(
            world.ports, RestoreCompleted(key=sidecar_key(doc.id), occurred_at=world.clock.now())
        )
        is Outcome.IGNORED
    )
