"""Domain layer: archive to Glacier and restore from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from kumocms.keys import ContentRef
from kumocms.model import Document
from kumocms.ports import Ports, RestoreOutcome
from kumocms.states import ArchiveState
from kumocms.usecases.common import DocumentView, commit, download_link, with_conflict_retries
from kumocms.usecases.documents import restore_retry_after
from kumocms.users import Permission, Principal

if TYPE_CHECKING:
    from kumocms.commands import ArchiveDocument, RestoreDocument


@attrs.frozen(kw_only=True)
class RestoreResult:
    """A restore's outcome: still running (poll after `retry_after_seconds`) or readable."""

    view: DocumentView
    in_progress: bool
    retry_after_seconds: int | None = None


def archive_document(ports: Ports, actor: Principal, command: ArchiveDocument) -> DocumentView:
    """Move an active document's content to GLACIER or DEEP_ARCHIVE.

    Storage moves first (idempotently), so a failed save leaves nothing a retry cannot finish.

    Raises:
        IllegalTransitionError: the document is not active.
        ConflictError: a replacement upload is pending.
    """
    actor.require(Permission.WRITE)

    def attempt(document: Document) -> Document:
        now = ports.clock.now()
        changed = document.archive(command.storage_class, now)  # validates before storage
        assert document.revision is not None
        ports.blobs.archive(ContentRef(document.id, document.revision), command.storage_class)
        return commit(ports, document, changed)

    document = with_conflict_retries(ports, command.document_id, attempt, if_match=command.if_match)
    return DocumentView(document=document)


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
            ports.blobs.make_permanent(ref)
            return commit(ports, document, document.make_permanent(now))
        if document.state is ArchiveState.RESTORING and not (
            request.permanent and document.restore is not None and not document.restore.permanent
        ):
            return document  # already running: nothing to ask storage or to save
        outcome = ports.blobs.request_restore(ref, days=request.days, tier=request.tier)
        changed = document.request_restore(request, now)
        saved = document if changed is None else commit(ports, document, changed)
        if outcome is RestoreOutcome.ALREADY_RESTORED and saved.state is ArchiveState.RESTORING:
            # Storage already holds a copy (a completion event may still be on its way).
            info = ports.blobs.inspect(ref)
            expires_at = info.restore.expires_at if info and info.restore else None
            completed = saved.complete_restore(expires_at=expires_at, now=now)
            if completed is not None:
                saved = commit(ports, saved, completed)
        return saved

    document = with_conflict_retries(ports, command.document_id, attempt, if_match=command.if_match)
    view = DocumentView(document=document, download=download_link(ports, document))
    if document.state is ArchiveState.RESTORING:
        return RestoreResult(
            view=view, in_progress=True, retry_after_seconds=restore_retry_after(ports, document)
        )
    return RestoreResult(view=view, in_progress=False)
