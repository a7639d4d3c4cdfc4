"""Upload use cases: direct, presigned PUT/POST, multipart, and confirmation by storage events."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from kumocms.commands import CompleteUpload, IssuePartUrls, UploadDocument
from kumocms.errors import (
    ChecksumMismatchError,
    DocumentNotFoundError,
    ForbiddenError,
    InvalidChecksumError,
    InvalidContentTypeError,
    InvalidFileNameError,
    InvalidMetadataError,
    InvalidSizeError,
    NotMultipartUploadError,
    PayloadTooLargeError,
    UploadPendingError,
    UploadRejectedError,
    ValidationError,
)
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.ports import CompletedPart
from kumocms.settings import MiB, Settings
from kumocms.states import ArchiveState
from kumocms.usecases.documents import (
    complete_upload,
    get_content,
    get_document,
    issue_part_urls,
    upload_document,
)
from kumocms.usecases.ingest import Outcome
from tests.unit.conftest import World


def test_direct_upload_is_active_at_once_with_sha256_and_sidecar(world: World) -> None:
    view = world.upload_direct(b"hello", metadata={"team": "blue"})
    doc = view.document
    assert doc.state is ArchiveState.ACTIVE
    assert doc.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert doc.size == 5
    assert doc.version == 1
    assert dict(doc.metadata) == {"team": "blue"}
    assert view.download is not None
    assert view.upload is None
    assert world.blobs.read_sidecar(doc.id) == {"team": "blue"}
    assert world.blobs.client_get(view.download.url) == b"hello"
    assert world.bus.names() == ["DocumentUploaded"]
    # its own storage event changes nothing
    assert world.repo.get(doc.id).version == 1


def test_every_document_gets_a_sidecar_even_without_metadata(world: World) -> None:
    doc = world.upload_direct(b"x").document
    assert world.blobs.read_sidecar(doc.id) == {}
    assert sidecar_key(doc.id) in world.blobs.objects


def test_direct_upload_checks_declared_size_and_sha256(world: World) -> None:
    with pytest.raises(ChecksumMismatchError):
        world.upload_direct(b"hello", sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError):
        world.upload_direct(b"hello", size=6)
    with pytest.raises(InvalidSizeError):
        world.upload_direct(b"")
    assert world.repo.list(limit=10, cursor=None, state=None).items == ()


def test_direct_upload_above_the_limit_is_refused_with_a_pointer_to_presigned(
    world: World,
) -> None:
    with pytest.raises(PayloadTooLargeError, match="presigned"):
        world.upload_direct(b"x" * (4 * MiB + 1))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"file_name": ""}, InvalidFileNameError),
        ({"file_name": "..."}, InvalidFileNameError),
        ({"file_name": "a" * 300}, InvalidFileNameError),
        ({"content_type": "nonsense"}, InvalidContentTypeError),
        ({"metadata": []}, InvalidMetadataError),
        ({"metadata": {"n": float("nan")}}, InvalidMetadataError),
        ({"size": 0}, InvalidSizeError),
        ({"size": 5 * 1024**4 + 1}, InvalidSizeError),
        ({"sha256": "xyz"}, InvalidChecksumError),
        ({"size": None}, ValidationError),
    ],
)
def test_presigned_upload_rejects_bad_input(world: World, fields: dict, error: type) -> None:
    command = {"file_name": "a.bin", "content_type": "application/pdf", "size": 10, **fields}
    with pytest.raises(error):
        upload_document(world.ports, world.editor, UploadDocument(**command))
    assert world.repo.list(limit=10, cursor=None, state=None).items == ()


def test_path_like_and_unicode_names_are_accepted_and_sanitised(world: World) -> None:
    doc = world.upload_direct(b"x", file_name="../报告\r\n2026.pdf").document
    assert doc.file_name == ".._报告__2026.pdf"


def test_readers_cannot_upload(world: World) -> None:
    with pytest.raises(ForbiddenError):
        upload_document(world.ports, world.reader, UploadDocument(file_name="a", content=b"x"))


def test_presigned_put_when_sha256_declared_then_confirmed_by_the_event(world: World) -> None:
    content = b"y" * 5000
    view = world.upload_presigned(content)
    doc = view.document
    assert doc.state is ArchiveState.PENDING
    assert view.upload is not None
    assert view.upload.method == "PUT"
    assert view.download is None
    with pytest.raises(UploadPendingError):
        get_content(world.ports, world.reader, doc.id)
    world.blobs.client_upload(view.upload, content)
    assert world.deliver()[-1] is Outcome.APPLIED
    confirmed = world.repo.get(doc.id)
    assert confirmed.state is ArchiveState.ACTIVE
    assert confirmed.version == 2
    assert confirmed.sha256 == hashlib.sha256(content).hexdigest()
    url = get_content(world.ports, world.reader, doc.id)
    assert world.blobs.client_get(url.url) == content
    assert world.bus.names() == ["DocumentUploadStarted", "DocumentUploaded"]


def test_presigned_post_without_sha256_computes_it_on_confirmation(world: World) -> None:
    content = b"z" * 3000
    view = world.upload_presigned(content, declare_sha=False)
    assert view.upload is not None
    assert view.upload.method == "POST"
    assert view.document.sha256 is None
    world.blobs.client_upload(view.upload, content)
    world.deliver()
    doc = world.repo.get(view.document.id)
    assert doc.state is ArchiveState.ACTIVE
    assert doc.sha256 == hashlib.sha256(content).hexdigest()


def test_storage_refuses_content_that_differs_from_the_signed_checksum(world: World) -> None:
    view = world.upload_presigned(b"a" * 100)
    assert view.upload is not None
    with pytest.raises(PermissionError):
        world.blobs.client_upload(view.upload, b"b" * 100)
    with pytest.raises(PermissionError):
        world.blobs.client_upload(view.upload, b"a" * 99)


def test_arrived_content_that_differs_is_rejected_and_deleted(world: World) -> None:
    view = world.upload_presigned(b"a" * 100, declare_sha=False, size=100)
    doc = view.document
    # a client that ignores the signed length (storage in AWS would refuse; the fake lets us)
    _write_object(world, ContentRef(doc.id, 1), b"a" * 101)
    assert world.deliver()[-1] is Outcome.APPLIED
    rejected = world.repo.get(doc.id)
    assert rejected.state is ArchiveState.REJECTED
    assert rejected.pending is None
    assert content_key(ContentRef(doc.id, 1)) not in world.blobs.objects
    with pytest.raises(UploadRejectedError):
        get_content(world.ports, world.reader, doc.id)
    assert world.bus.names()[-1] == "DocumentUploadRejected"
    # a duplicate of the event only repeats the (idempotent) delete
    assert world.blobs.notifications() == []


def _write_object(world: World, ref: ContentRef, content: bytes) -> None:
    """Put an object as a misbehaving client could (no signed conditions)."""
    world.blobs.client_put(_unsigned_put_url(world, ref), content, headers={})


def _unsigned_put_url(world: World, ref: ContentRef) -> str:
    return world.blobs._url(content_key(ref), "PUT", world.clock.now() + timedelta(hours=1))


def test_duplicate_and_reordered_events_change_nothing(world: World) -> None:
    content = b"q" * 10
    view = world.upload_presigned(content)
    assert view.upload is not None
    world.blobs.client_upload(view.upload, content)
    events = world.blobs.notifications()
    from kumocms.usecases.ingest import handle_storage_event

    assert handle_storage_event(world.ports, events[-1]) is Outcome.APPLIED
    version = world.repo.get(view.document.id).version
    for _ in range(3):
        for event in reversed(events):
            handle_storage_event(world.ports, event)
    assert world.repo.get(view.document.id).version == version


def test_pending_upload_that_never_arrives_expires_as_not_found(world: World) -> None:
    view = world.upload_presigned(b"w" * 10)
    world.clock.advance(world.ports.settings.pending_upload_ttl)
    with pytest.raises(DocumentNotFoundError):
        get_document(world.ports, world.reader, view.document.id)


def test_multipart_upload_with_reissued_part_urls(world: World) -> None:
    settings = Settings(multipart_threshold=1000, part_size=400)
    world.ports = world.ports.__class__(**{**_fields(world.ports), "settings": settings})
    content = bytes(range(256)) * 9  # 2304 bytes -> 6 parts of 400
    view = world.upload_presigned(content)
    target = view.upload
    assert target is not None
    assert target.method == "MULTIPART"
    assert target.part_size == 400
    assert [p.part_number for p in target.parts] == [1, 2, 3, 4, 5, 6]
    world.clock.advance(timedelta(hours=2))  # the first URLs expired
    with pytest.raises(PermissionError):
        world.blobs.client_put(target.parts[0].url, content[:400], headers={})
    parts, _ = issue_part_urls(
        world.ports,
        world.editor,
        IssuePartUrls(document_id=view.document.id, part_numbers=[1, 2, 3, 4, 5, 6]),
    )
    etags = [
        world.blobs.client_put(p.url, content[i * 400 : (i + 1) * 400], headers={})
        for i, p in enumerate(parts)
    ]
    done = complete_upload(
        world.ports,
        world.editor,
        CompleteUpload(
            document_id=view.document.id,
            parts=[CompletedPart(part_number=i + 1, etag=e) for i, e in enumerate(etags)],
        ),
    )
    assert done.document.state is ArchiveState.ACTIVE
    assert done.document.sha256 == hashlib.sha256(content).hexdigest()
    assert done.download is not None
    # the storage event of the completed upload then changes nothing
    assert set(world.deliver()) == {Outcome.UNCHANGED}


def test_multipart_part_numbers_are_validated(world: World) -> None:
    settings = Settings(multipart_threshold=1000, part_size=400)
    world.ports = world.ports.__class__(**{**_fields(world.ports), "settings": settings})
    view = world.upload_presigned(b"x" * 2000)
    doc_id = view.document.id
    for numbers in ([], [0], [6], [1, 1], [True]):
        with pytest.raises(ValidationError):
            issue_part_urls(
                world.ports, world.editor, IssuePartUrls(document_id=doc_id, part_numbers=numbers)
            )
    with pytest.raises(ValidationError):
        complete_upload(
            world.ports,
            world.editor,
            CompleteUpload(
                document_id=doc_id,
                parts=[
                    CompletedPart(part_number=2, etag="a"),
                    CompletedPart(part_number=1, etag="b"),
                ],
            ),
        )
    with pytest.raises(ValidationError):
        complete_upload(
            world.ports,
            world.editor,
            CompleteUpload(document_id=doc_id, parts=[CompletedPart(part_number=1, etag="wrong")]),
        )


def test_part_urls_only_for_pending_multipart_uploads(world: World) -> None:
    doc = world.upload_direct(b"x").document
    with pytest.raises(NotMultipartUploadError):
        issue_part_urls(
            world.ports, world.editor, IssuePartUrls(document_id=doc.id, part_numbers=[1])
        )
    with pytest.raises(NotMultipartUploadError):
        complete_upload(world.ports, world.editor, CompleteUpload(document_id=doc.id, parts=[]))


def test_huge_files_get_parts_that_fit_ten_thousand(world: World) -> None:
    view = world.upload_presigned(b"", size=5 * 1024**4, sha256=None)
    target = view.upload
    assert target is not None
    assert target.part_size is not None
    assert target.part_size * 10_000 >= 5 * 1024**4
    assert target.part_size % MiB == 0
    assert len(target.parts) == 100  # the rest come from uploads/parts


def _fields(ports: object) -> dict[str, object]:
    import attrs

    return {f.name: getattr(ports, f.name) for f in attrs.fields(type(ports))}
