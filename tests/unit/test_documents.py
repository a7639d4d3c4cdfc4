"""Retrieve, list, patch, replace and delete use cases."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import attrs
import pytest

from kumocms.commands import DeleteDocument, ReplaceDocument, UpdateMetadata
from kumocms.errors import (
    ConflictError,
    DocumentNotFoundError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidCursorError,
    InvalidMetadataError,
    PayloadTooLargeError,
    PreconditionFailedError,
    ValidationError,
)
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.settings import MiB
from kumocms.states import ArchiveState
from kumocms.usecases.documents import (
    delete_document,
    get_content,
    get_document,
    list_documents,
    replace_document,
    update_metadata,
)
from kumocms.usecases.ingest import Outcome
from tests.unit.conftest import World

MISSING = DocumentId.parse("01ARZ3NDEKTSV4RRFFQ69G5FAV")


def test_get_returns_document_with_download_link(world: World) -> None:
    doc = world.upload_direct(b"abc", file_name="a.txt").document
    view = get_document(world.ports, world.reader, doc.id)
    assert view.document == doc
    assert view.download is not None
    assert view.download.expires_at == world.clock.now() + world.ports.settings.presign_ttl
    assert "a.txt" in view.download.url


def test_missing_documents_are_not_found(world: World) -> None:
    for call in (
        lambda: get_document(world.ports, world.reader, MISSING),
        lambda: get_content(world.ports, world.reader, MISSING),
        lambda: update_metadata(
            world.ports, world.editor, UpdateMetadata(document_id=MISSING, patch={})
        ),
        lambda: delete_document(world.ports, world.editor, DeleteDocument(document_id=MISSING)),
    ):
        with pytest.raises(DocumentNotFoundError):
            call()


def test_list_is_newest_first_with_cursor_and_state_filter(world: World) -> None:
    ids = []
    for i in range(5):
        ids.append(world.upload_direct(f"doc {i}".encode()).document.id)
        world.clock.advance(timedelta(milliseconds=5))
    pending = world.upload_presigned(b"p" * 10).document.id
    first = list_documents(world.ports, world.reader, limit=4)
    assert [v.document.id for v in first.items] == [pending, *ids[::-1][:3]]
    assert first.next_cursor is not None
    second = list_documents(world.ports, world.reader, limit=4, cursor=first.next_cursor)
    assert [v.document.id for v in second.items] == ids[::-1][3:]
    assert second.next_cursor is None
    only_pending = list_documents(world.ports, world.reader, state=ArchiveState.PENDING)
    assert [v.document.id for v in only_pending.items] == [pending]
    assert all(v.download is None for v in first.items)


@pytest.mark.parametrize("limit", [0, 101, -1, True])
def test_list_limit_out_of_range(world: World, limit: int) -> None:
    with pytest.raises(ValidationError):
        list_documents(world.ports, world.reader, limit=limit)


@pytest.mark.parametrize("cursor", ["", "garbage", "eyJ2IjoxfQ", "!!!", "x" * 500])
def test_tampered_cursors_are_rejected(world: World, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        list_documents(world.ports, world.reader, cursor=cursor)


def test_cursor_of_one_listing_is_refused_by_another(world: World) -> None:
    for _ in range(3):
        world.upload_direct(b"x")
    page = list_documents(world.ports, world.reader, limit=1)
    assert page.next_cursor is not None
    with pytest.raises(InvalidCursorError):
        list_documents(
            world.ports, world.reader, cursor=page.next_cursor, state=ArchiveState.ACTIVE
        )


def test_patch_is_a_json_merge_patch_and_rewrites_the_sidecar(world: World) -> None:
    doc = world.upload_direct(b"x", metadata={"a": 1, "b": {"c": 2, "d": 3}}).document
    view = update_metadata(
        world.ports,
        world.editor,
        UpdateMetadata(document_id=doc.id, patch={"a": None, "b": {"c": 20}, "e": [1, 2]}),
    )
    assert view.document.version == 2
    expected = {"b": {"c": 20, "d": 3}, "e": (1, 2)}
    assert view.document.metadata == expected
    assert world.blobs.read_sidecar(doc.id) == expected
    assert world.bus.names()[-1] == "DocumentMetadataUpdated"


def test_patch_that_changes_nothing_keeps_the_version(world: World) -> None:
    doc = world.upload_direct(b"x", metadata={"a": 1}).document
    view = update_metadata(
        world.ports, world.editor, UpdateMetadata(document_id=doc.id, patch={"a": 1})
    )
    assert view.document.version == 1


@pytest.mark.parametrize("patch", [[], "x", 3, None])
def test_patch_must_be_an_object(world: World, patch: object) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(InvalidMetadataError):
        update_metadata(world.ports, world.editor, UpdateMetadata(document_id=doc.id, patch=patch))


def test_patch_with_stale_if_match_fails(world: World) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(PreconditionFailedError) as failure:
        update_metadata(
            world.ports,
            world.editor,
            UpdateMetadata(document_id=doc.id, patch={"a": 1}, if_match=7),
        )
    assert failure.value.current_version == 1
    ok = update_metadata(
        world.ports, world.editor, UpdateMetadata(document_id=doc.id, patch={"a": 1}, if_match=1)
    )
    assert ok.document.version == 2


def test_patch_works_while_pending_but_not_when_rejected(world: World) -> None:
    view = world.upload_presigned(b"x" * 10)
    patched = update_metadata(
        world.ports, world.editor, UpdateMetadata(document_id=view.document.id, patch={"k": "v"})
    )
    assert patched.document.state is ArchiveState.PENDING
    rejected = world.repo.get(view.document.id)
    world.repo.save(
        attrs.evolve(
            rejected, state=ArchiveState.REJECTED, pending=None, version=rejected.version + 1
        ),
        expected_version=rejected.version,
    )
    with pytest.raises(IllegalTransitionError):
        update_metadata(
            world.ports,
            world.editor,
            UpdateMetadata(document_id=view.document.id, patch={"k": "w"}),
        )


def test_readers_cannot_write(world: World) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(ForbiddenError):
        update_metadata(world.ports, world.reader, UpdateMetadata(document_id=doc.id, patch={}))
    with pytest.raises(ForbiddenError):
        delete_document(world.ports, world.reader, DeleteDocument(document_id=doc.id))


def test_direct_replace_swaps_content_and_keeps_the_old_revision(world: World) -> None:
    doc = world.upload_direct(b"old", file_name="v1.txt").document
    view = replace_document(
        world.ports,
        world.editor,
        ReplaceDocument(
            document_id=doc.id, file_name="v2.txt", content_type="text/plain", content=b"new!"
        ),
    )
    new = view.document
    assert new.state is ArchiveState.ACTIVE
    assert new.version == 2
    assert new.revision == 2
    assert new.file_name == "v2.txt"
    assert new.sha256 == hashlib.sha256(b"new!").hexdigest()
    assert world.blobs.objects[content_key(ContentRef(doc.id, 1))].data == b"old"
    assert [r.number for r in new.kept_revisions] == [1, 2]
    assert view.download is not None
    assert world.blobs.client_get(view.download.url) == b"new!"
    world.deliver()
    assert world.repo.get(doc.id).version == 2


def test_presigned_replace_keeps_old_content_readable_until_confirmed(world: World) -> None:
    doc = world.upload_direct(b"old").document
    view = replace_document(
        world.ports,
        world.editor,
        ReplaceDocument(
            document_id=doc.id,
            file_name="v2.bin",
            size=6,
            sha256=hashlib.sha256(b"newer!").hexdigest(),
        ),
    )
    assert view.upload is not None
    assert view.document.state is ArchiveState.ACTIVE
    assert view.document.file_name == "a.txt"
    url = get_content(world.ports, world.reader, doc.id).url
    assert world.blobs.client_get(url) == b"old"
    world.blobs.client_upload(view.upload, b"newer!")
    world.deliver()
    replaced = world.repo.get(doc.id)
    assert replaced.file_name == "v2.bin"
    assert replaced.revision == 2
    assert world.blobs.client_get(get_content(world.ports, world.reader, doc.id).url) == b"newer!"
    assert world.blobs.objects[content_key(ContentRef(doc.id, 1))].data == b"old"
    assert replaced.revision_number == 2
    assert world.bus.names()[-2:] == ["DocumentReplaceStarted", "DocumentReplaced"]


def test_mismatching_replacement_leaves_the_old_content(world: World) -> None:
    doc = world.upload_direct(b"old").document
    view = replace_document(
        world.ports, world.editor, ReplaceDocument(document_id=doc.id, file_name="v2.bin", size=6)
    )
    assert view.upload is not None
    world.blobs.client_put(
        world.blobs._url(
            content_key(ContentRef(doc.id, 2)),
            "PUT",
            world.clock.now() + timedelta(hours=1),
        ),
        b"longer content",
        headers={},
    )
    world.deliver()
    after = world.repo.get(doc.id)
    assert after.state is ArchiveState.ACTIVE
    assert after.revision == 1
    assert after.pending is None
    assert content_key(ContentRef(doc.id, 2)) not in world.blobs.objects
    assert world.blobs.client_get(get_content(world.ports, world.reader, doc.id).url) == b"old"
    assert world.bus.names()[-1] == "DocumentReplaceRejected"


def test_replace_with_metadata_replaces_it(world: World) -> None:
    doc = world.upload_direct(b"old", metadata={"a": 1}).document
    view = replace_document(
        world.ports,
        world.editor,
        ReplaceDocument(document_id=doc.id, file_name="n", content=b"new", metadata={"b": 2}),
    )
    assert view.document.metadata == {"b": 2}
    assert world.blobs.read_sidecar(doc.id) == {"b": 2}


def test_replace_only_from_active(world: World) -> None:
    pending = world.upload_presigned(b"x" * 10).document
    with pytest.raises(IllegalTransitionError):
        replace_document(
            world.ports,
            world.editor,
            ReplaceDocument(document_id=pending.id, file_name="n", content=b"x"),
        )


def test_replace_validates_like_upload(world: World) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(ValidationError):
        replace_document(world.ports, world.editor, ReplaceDocument(document_id=doc.id))
    with pytest.raises(PayloadTooLargeError):
        replace_document(
            world.ports,
            world.editor,
            ReplaceDocument(document_id=doc.id, file_name="n", content=b"x" * (4 * MiB + 1)),
        )
    with pytest.raises(PreconditionFailedError):
        replace_document(
            world.ports,
            world.editor,
            ReplaceDocument(document_id=doc.id, file_name="n", content=b"x", if_match=3),
        )


def test_second_presigned_replace_supersedes_the_first(world: World) -> None:
    doc = world.upload_direct(b"old").document
    first = replace_document(
        world.ports, world.editor, ReplaceDocument(document_id=doc.id, file_name="a", size=3)
    )
    second = replace_document(
        world.ports, world.editor, ReplaceDocument(document_id=doc.id, file_name="b", size=4)
    )
    assert first.upload is not None
    assert second.upload is not None
    world.blobs.client_upload(first.upload, b"111")
    world.deliver()  # the superseded revision is stale: its object is deleted
    assert world.repo.get(doc.id).revision == 1
    world.blobs.client_upload(second.upload, b"2222")
    world.deliver()
    final = world.repo.get(doc.id)
    assert final.file_name == "b"
    assert world.blobs.client_get(get_content(world.ports, world.reader, doc.id).url) == b"2222"
    leftover = {k for k in world.blobs.objects if k.startswith(sidecar_key(doc.id)[:32])}
    kept = {content_key(ContentRef(doc.id, r.key)) for r in final.kept_revisions}
    assert leftover == {sidecar_key(doc.id), *kept}
    assert [r.number for r in final.kept_revisions] == [1, 2]  # consecutive, keys 1 and 3


def test_delete_trashes_the_document_and_keeps_content_and_sidecar(world: World) -> None:
    doc = world.upload_direct(b"x").document
    delete_document(world.ports, world.editor, DeleteDocument(document_id=doc.id))
    with pytest.raises(DocumentNotFoundError):
        get_document(world.ports, world.reader, doc.id)
    assert world.repo.get(doc.id).trash is not None
    assert {k for k in world.blobs.objects if doc.id.value.lower() in k} == {
        content_key(ContentRef(doc.id, 1)),
        sidecar_key(doc.id),
    }
    assert world.bus.names()[-1] == "DocumentDeleted"


def test_delete_aborts_a_pending_upload(world: World) -> None:
    view = world.upload_presigned(b"x" * 10)
    delete_document(world.ports, world.editor, DeleteDocument(document_id=view.document.id))
    assert view.upload is not None
    world.blobs.client_upload(view.upload, b"x" * 10)  # the URL still works for a while
    assert world.deliver() == []  # a young id: the record may still be coming, ask again
    world.clock.advance(world.ports.settings.orphan_grace)
    assert set(world.deliver()) == {Outcome.CLEANED}  # ... no record, so the orphans go
    with pytest.raises(DocumentNotFoundError):
        world.repo.get(view.document.id)
    assert not [k for k in world.blobs.objects if view.document.id.value.lower() in k]


def test_delete_with_stale_if_match_fails(world: World) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(PreconditionFailedError):
        delete_document(world.ports, world.editor, DeleteDocument(document_id=doc.id, if_match=2))


def test_conflicts_are_retried_then_reported(world: World) -> None:
    doc = world.upload_direct(b"x").document

    class Racing:
        """A repository wrapper whose every save loses a race (another writer got there)."""

        def __init__(self, inner: object) -> None:
            self.inner = inner
            self.saves = 0

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def save(self, document: object, *, expected_version: int, history: object = ()) -> None:
            from kumocms.errors import VersionConflictError

            self.saves += 1
            raise VersionConflictError(
                "lost", expected=expected_version, actual=expected_version + 1
            )

    import attrs

    racing = Racing(world.repo)
    ports = attrs.evolve(world.ports, documents=racing)
    with pytest.raises(ConflictError):
        update_metadata(ports, world.editor, UpdateMetadata(document_id=doc.id, patch={"a": 1}))
    assert racing.saves == world.ports.settings.conflict_retries
