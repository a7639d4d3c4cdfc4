"""Domain layer: archive to Glacier and restore from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from kumocms.errors import ConflictError
from kumocms.keys import ContentRef
from kumocms.model import Document
from kumocms.ports import Ports, RestoreOutcome
from kumocms.states import ArchiveState, StorageClass
from kumocms.usecases.common import DocumentView, commit, download_link, with_conflict_retries
from kumocms.usecases.documents import restore_retry_after
from kumocms.usecases.holds import request_holds
from kumocms.usecases.transfer import copy_retry_after, needs_worker, start_copy
from kumocms.users import Permission, Principal

if TYPE_CHECKING:
    from kumocms.commands import ArchiveDocument, RestoreDocument


@attrs.frozen(kw_only=True)
class RestoreResult:
    """A restore's outcome: still running (poll after `retry_after_seconds`) or readable."""

    view: DocumentView
    in_progress: bool
    retry_after_seconds: int | None = None


@attrs.frozen(kw_only=True)
class ArchiveResult:
    """An archive's outcome: done (archived) or being copied by the worker (`archiving`)."""

    view: DocumentView
    in_progress: bool
    retry_after_seconds: int | None = None


def archive_document(ports: Ports, actor: Principal, command: ArchiveDocument) -> ArchiveResult:
    """Move an active document's content to GLACIER or DEEP_ARCHIVE.

    Up to `sync_copy_limit` the copy happens now: storage moves first (idempotently), so a
    failed save leaves nothing a retry cannot finish. A larger object goes to the transfer
    worker and the document is `archiving` (readable) until the worker commits. Archiving again
    with the class already being copied to answers the running copy.

    Raises:
        IllegalTransitionError: the document is not active (or archiving).
        ConflictError: a replacement upload is pending, or the running copy is to another class.
    """
    actor.require(Permission.WRITE)

    def attempt(document: Document) -> Document:
        now = ports.clock.now()
        if document.state is ArchiveState.ARCHIVING and document.copy is not None:
            if document.copy.storage_class is not command.storage_class:
                raise ConflictError(
                    f"the document is being archived to {document.copy.storage_class.value}"
                )
            return document
        document.archive(command.storage_class, now)  # validates before storage
        assert document.revision is not None
        if needs_worker(ports, document):
            return start_copy(
                ports, document, command.storage_class, document.start_archive, by=actor.actor
            )
        ref = ContentRef(document.id, document.revision)
        version = ports.blobs.archive(ref, command.storage_class)
        changed = document.archive(command.storage_class, now, version_id=version)
        return commit(ports, document, changed, by=actor.actor)

    document = with_conflict_retries(ports, command.document_id, attempt, if_match=command.if_match)
    request_holds(ports, document)
    view = DocumentView(document=document, download=download_link(ports, document))
    if document.state is ArchiveState.ARCHIVING:
        return ArchiveResult(
            view=view, in_progress=True, retry_after_seconds=copy_retry_after(ports, document)
        )
    return ArchiveResult(view=view, in_progress=False)


def restore_document(ports: Ports, actor: Principal, command: RestoreDocument) -> RestoreResult:
    """Request a readable copy of archived content; extend or make permanent a restored one.

    Raises:
        IllegalTransitionError: the document is active, pending or rejected.
        InvalidRestoreRequestError: the tier is not available for the storage class.
    """
    actor.require(Permission.WRITE)
    request = command.request

    def attempt(document: Document) -> Document:
        now = ports.clock.now()
        document.check_restore(request)
        assert document.revision is not None
        ref = ContentRef(document.id, document.revision)
        if document.state is ArchiveState.RESTORED and request.permanent:
            if document.copy is not None:
                return document  # the worker is copying it back already
            if needs_worker(ports, document):
                return start_copy(
                    ports,
                    document,
                    StorageClass.STANDARD,
                    document.start_permanent,
                    by=actor.actor,
                )
            version = ports.blobs.make_permanent(ref)
            permanent = document.make_permanent(now, version_id=version)
            return commit(ports, document, permanent, by=actor.actor)
        if document.state is ArchiveState.RESTORING and not (
            request.permanent and document.restore is not None and not document.restore.permanent
        ):
            return document  # already running: nothing to ask storage or to save
        outcome = ports.blobs.request_restore(ref, days=request.days, tier=request.tier)
        changed = document.request_restore(request, now)
        saved = document if changed is None else commit(ports, document, changed, by=actor.actor)
        if outcome is RestoreOutcome.ALREADY_RESTORED and saved.state is ArchiveState.RESTORING:
            # Storage already holds a copy (a completion event may still be on its way).
            info = ports.blobs.inspect(ref)
            expires_at = info.restore.expires_at if info and info.restore else None
            completed = saved.complete_restore(expires_at=expires_at, now=now)
            if completed is not None:
                saved = commit(ports, saved, completed, by=actor.actor)
        return saved

    document = with_conflict_retries(ports, command.document_id, attempt, if_match=command.if_match)
    request_holds(ports, document)
    view = DocumentView(document=document, download=download_link(ports, document))
    if document.state is ArchiveState.RESTORING:
        return RestoreResult(
            view=view, in_progress=True, retry_after_seconds=restore_retry_after(ports, document)
        )
    if document.copy is not None:
        return RestoreResult(
            view=view, in_progress=True, retry_after_seconds=copy_retry_after(ports, document)
        )
    return RestoreResult(view=view, in_progress=False)
