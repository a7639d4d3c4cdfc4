"""Domain layer: revisions — list them, read one, restore one as the new current revision."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from kumocms.deferred import Deferred
from kumocms.errors import (
    DependencyError,
    DocumentArchivedError,
    InvalidCursorError,
    RestoreInProgressError,
    VersionConflictError,
)
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef
from kumocms.model import Document
from kumocms.ports import Ports, PresignedUrl
from kumocms.states import ArchiveState, StorageClass
from kumocms.usecases.common import (
    DocumentView,
    RevisionPage,
    RevisionView,
    commit,
    download_link,
    load,
    page_limit,
    revision_version,
    with_conflict_retries,
)
from kumocms.usecases.documents import restore_retry_after
from kumocms.users import Permission, Principal

if TYPE_CHECKING:
    from kumocms.usecases import ingest, transfer
else:  # the write side loads when a restore first needs it (the read function never does)
    ingest = Deferred("kumocms.usecases.ingest")
    transfer = Deferred("kumocms.usecases.transfer")


@attrs.frozen(kw_only=True)
class RevisionRestoreResult:
    """A revision restore: done, or being copied by the worker (`in_progress`)."""

    view: DocumentView
    in_progress: bool
    retry_after_seconds: int | None = None


def list_revisions(
    ports: Ports,
    actor: Principal,
    document_id: DocumentId,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> RevisionPage:
    """The kept revisions, highest number first (one read of the document).

    Raises:
        DocumentNotFoundError: no such document (or it is in the trash).
        ValidationError: `limit` is out of range.
        InvalidCursorError: the cursor is not a revision number of this listing.
    """
    actor.require(Permission.READ)
    limit = page_limit(ports, limit)
    document = load(ports, document_id)
    newest_first = tuple(reversed(document.kept_revisions))
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 12:
            raise InvalidCursorError("the cursor is not one this service made")
        below = int(cursor)
        newest_first = tuple(r for r in newest_first if r.number < below)
    page = newest_first[:limit]
    current = document.revision_number
    items = tuple(RevisionView(revision=r, current=r.number == current) for r in page)
    more = len(newest_first) > limit
    return RevisionPage(items=items, next_cursor=str(page[-1].number) if more else None)


def get_revision_content(
    ports: Ports, actor: Principal, document_id: DocumentId, number: int
) -> PresignedUrl:
    """A presigned download of one kept revision (the exact object version it recorded).

    Raises:
        DocumentNotFoundError: no such document or revision (or it is in the trash).
        DocumentArchivedError: the revision is the archived current one; restore it first.
        RestoreInProgressError: its restore is running.
    """
    actor.require(Permission.READ)
    document = load(ports, document_id)
    revision = document.find_revision(number)
    if revision.number == document.revision_number:
        link = download_link(ports, document)
        if link is not None:
            return link
        if document.state is ArchiveState.RESTORING:
            raise RestoreInProgressError(
                "the document is being restored from archive",
                retry_after_seconds=restore_retry_after(ports, document),
            )
        raise DocumentArchivedError("the document is archived; restore it to download")
    if revision.storage_class.is_archive:
        raise DocumentArchivedError("this revision is archived")
    return ports.blobs.presign_download(
        ContentRef(document.id, revision.key),
        file_name=revision.file_name,
        content_type=revision.content_type,
        expires_in=ports.settings.presign_ttl,
        version_id=revision.version_id,
    )


def restore_revision(
    ports: Ports,
    actor: Principal,
    document_id: DocumentId,
    number: int,
    *,
    if_match: int | None = None,
) -> RevisionRestoreResult:
    """Copy revision `number` (bytes, file name, content type) as a new current revision.

    At most `sync_copy_limit` bytes are copied in the request; a larger revision goes to the
    transfer worker (the document stays readable, `in_progress`).

    Raises:
        DocumentNotFoundError: no such document or revision.
        IllegalTransitionError: the document is not active.
        ConflictError: an upload or a copy is running.
        LegalHoldError: a legal hold is on.
    """
    actor.require(Permission.WRITE)

    def attempt(document: Document) -> Document:
        source = document.check_revision_restore(number)
        version_id = revision_version(ports, document, source)
        if version_id is None:
            raise DependencyError(f"revision {number}'s content is missing from storage")
        if source.size > ports.settings.sync_copy_limit:
            return transfer.start_copy(
                ports,
                document,
                StorageClass.STANDARD,
                document.start_revision_restore,
                by=actor.actor,
                from_revision=number,
            )
        target = ContentRef(document.id, document.next_revision())
        version = ports.blobs.copy_revision(
            ContentRef(document.id, source.key), source_version=version_id, target=target
        )
        changed = document.restore_revision(
            number, version_id=version, now=ports.clock.now(), by=actor.actor
        )
        try:
            saved = commit(ports, document, changed, by=actor.actor)
        except VersionConflictError:
            ports.blobs.delete_key(target)  # never referenced: the retry copies afresh
            raise
        ingest.tag_superseded(ports, document)
        return saved

    document = with_conflict_retries(ports, document_id, attempt, if_match=if_match)
    view = DocumentView(document=document, download=download_link(ports, document))
    if document.copy is not None:
        return RevisionRestoreResult(
            view=view,
            in_progress=True,
            retry_after_seconds=transfer.copy_retry_after(ports, document),
        )
    return RevisionRestoreResult(view=view, in_progress=False)
