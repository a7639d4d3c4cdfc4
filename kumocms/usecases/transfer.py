"""Domain layer: large copies off the request path — start, run (resumably), commit, roll back.

A copy of a revision onto its own key in another storage class (archive, permanent restore)
larger than `sync_copy_limit` is a job: the use case that starts it records a `CopyJob` beside
the document, points the document at it (`Document.copy`) and sends a `CopyOrder` to the
transfer queue. The worker (`run_copy`) copies the missing parts with UploadPartCopy pinned to
the source version, checkpoints after every batch (conditional on the document's state and copy
id), hands over to a fresh invocation before its deadline, and commits by the contract's rule:
complete in storage, then save the document only if it still waits for this copy — otherwise
delete the version the completion made, by its version id. Failures are retried through the
queue; when retries run out (or reconcile finds the copy stalled) the copy is rolled back:
aborted, the document back in its previous state, and `DocumentCopyFailed` published.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import attrs

from kumocms.errors import (
    CopyCancelledError,
    DependencyError,
    SourceChangedError,
    ValidationError,
)
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef
from kumocms.model import (
    Changed,
    CopiedPart,
    CopyJob,
    CopyTicket,
    Document,
    PartRange,
    plan_copy_part_size,
)
from kumocms.ports import Ports
from kumocms.states import StorageClass
from kumocms.usecases.common import commit, find, revision_version, with_conflict_retries
from kumocms.users import Actor

WORKER = Actor.of_system("transfer")
"""The author of the changes the worker and its rollbacks make."""

HANDOVER_MARGIN = timedelta(seconds=30)
"""Time kept in hand after the last batch for the checkpoint, the hand-over message and the
commit requests."""
MAX_RETRY_DELAY = timedelta(minutes=5)
"""Longest wait before a failed run is retried (well under the stall timeout)."""
FIRST_RETRY_DELAY = timedelta(seconds=15)

Parallel = Callable[[Callable[[PartRange], CopiedPart], Sequence[PartRange]], Sequence[CopiedPart]]
"""Runs one part copy per range, concurrently, and returns the copied parts in order."""
Remaining = Callable[[], timedelta]
"""How long the current invocation has left (Lambda: `get_remaining_time_in_millis`)."""


class CopyOutcome(enum.Enum):
    """What one worker run did with a copy."""

    COMMITTED = "committed"
    HANDED_OVER = "handed_over"
    RETRYING = "retrying"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """The copy was no longer wanted (the document was deleted or moved on); cleaned up."""
    UNKNOWN = "unknown"
    """No such job: it was finished or rolled back by an earlier delivery."""


@attrs.frozen(kw_only=True)
class CopyOrder:
    """The transfer queue's message: which document's copy to work on.

    A body without `copy_id` and with `"kind": "holds"` is a `HoldOrder` (see holds.py).
    """

    document_id: DocumentId
    copy_id: str

    def encode(self) -> str:
        """The message body."""
        return json.dumps({"document_id": self.document_id.value, "copy_id": self.copy_id})

    @classmethod
    def decode(cls, body: str) -> CopyOrder:
        """Read a message body.

        Raises:
            ValidationError: the body is not a copy order.
        """
        try:
            data = json.loads(body)
            document_id, copy_id = data["document_id"], data["copy_id"]
        except (ValueError, TypeError, KeyError) as error:
            raise ValidationError("not a copy order", field="body") from error
        if not isinstance(document_id, str) or not isinstance(copy_id, str) or not copy_id:
            raise ValidationError("not a copy order", field="body")
        return cls(document_id=DocumentId.parse(document_id), copy_id=copy_id)


def needs_worker(ports: Ports, document: Document) -> bool:
    """Whether copying this document's content is too big for a request."""
    return document.size > ports.settings.sync_copy_limit


# ---- starting ------------------------------------------------------------------------------


def start_copy(
    ports: Ports,
    document: Document,
    storage_class: StorageClass,
    begin: Callable[[CopyTicket, datetime], Changed],
    *,
    by: Actor,
    from_revision: int | None = None,
) -> Document:
    """Open the multipart copy, record the job, point the document at it, queue the order.

    The job is recorded first, so that whatever fails later leaves a job that reconcile finds
    (and rolls back) once it has made no progress for `copy_stall`; a document is never left
    waiting for a copy nobody knows about.

    Raises:
        VersionConflictError: the document changed meanwhile (the job is undone).
        DependencyError: storage, the table or the queue failed.
    """
    assert document.revision is not None
    now = ports.clock.now()
    size, content_type = document.size, document.content_type
    if from_revision is None:
        ref = ContentRef(document.id, document.revision)
        source_key = None
        source_version = ports.blobs.current_version(ref)
    else:
        # A revision restore: the kept version of that revision onto a new key.
        old = document.find_revision(from_revision)
        ref = ContentRef(document.id, document.next_revision())
        source_key = old.key
        source_version = revision_version(ports, document, old)
        size, content_type = old.size, old.content_type
    if source_version is None:
        raise DependencyError("the content to copy is missing from storage")
    copy_id = ports.ids.copy_id()
    ticket = CopyTicket(
        copy_id=copy_id,
        storage_class=storage_class,
        previous_state=document.state,
        started_at=now,
        from_revision=from_revision,
        target_key=None if from_revision is None else ref.revision,
        requested_by=by,
    )
    changed = begin(ticket, now)  # validates the move before anything is created
    upload = ports.blobs.start_copy(ref, storage_class=storage_class, content_type=content_type)
    job = CopyJob(
        document_id=document.id,
        copy_id=copy_id,
        revision=ref.revision,
        size=size,
        source_version=source_version,
        source_revision=source_key,
        upload_id=upload,
        part_size=plan_copy_part_size(size, ports.settings.copy_part_size),
        storage_class=storage_class,
        copying_state=changed.document.state,
        previous_state=document.state,
        progress_at=now,
    )
    ports.documents.add_copy(job)
    try:
        saved = commit(ports, document, changed, by=by)
    except Exception:
        ports.documents.remove_copy(document.id, copy_id)
        ports.blobs.abort_copy(ref, copy_upload=upload)
        raise
    try:
        ports.transfers.send(CopyOrder(document_id=document.id, copy_id=copy_id).encode())
    except DependencyError:
        # Nobody would ever run the copy: undo it, so that the 503 means nothing happened and
        # the client's retry starts afresh (if even this fails, reconcile finds the stall).
        roll_back(ports, job, reason="the transfer queue could not be reached")
        raise
    return saved


def copy_retry_after(ports: Ports, document: Document) -> int:
    """Seconds a client should wait before looking at a running copy again."""
    seconds = document.size / ports.settings.copy_assumed_throughput
    seconds /= ports.settings.copy_concurrency
    return max(5, min(300, int(seconds) // 4))


# ---- the worker ----------------------------------------------------------------------------


def run_copy(
    ports: Ports,
    order: CopyOrder,
    *,
    attempts: int,
    remaining: Remaining,
    parallel: Parallel | None = None,
) -> CopyOutcome:
    """Work on a copy until it is committed, or the invocation must hand over.

    A storage or table failure is retried through the transfer queue (with a growing delay);
    after `copy_max_attempts` failed runs the copy is rolled back.

    Raises:
        DependencyError: even the retry (or the rollback) could not be arranged; the queue
            delivers the order again.
    """
    job = ports.documents.get_copy(order.document_id)
    if job is None or job.copy_id != order.copy_id:
        return CopyOutcome.UNKNOWN
    try:
        return _work(ports, job, remaining, parallel or _threads(ports.settings.copy_concurrency))
    except SourceChangedError:
        roll_back(ports, job, reason="the content changed while it was being copied")
        return CopyOutcome.FAILED
    except CopyCancelledError:
        return _settle_cancelled(ports, order)
    except DependencyError as error:
        if attempts + 1 >= ports.settings.copy_max_attempts:
            current = ports.documents.get_copy(order.document_id) or job
            roll_back(ports, current, reason=f"gave up after {attempts + 1} attempts: {error}")
            return CopyOutcome.FAILED
        delay = min(FIRST_RETRY_DELAY * 2**attempts, MAX_RETRY_DELAY)
        ports.transfers.send(
            order.encode(), attempts=attempts + 1, last_error=str(error), delay=delay
        )
        return CopyOutcome.RETRYING


def _work(ports: Ports, job: CopyJob, remaining: Remaining, parallel: Parallel) -> CopyOutcome:
    ref = ContentRef(job.document_id, job.revision)
    document = find(ports, job.document_id)
    if document is None or not document.copying(job.copy_id):
        raise CopyCancelledError("the document no longer waits for this copy")
    if (
        job.source_revision is None
        and not job.completing
        and ports.blobs.current_version(ref) != job.source_version
    ):
        raise SourceChangedError("the content changed since the copy started")
    settings = ports.settings
    # Until a batch has been timed, assume the pessimistic throughput for one part.
    estimate = timedelta(seconds=job.part_size / settings.copy_assumed_throughput)
    missing = job.missing()
    while missing:
        if remaining() < estimate * 1.5 + HANDOVER_MARGIN:
            ports.transfers.send(
                CopyOrder(document_id=job.document_id, copy_id=job.copy_id).encode()
            )
            return CopyOutcome.HANDED_OVER
        batch, missing = missing[: settings.copy_concurrency], missing[settings.copy_concurrency :]
        started = ports.clock.now()

        copied = parallel(_part_copier(ports, ref, job), batch)
        now = ports.clock.now()
        estimate = max(estimate, now - started)
        job = job.with_parts(copied, now)
        ports.documents.save_copy_progress(job)
    return _commit(ports, job, ref)


def _source(job: CopyJob) -> ContentRef | None:
    """The key a copy reads, when it is not the key it writes (a revision restore)."""
    if job.source_revision is None:
        return None
    return ContentRef(job.document_id, job.source_revision)


def _part_copier(ports: Ports, ref: ContentRef, job: CopyJob) -> Callable[[PartRange], CopiedPart]:
    source = _source(job)

    def copy_one(part: PartRange) -> CopiedPart:
        return ports.blobs.copy_part(
            ref,
            copy_upload=job.upload_id,
            source_version=job.source_version,
            part=part,
            source=source,
        )

    return copy_one


def _commit(ports: Ports, job: CopyJob, ref: ContentRef) -> CopyOutcome:
    """Complete in storage, record the version, then save the document if it still waits."""
    version = job.committed_version
    if version is None:
        if not job.completing:
            job = attrs.evolve(job, completing=True)
            ports.documents.save_copy_progress(job)
        version = _complete(ports, job, ref)
        job = attrs.evolve(job, committed_version=version)
        try:
            ports.documents.save_copy_progress(job)
        except CopyCancelledError:
            return _discard(ports, job, ref, version)

    def attempt(document: Document) -> Document | None:
        if not document.copying(job.copy_id):
            return None
        changed = document.commit_copy(job.copy_id, version_id=version, now=ports.clock.now())
        return commit(ports, document, changed, by=WORKER)

    before = find(ports, job.document_id)
    saved = with_conflict_retries(ports, job.document_id, attempt, loader=find, absent=lambda: None)
    if saved is None:
        return _discard(ports, job, ref, version)
    ports.documents.remove_copy(job.document_id, job.copy_id)
    if job.source_revision is not None and before is not None:
        from kumocms.usecases.ingest import tag_superseded  # noqa: PLC0415 - a cycle

        tag_superseded(ports, before)
    if saved.holds_outdated():
        # Holds are placed after the commit (moto loses those set on CreateMultipartUpload).
        from kumocms.usecases.holds import apply_holds  # noqa: PLC0415 - a cycle

        apply_holds(ports, saved.id)
    return CopyOutcome.COMMITTED


def _discard(ports: Ports, job: CopyJob, ref: ContentRef, version: str) -> CopyOutcome:
    """Nobody waits for this copy any more: the version it made must not stay current.

    Unless the document holds it: a duplicate delivery of an order (SQS is at-least-once)
    finds the completion of the run that already committed it.
    """
    document = find(ports, job.document_id)
    if document is None or document.content_version != version:
        ports.blobs.delete_version(ref, version)
    ports.documents.remove_copy(job.document_id, job.copy_id)
    return CopyOutcome.CANCELLED


def _complete(ports: Ports, job: CopyJob, ref: ContentRef) -> str:
    parts = job.parts
    try:
        return ports.blobs.complete_copy(
            ref,
            copy_upload=job.upload_id,
            source_version=job.source_version,
            parts=parts,
            source=_source(job),
        )
    except CopyCancelledError:
        # A run that died between completing and recording it: the completion is the key's
        # current version unless the source is still current (then the upload was aborted).
        current = ports.blobs.current_version(ref)
        if current is None or current == job.source_version:
            raise
        return current


def _settle_cancelled(ports: Ports, order: CopyOrder) -> CopyOutcome:
    job = ports.documents.get_copy(order.document_id)
    if job is None or job.copy_id != order.copy_id:
        return CopyOutcome.UNKNOWN
    if roll_back(ports, job, reason="the copy was aborted in storage"):
        return CopyOutcome.FAILED
    return CopyOutcome.CANCELLED


# ---- rolling back --------------------------------------------------------------------------


def roll_back(ports: Ports, job: CopyJob, *, reason: str) -> bool:
    """Abort the copy and put the document back in the state it started from.

    Also cleans up a job nobody waits for (a cancelled copy, a start that failed half-way).
    A version a completion made is deleted unless the document holds it. Returns whether the
    document was waiting for the copy (and so was rolled back, with `DocumentCopyFailed`).
    """
    ref = ContentRef(job.document_id, job.revision)
    committed = job.committed_version or _unrecorded_completion(ports, job, ref)
    ports.blobs.abort_copy(ref, copy_upload=job.upload_id)
    rolled_back = False

    def attempt(document: Document) -> Document:
        nonlocal rolled_back
        if not document.copying(job.copy_id):
            return document
        changed = document.fail_copy(job.copy_id, reason=reason, now=ports.clock.now())
        rolled_back = True
        return commit(ports, document, changed, by=WORKER)

    document = with_conflict_retries(
        ports, job.document_id, attempt, loader=find, absent=lambda: None
    )
    if committed is not None and (document is None or document.content_version != committed):
        ports.blobs.delete_version(ref, committed)
    ports.documents.remove_copy(job.document_id, job.copy_id)
    return rolled_back


def _unrecorded_completion(ports: Ports, job: CopyJob, ref: ContentRef) -> str | None:
    """The version a worker completed but died before recording, if one did.

    Only a job marked `completing` can have one: then another version than the source is
    current and the upload is closed exactly when that version is the completion.
    """
    if not job.completing:
        return None
    current = ports.blobs.current_version(ref)
    if current is None or (job.source_revision is None and current == job.source_version):
        return None
    if ports.blobs.copy_open(ref, copy_upload=job.upload_id):
        return None
    return current


def cancel_copy(ports: Ports, document: Document) -> None:
    """Abort the copy a document waits for (its deletion then cancels the job for good)."""
    if document.copy is None or document.revision is None:
        return
    job = ports.documents.get_copy(document.id)
    if job is not None and job.copy_id == document.copy.copy_id:
        ports.blobs.abort_copy(ContentRef(document.id, job.revision), copy_upload=job.upload_id)


def settle_stalled_copies(ports: Ports, *, limit: int) -> int:
    """Roll back copies without progress for `copy_stall` (reconcile); returns how many."""
    before = ports.clock.now() - ports.settings.copy_stall
    rolled = 0
    for job in ports.documents.find_stalled_copies(before, limit=limit):
        if roll_back(ports, job, reason="no progress for too long"):
            rolled += 1
    return rolled


def settle_dead_copies(ports: Ports, *, limit: int) -> int:
    """Roll back the copies whose orders reached the transfer DLQ (reconcile); returns how many.

    An order lands there when its worker failed in a way it could not report (a crash, a
    timeout) `maxReceiveCount` times. Each handled order is deleted from the queue; a message
    that is not a copy order stays for the operator (the queue's depth alarm shows it).
    """
    rolled = handled = 0
    while handled < limit:
        messages = ports.copy_dead_letters.receive(limit=min(10, limit - handled))
        if not messages:
            break
        for message in messages:
            handled += 1
            if _resend_hold_order(ports, message.body):
                ports.copy_dead_letters.delete(message)
                continue
            try:
                order = CopyOrder.decode(message.body)
            except ValidationError:
                continue  # hidden for the visibility timeout, so this run moves on
            job = ports.documents.get_copy(order.document_id)
            if job is not None and job.copy_id == order.copy_id:
                reason = f"its retries ran out ({message.last_error or 'the worker died'})"
                if roll_back(ports, job, reason=reason):
                    rolled += 1
            ports.copy_dead_letters.delete(message)
    return rolled


def _resend_hold_order(ports: Ports, body: str) -> bool:
    """A hold order whose retries ran out goes back to the worker: holds must be placed.

    Placing holds only ever repeats idempotent requests, so sending it again is safe; the
    record keeps `legal_hold.applied` false until a run succeeds.
    """
    from kumocms.usecases.holds import HoldOrder  # noqa: PLC0415 - a cycle

    try:
        order = HoldOrder.decode(body)
    except ValidationError:
        return False
    if order is None:
        return False
    ports.transfers.send(order.encode())
    return True


def _threads(workers: int) -> Parallel:
    def run(
        copy: Callable[[PartRange], CopiedPart], parts: Sequence[PartRange]
    ) -> Sequence[CopiedPart]:
        if len(parts) <= 1:
            return [copy(part) for part in parts]
        with ThreadPoolExecutor(max_workers=min(workers, len(parts))) as pool:
            return list(pool.map(copy, parts))

    return run


__all__ = [
    "CopyOrder",
    "CopyOutcome",
    "cancel_copy",
    "copy_retry_after",
    "needs_worker",
    "roll_back",
    "run_copy",
    "settle_dead_copies",
    "settle_stalled_copies",
    "start_copy",
]
