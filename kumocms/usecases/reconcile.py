"""Domain layer: scheduled reconciliation — expire uploads, settle restores, empty the trash.

It also prunes old revisions; each kind of work is found through a sparse index, never a scan.
"""

from __future__ import annotations

import contextlib

import attrs

from kumocms import events as ev
from kumocms.errors import (
    DependencyError,
    DocumentNotFoundError,
    LegalHoldError,
    VersionConflictError,
)
from kumocms.history import entries_for
from kumocms.keys import ContentRef, content_key
from kumocms.model import Document, RevisionPolicy
from kumocms.ports import Ports
from kumocms.states import ArchiveState
from kumocms.usecases.ingest import (
    ObjectCreated,
    Outcome,
    RestoreCompleted,
    RestoreExpired,
    handle_storage_event,
)
from kumocms.usecases.transfer import settle_dead_copies, settle_stalled_copies
from kumocms.users import Actor

RECONCILE = Actor.of_system("reconcile")


@attrs.frozen(kw_only=True)
class ReconcileReport:
    """What one reconciliation run did."""

    uploads_expired: int = 0
    uploads_confirmed: int = 0
    replacements_abandoned: int = 0
    restores_completed: int = 0
    restores_expired: int = 0
    restores_stuck: int = 0
    copies_failed: int = 0
    documents_purged: int = 0
    revisions_pruned: int = 0


def reconcile(ports: Ports, *, limit: int = 100) -> ReconcileReport:
    """Settle documents whose events were lost or never came.

    - A pending upload past its deadline is confirmed if its object did arrive (its event is
      late), otherwise aborted: a first upload's document is deleted, a replacement forgotten.
    - A restore running much longer than its tier's window is checked against storage:
      completed if storage holds a copy, otherwise reported as stuck.
    - A restored copy past its expiry is archived again once storage no longer holds it.
    - A transfer worker copy whose order reached the worker's dead-letter queue, or without
      progress for `copy_stall` (its order was lost), is rolled back: aborted, the document as
      before, `DocumentCopyFailed` published.
    - A trashed document whose trash time is over (and that no hold keeps) is purged.
    - Revisions the retention rule no longer keeps are deleted (by version).
    """
    counts: dict[str, int] = {}

    def bump(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    now = ports.clock.now()
    for document in ports.documents.find_expired_uploads(now, limit=limit):
        name = _settle_upload(ports, document)
        if name:
            bump(name)
    for document in ports.documents.find_in_state(ArchiveState.RESTORING, limit=limit):
        name = _settle_restoring(ports, document)
        if name:
            bump(name)
    for document in ports.documents.find_in_state(ArchiveState.RESTORED, limit=limit):
        name = _settle_restored(ports, document)
        if name:
            bump(name)
    failed = settle_dead_copies(ports, limit=limit) + settle_stalled_copies(ports, limit=limit)
    if failed:
        counts["copies_failed"] = failed
    for document in ports.documents.find_purgeable(now, limit=limit):
        try:
            purge_document(ports, document, by=RECONCILE)
        except (LegalHoldError, DocumentNotFoundError, VersionConflictError, DependencyError):
            continue  # held, restored or changed meanwhile; or storage refused: next run
        bump("documents_purged")
    policy = RevisionPolicy.of(ports.settings)
    for document in ports.documents.find_prunable(now, limit=limit):
        pruned = _prune(ports, document, policy)
        if pruned:
            counts["revisions_pruned"] = counts.get("revisions_pruned", 0) + pruned
    return ReconcileReport(**counts)


def purge_document(ports: Ports, document: Document, *, by: Actor) -> None:
    """Purge a trashed document: marked purged (with its entry), its objects, then its record.

    The mark comes first and makes it beyond restore, so no one can bring back a document
    whose objects are going. The objects go next, every version; the record last, so that a
    failure part-way leaves a record the next purge run (or a repeated request) finishes.
    Its history expires `history_retention` after the purge.

    Raises:
        LegalHoldError: a legal hold is on.
        DocumentNotFoundError: the document is not in the trash.
        VersionConflictError: it changed meanwhile.
        DependencyError: storage or the table failed (the record stays, marked purged).
    """
    now = ports.clock.now()
    expires = now + ports.settings.history_retention
    if document.trash is None or not document.trash.purging:
        changed = document.purge(now)
        ports.documents.save(
            changed.document,
            expected_version=document.version,
            history=entries_for(document, changed, by, expires_at=expires),
        )
        ports.events.publish(changed.events)
        document = changed.document
    transfer_job = ports.documents.get_copy(document.id)
    if transfer_job is not None:
        ports.documents.remove_copy(document.id, transfer_job.copy_id)
    ports.blobs.purge(document.id)
    with contextlib.suppress(DocumentNotFoundError):  # a repeated request's first landed
        ports.documents.remove(document.id, expected_version=document.version)
    ports.documents.expire_history(document.id, expires_at=expires)


def _prune(ports: Ports, document: Document, policy: RevisionPolicy) -> int:
    """Drop the revisions retention no longer keeps: the record first, then their objects."""
    doomed = policy.prunable(document, ports.clock.now())
    if not doomed and not document.pruning:
        return 0
    trimmed = document.prune(doomed)
    try:
        ports.documents.save(trimmed, expected_version=document.version)
    except (VersionConflictError, DocumentNotFoundError):
        return 0  # it changed meanwhile; the next run looks again
    try:
        for key in trimmed.pruning:
            ports.blobs.delete_key(ContentRef(document.id, key))
        # Same version: a writer that read `trimmed` may add back only keys already deleted.
        ports.documents.save(trimmed.pruned(), expected_version=trimmed.version)
    except (VersionConflictError, DocumentNotFoundError, DependencyError):
        return len(doomed)  # `pruning` keeps the keys: the next run deletes them again
    return len(doomed)


def _settle_upload(ports: Ports, document: Document) -> str | None:
    pending = document.pending
    assert pending is not None
    ref = ContentRef(document.id, pending.revision)
    now = ports.clock.now()
    if ports.blobs.inspect(ref) is not None:
        handle_storage_event(ports, ObjectCreated(key=content_key(ref), occurred_at=now))
        return "uploads_confirmed"
    # The record goes first: once it is gone (or no longer pending) no event can confirm the
    # revision, so aborting the upload afterwards cannot delete content a document relies on.
    try:
        if document.state is ArchiveState.PENDING:
            changed = document.expire_upload(now)
            expires = now + ports.settings.history_retention
            ports.documents.remove(
                document.id,
                expected_version=document.version,
                history=entries_for(document, changed, RECONCILE, expires_at=expires),
            )
            ports.documents.expire_history(document.id, expires_at=expires)
            name = "uploads_expired"
        else:
            changed = document.abandon_replace(now)
            ports.documents.save(
                changed.document,
                expected_version=document.version,
                history=entries_for(document, changed, RECONCILE),
            )
            name = "replacements_abandoned"
    except (VersionConflictError, DocumentNotFoundError):
        return None  # it moved on meanwhile; the next run looks again
    ports.blobs.abort_upload(ref, upload_id=pending.multipart_id)
    if name == "uploads_expired":
        ports.blobs.purge(document.id)
    ports.events.publish(changed.events)
    return name


def _settle_restoring(ports: Ports, document: Document) -> str | None:
    restore = document.restore
    if restore is None or document.revision is None:
        return None
    window = restore.tier.window(document.storage_class) * ports.settings.restore_stuck_factor
    now = ports.clock.now()
    if restore.requested_at + window > now:
        return None
    ref = ContentRef(document.id, document.revision)
    info = ports.blobs.inspect(ref)
    status = info.restore if info is not None else None
    if status is not None and not status.ongoing:
        event = RestoreCompleted(
            key=content_key(ref), occurred_at=now, expires_at=status.expires_at
        )
        if handle_storage_event(ports, event) is Outcome.APPLIED:
            return "restores_completed"
    ports.events.publish(
        [
            ev.DocumentRestoreStuck(
                occurred_at=now,
                document_id=document.id,
                version=document.version,
                requested_at=restore.requested_at,
            )
        ]
    )
    return "restores_stuck"


def _settle_restored(ports: Ports, document: Document) -> str | None:
    restore = document.restore
    now = ports.clock.now()
    if restore is None or restore.expires_at is None or restore.expires_at > now:
        return None
    assert document.revision is not None
    ref = ContentRef(document.id, document.revision)
    info = ports.blobs.inspect(ref)
    if (
        info is not None
        and info.restore is not None
        and not info.restore.ongoing
        and (info.restore.expires_at is None or info.restore.expires_at > now)
    ):
        return None  # storage still holds the copy (the expiry was extended there)
    event = RestoreExpired(key=content_key(ref), occurred_at=now)
    if handle_storage_event(ports, event) is Outcome.APPLIED:
        return "restores_expired"
    return None
