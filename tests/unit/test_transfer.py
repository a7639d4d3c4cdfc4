"""The transfer worker and state `archiving`: large copies off the request path, on the fakes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import attrs
import pytest

from adapters.memory import InMemoryBlobStore, InMemoryQueue, in_memory_ports
from kumocms import events as ev
from kumocms.commands import (
    ArchiveDocument,
    DeleteDocument,
    ReplaceDocument,
    RestoreDocument,
    UpdateMetadata,
)
from kumocms.errors import (
    ConflictError,
    DependencyError,
    IllegalTransitionError,
)
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from kumocms.model import (
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    CopiedPart,
    RestoreRequest,
    plan_copy_part_size,
)
from kumocms.settings import MiB, Settings
from kumocms.states import TRANSITIONS, Action, ArchiveState, StorageClass, allows
from kumocms.usecases.archive import archive_document, restore_document
from kumocms.usecases.documents import delete_document, get_content, replace_document
from kumocms.usecases.documents import update_metadata as patch
from kumocms.usecases.reconcile import reconcile
from kumocms.usecases.transfer import CopyOrder, CopyOutcome, run_copy
from tests.unit.conftest import World

CONTENT = bytes(range(256)) * (11 * MiB // 256) + b"tail"
"""Three parts of 5 MiB, 5 MiB and a bit."""
PLENTY = timedelta(minutes=15)


def _settings(**overrides: object) -> Settings:
    fields: dict[str, object] = {
        "direct_upload_limit": 12 * MiB,
        "sync_copy_limit": 1024,
        "copy_part_size": MIN_PART_SIZE,
        "copy_concurrency": 2,
        **overrides,
    }
    return Settings(**fields)  # type: ignore[arg-type]


def _world(**overrides: object) -> World:
    return World(in_memory_ports(settings=_settings(**overrides)))


@pytest.fixture
def big() -> World:
    return _world()


def _queue(world: World) -> InMemoryQueue:
    assert isinstance(world.ports.transfers, InMemoryQueue)
    return world.ports.transfers


def _archive(world: World, doc_id: DocumentId, cls: StorageClass = StorageClass.GLACIER):
    command = ArchiveDocument(document_id=doc_id, storage_class=cls)
    return archive_document(world.ports, world.editor, command)


def _work(
    world: World, *, remaining: Sequence[timedelta] = (), limit: int = 20
) -> list[CopyOutcome]:
    """Run the worker on every queued order (as the queue would), until the queue is empty."""
    queue = _queue(world)
    times = list(remaining)
    outcomes: list[CopyOutcome] = []
    for _ in range(limit):
        messages = queue.receive(limit=1)
        if not messages:
            world.clock.advance(timedelta(minutes=16))  # delayed retries become visible
            messages = queue.receive(limit=1)
            if not messages:
                return outcomes
        message = messages[0]

        def left() -> timedelta:
            return times.pop(0) if times else PLENTY

        outcome = run_copy(
            world.ports, CopyOrder.decode(message.body), attempts=message.attempts, remaining=left
        )
        queue.delete(message)
        outcomes.append(outcome)
    return outcomes


def _current(world: World, doc_id: DocumentId):
    return world.blobs.objects[content_key(ContentRef(doc_id, 1))]


# ---- the transition table -----------------------------------------------------------------


def test_the_table_lets_archiving_end_only_archived_back_active_or_deleted() -> None:
    leaving = {
        action: moves[ArchiveState.ARCHIVING]
        for action, moves in TRANSITIONS.items()
        if ArchiveState.ARCHIVING in moves
    }
    assert leaving == {
        Action.UPDATE_METADATA: ArchiveState.ARCHIVING,
        Action.COMMIT_ARCHIVE: ArchiveState.ARCHIVED,
        Action.FAIL_COPY: ArchiveState.ACTIVE,
        Action.CANCEL_COPY: ArchiveState.ACTIVE,
        Action.DELETE: ArchiveState.ARCHIVING,
        Action.SET_LEGAL_HOLD: ArchiveState.ARCHIVING,
        Action.RECORD_HOLDS: ArchiveState.ARCHIVING,
    }
    assert TRANSITIONS[Action.START_ARCHIVE] == {ArchiveState.ACTIVE: ArchiveState.ARCHIVING}
    for action in (Action.REPLACE, Action.REQUEST_RESTORE, Action.ARCHIVE, Action.MAKE_PERMANENT):
        assert not allows(ArchiveState.ARCHIVING, action)
    assert TRANSITIONS[Action.START_PERMANENT] == {ArchiveState.RESTORED: ArchiveState.RESTORED}


def test_part_sizes_stay_within_s3_limits() -> None:
    for size in (1, 5 * MiB, 50 * 10**9, 5 * 1024**4):
        part = plan_copy_part_size(size, 512 * MiB)
        assert MIN_PART_SIZE <= part <= MAX_PART_SIZE
        assert -(-size // part) <= MAX_PARTS
    assert plan_copy_part_size(5 * 1024**4, 512 * MiB) == 525 * MiB


# ---- archive above the limit ----------------------------------------------------------------


def test_a_large_archive_answers_at_once_and_stays_readable_while_copying(big: World) -> None:
    doc = big.upload_direct(CONTENT).document
    result = _archive(big, doc.id)
    assert result.in_progress
    assert result.retry_after_seconds is not None
    archiving = result.view.document
    assert archiving.state is ArchiveState.ARCHIVING
    assert archiving.copy is not None
    assert result.view.download is not None
    assert big.blobs.client_get(get_content(big.ports, big.reader, doc.id).url) == CONTENT
    patched = patch(
        big.ports, big.editor, UpdateMetadata(document_id=doc.id, patch={"k": 1})
    ).document
    assert patched.state is ArchiveState.ARCHIVING
    job = big.repo.get_copy(doc.id)
    assert job is not None
    assert (job.part_count, job.part_size, job.storage_class) == (3, 5 * MiB, StorageClass.GLACIER)
    assert job.source_version == _current(big, doc.id).version_id
    assert len(_queue(big).pending()) == 1


def test_the_worker_commits_and_the_document_is_archived(big: World) -> None:
    doc = big.upload_direct(CONTENT).document
    _archive(big, doc.id)
    link = get_content(big.ports, big.reader, doc.id).url  # handed out while archiving
    assert _work(big) == [CopyOutcome.COMMITTED]
    # It names the source version, so it still serves the bytes (the key itself now holds
    # the GLACIER copy, which a plain GET would refuse).
    assert big.blobs.client_get(link) == CONTENT
    archived = big.repo.get(doc.id)
    assert archived.state is ArchiveState.ARCHIVED
    assert archived.storage_class is StorageClass.GLACIER
    assert archived.copy is None
    current = _current(big, doc.id)
    assert current.data == CONTENT
    assert current.storage_class is StorageClass.GLACIER
    assert archived.content_version == current.version_id
    assert big.repo.get_copy(doc.id) is None
    assert big.blobs.open_uploads() == []
    # The commit's own Object Created events change nothing (recognised by version id).
    big.deliver()
    assert big.repo.get(doc.id).version == archived.version
    assert big.bus.names()[-2:] == ["DocumentCopyStarted", "DocumentArchived"]


def test_archive_again_with_the_same_class_answers_the_running_copy(big: World) -> None:
    doc = big.upload_direct(CONTENT).document
    first = _archive(big, doc.id).view.document
    again = _archive(big, doc.id)
    assert again.in_progress
    assert again.view.document.version == first.version
    with pytest.raises(ConflictError):
        _archive(big, doc.id, StorageClass.DEEP_ARCHIVE)
    assert len(_queue(big).pending()) == 1


def test_restore_and_replace_are_refused_while_archiving(big: World) -> None:
    doc = big.upload_direct(CONTENT).document
    _archive(big, doc.id)
    with pytest.raises(IllegalTransitionError):
        restore_document(
            big.ports, big.editor, RestoreDocument(document_id=doc.id, request=RestoreRequest())
        )
    with pytest.raises(IllegalTransitionError):
        replace_document(
            big.ports,
            big.editor,
            ReplaceDocument(document_id=doc.id, file_name="b.txt", content=b"new"),
        )


def test_a_small_archive_still_copies_within_the_request() -> None:
    world = _world(sync_copy_limit=1024)
    doc = world.upload_direct(b"small").document
    result = _archive(world, doc.id)
    assert not result.in_progress
    assert result.view.document.state is ArchiveState.ARCHIVED
    assert _queue(world).pending() == ()


def test_delete_cancels_the_copy_and_trashes_the_document_as_active(big: World) -> None:
    doc = big.upload_direct(CONTENT).document
    _archive(big, doc.id)
    delete_document(big.ports, big.editor, DeleteDocument(document_id=doc.id))
    assert big.blobs.open_uploads() == []
    assert big.repo.get_copy(doc.id) is None
    assert _work(big) == [CopyOutcome.UNKNOWN]
    trashed = big.repo.get(doc.id)
    assert trashed.trash is not None
    assert trashed.state is ArchiveState.ACTIVE
    assert trashed.copy is None
    assert _current(big, doc.id).data == CONTENT  # the trash keeps the content
    assert big.bus.names()[-2:] == ["DocumentCopyCancelled", "DocumentDeleted"]


def test_a_worker_that_nears_its_deadline_hands_over_and_the_next_one_finishes() -> None:
    world = _world(copy_concurrency=1, copy_assumed_throughput=5 * MiB)
    doc = world.upload_direct(CONTENT).document
    _archive(world, doc.id)
    # The first invocation has time for one part (1 s estimate + 30 s margin), then not.
    outcomes = _work(world, remaining=[timedelta(seconds=40), timedelta(seconds=20)])
    assert outcomes == [CopyOutcome.HANDED_OVER, CopyOutcome.COMMITTED]
    assert _current(world, doc.id).data == CONTENT
    assert world.repo.get(doc.id).state is ArchiveState.ARCHIVED


def test_a_resumed_copy_keeps_the_parts_already_copied() -> None:
    world = _world(copy_concurrency=1, copy_assumed_throughput=5 * MiB)
    doc = world.upload_direct(CONTENT).document
    _archive(world, doc.id)
    _work(world, remaining=[timedelta(seconds=40), timedelta(seconds=0)], limit=1)
    job = world.repo.get_copy(doc.id)
    assert job is not None
    assert [part.number for part in job.parts] == [1]
    before = world.blobs.requests.count("copy_part")
    assert _work(world) == [CopyOutcome.COMMITTED]
    assert world.blobs.requests.count("copy_part") - before == 2


class _RacingBlobStore(InMemoryBlobStore):
    """Completes a copy, then lets a racer change the document before the worker saves it."""

    racer: object = None

    def complete_copy(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        parts: Sequence[CopiedPart],
        source: ContentRef | None = None,
    ) -> str:
        version = super().complete_copy(
            ref, copy_upload=copy_upload, source_version=source_version, parts=parts, source=source
        )
        assert callable(self.racer)
        self.racer()
        return version


def _racing_world() -> tuple[World, _RacingBlobStore]:
    ports = in_memory_ports(settings=_settings())
    blobs = _RacingBlobStore(ports.clock)  # type: ignore[arg-type]
    return World(attrs.evolve(ports, blobs=blobs)), blobs


def test_a_commit_is_refused_when_the_copy_id_changed_and_its_version_is_deleted() -> None:
    world, blobs = _racing_world()
    doc = world.upload_direct(CONTENT).document
    source_version = _current(world, doc.id).version_id
    _archive(world, doc.id)

    def roll_back_meanwhile() -> None:
        current = world.repo.get(doc.id)
        assert current.copy is not None
        changed = current.fail_copy(current.copy.copy_id, reason="test", now=world.clock.now())
        world.repo.save(changed.document, expected_version=current.version)

    blobs.racer = roll_back_meanwhile
    assert _work(world) == [CopyOutcome.CANCELLED]
    current = _current(world, doc.id)
    assert current.version_id == source_version
    assert current.storage_class is StorageClass.STANDARD
    assert all(
        obj.storage_class is StorageClass.STANDARD
        for obj in blobs.noncurrent.get(content_key(ContentRef(doc.id, 1)), [])
    )
    assert world.repo.get(doc.id).state is ArchiveState.ACTIVE


def test_a_commit_after_the_document_was_deleted_leaves_no_version_behind() -> None:
    world, blobs = _racing_world()
    doc = world.upload_direct(CONTENT).document
    _archive(world, doc.id)
    blobs.racer = lambda: world.repo.remove(doc.id, expected_version=world.repo.get(doc.id).version)
    assert _work(world) == [CopyOutcome.CANCELLED]
    assert _current(world, doc.id).storage_class is StorageClass.STANDARD
    assert world.repo.get_copy(doc.id) is None


class _WorkerDied(Exception):  # noqa: N818 - what happened, not an error of ours
    """The Lambda died (timeout, out of memory): nothing after the call ran."""


def test_a_worker_dying_right_after_completing_commits_on_redelivery() -> None:
    world, blobs = _racing_world()
    doc = world.upload_direct(CONTENT).document

    def die_once() -> None:
        blobs.racer = lambda: None
        raise _WorkerDied

    blobs.racer = die_once
    _archive(world, doc.id)
    message = _queue(world).receive(limit=1)[0]
    with pytest.raises(_WorkerDied):
        run_copy(world.ports, CopyOrder.decode(message.body), attempts=0, remaining=lambda: PLENTY)
    completed = _current(world, doc.id).version_id
    # The message was not deleted: SQS delivers it again once its visibility times out.
    assert (
        run_copy(world.ports, CopyOrder.decode(message.body), attempts=1, remaining=lambda: PLENTY)
        is CopyOutcome.COMMITTED
    )
    document = world.repo.get(doc.id)
    assert document.state is ArchiveState.ARCHIVED
    assert document.content_version == completed
    assert _current(world, doc.id).storage_class is StorageClass.GLACIER
    assert _current(world, doc.id).data == CONTENT


class _DownQueue(InMemoryQueue):
    def send(self, body: str, **kwargs: object) -> str:  # type: ignore[override]
        raise DependencyError("SQS is down")


def test_a_copy_order_that_cannot_be_sent_undoes_the_start() -> None:
    ports = in_memory_ports(settings=_settings())
    world = World(attrs.evolve(ports, transfers=_DownQueue(ports.clock)))  # type: ignore[arg-type]
    doc = world.upload_direct(CONTENT).document
    with pytest.raises(DependencyError):
        _archive(world, doc.id)
    back = world.repo.get(doc.id)
    assert back.state is ArchiveState.ACTIVE
    assert back.copy is None
    assert world.repo.get_copy(doc.id) is None
    assert not world.blobs._uploads  # the multipart copy was aborted
    # The client's retry starts afresh (here the queue is still down, so it fails alike).
    with pytest.raises(DependencyError):
        _archive(world, doc.id)
    assert world.repo.get(doc.id).state is ArchiveState.ACTIVE


def test_a_copy_whose_source_changed_is_rolled_back(big: World) -> None:
    doc = big.upload_direct(CONTENT).document
    _archive(big, doc.id)
    # A leaked presigned URL rewrites the key while the copy waits in the queue.
    big.blobs.client_put(
        big.blobs.presign_download(
            ContentRef(doc.id, 1),
            file_name="a",
            content_type="x",
            expires_in=PLENTY,
            version_id=None,
        ).url.replace("method=GET", "method=PUT"),
        b"other bytes",
        headers={},
    )
    assert _work(big) == [CopyOutcome.FAILED]
    back = big.repo.get(doc.id)
    assert back.state is ArchiveState.ACTIVE
    assert back.copy is None
    assert big.blobs.open_uploads() == []
    failed = big.bus.published[-1]
    assert isinstance(failed, ev.DocumentCopyFailed)
    assert "changed" in failed.reason


def test_the_last_attempt_rolls_back() -> None:
    world = _world(copy_max_attempts=2)
    doc = world.upload_direct(CONTENT).document
    _archive(world, doc.id)
    real_copy_part = world.blobs.copy_part

    def broken(*args: object, **kwargs: object) -> CopiedPart:
        raise DependencyError("S3 UploadPartCopy failed")

    world.blobs.copy_part = broken  # type: ignore[method-assign]
    assert _work(world) == [CopyOutcome.RETRYING, CopyOutcome.FAILED]
    world.blobs.copy_part = real_copy_part  # type: ignore[method-assign]
    back = world.repo.get(doc.id)
    assert back.state is ArchiveState.ACTIVE
    assert world.blobs.open_uploads() == []
    assert world.bus.names()[-1] == "DocumentCopyFailed"
    assert _current(world, doc.id).data == CONTENT


def test_reconcile_rolls_back_a_copy_without_progress(big: World) -> None:
    doc = big.upload_direct(CONTENT).document
    _archive(big, doc.id)
    big.clock.advance(timedelta(seconds=899))
    assert reconcile(big.ports).copies_failed == 0
    big.clock.advance(timedelta(seconds=2))
    assert reconcile(big.ports).copies_failed == 1
    assert big.repo.get(doc.id).state is ArchiveState.ACTIVE
    assert big.repo.get_copy(doc.id) is None
    assert big.blobs.open_uploads() == []
    assert _work(big) == [CopyOutcome.UNKNOWN]  # the order that arrives late finds nothing


# ---- permanent restore above the limit ------------------------------------------------------


def _restored(world: World) -> DocumentId:
    doc = world.upload_direct(CONTENT).document
    _archive(world, doc.id)
    _work(world)
    restore_document(
        world.ports, world.editor, RestoreDocument(document_id=doc.id, request=RestoreRequest())
    )
    world.clock.advance(world.blobs.restore_delay)
    world.deliver()
    assert world.repo.get(doc.id).state is ArchiveState.RESTORED
    return doc.id


def test_a_large_permanent_restore_stays_restored_until_the_worker_commits(big: World) -> None:
    doc_id = _restored(big)
    result = restore_document(
        big.ports,
        big.editor,
        RestoreDocument(document_id=doc_id, request=RestoreRequest(permanent=True)),
    )
    assert result.in_progress
    waiting = result.view.document
    assert waiting.state is ArchiveState.RESTORED
    assert waiting.restore is not None
    assert waiting.restore.permanent
    assert result.view.download is not None
    assert _work(big) == [CopyOutcome.COMMITTED]
    active = big.repo.get(doc_id)
    assert active.state is ArchiveState.ACTIVE
    assert active.storage_class is StorageClass.STANDARD
    assert _current(big, doc_id).storage_class is StorageClass.STANDARD
    assert _current(big, doc_id).data == CONTENT
