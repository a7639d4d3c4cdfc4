"""Domain layer: helpers every document use case shares (loading, version checks, commits)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import attrs

from kumocms.errors import (
    ConflictError,
    DocumentNotFoundError,
    PreconditionFailedError,
    ValidationError,
    VersionConflictError,
)
from kumocms.history import entries_for
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef
from kumocms.model import Changed, Document, Revision
from kumocms.ports import Ports, PresignedUrl
from kumocms.users import Actor

if TYPE_CHECKING:
    from kumocms.portvalues import UploadTarget

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class DocumentView:
    """A document as a caller sees it, with a download link when its content is readable."""

    document: Document
    download: PresignedUrl | None = None
    upload: UploadTarget | None = None


@attrs.frozen(kw_only=True)
class RevisionView:
    """A kept revision, and whether it is the document's current one."""

    revision: Revision
    current: bool


@attrs.frozen(kw_only=True)
class RevisionPage:
    """Revisions by number, highest first."""

    items: tuple[RevisionView, ...]
    next_cursor: str | None


def load(ports: Ports, document_id: DocumentId) -> Document:
    """The live document: an expired pending upload counts as deleted, a trashed one too.

    Raises:
        DocumentNotFoundError: no such document, its upload never arrived in time, or it is
            in the trash.
    """
    document = ports.documents.get(document_id)
    if document.trash is not None or document.is_expired(ports.clock.now()):
        raise DocumentNotFoundError(f"document {document_id} not found")
    return document


def find(ports: Ports, document_id: DocumentId) -> Document | None:
    """The stored document or None (event processing never turns absence into an error)."""
    try:
        return ports.documents.get(document_id)
    except DocumentNotFoundError:
        return None


def check_version(document: Document, if_match: int | None) -> None:
    """Raise unless the client's `If-Match` version (when given) is the current one.

    Raises:
        PreconditionFailedError: the versions differ.
    """
    if if_match is not None and if_match != document.version:
        raise PreconditionFailedError(
            f"the document is at version {document.version}, not {if_match}",
            current_version=document.version,
        )


def commit(ports: Ports, before: Document, changed: Changed, *, by: Actor) -> Document:
    """Save a change and its history entries if the version is still `before`'s; publish.

    The save is conditional on the version the change was based on; the events are published
    once it landed.

    Raises:
        VersionConflictError: the document changed since `before` was read.
    """
    ports.documents.save(
        changed.document,
        expected_version=before.version,
        history=entries_for(before, changed, by),
    )
    ports.events.publish(changed.events)
    return changed.document


def load_trashed(ports: Ports, document_id: DocumentId) -> Document:
    """A document in the trash.

    Raises:
        DocumentNotFoundError: no such document, or it is not in the trash.
    """
    document = ports.documents.get(document_id)
    if document.trash is None:
        raise DocumentNotFoundError(f"document {document_id} is not in the trash")
    return document


def is_gone(document: Document | None, now: datetime) -> bool:
    """Whether a stored record stands for a document that no longer exists for callers.

    That is none at all, a first upload that never arrived in time, or a purge under way.
    """
    return (
        document is None
        or document.is_expired(now)
        or (document.trash is not None and document.trash.purging)
    )


def with_conflict_retries(
    ports: Ports,
    document_id: DocumentId,
    attempt: Callable[[Document], T],
    *,
    if_match: int | None = None,
    loader: Callable[[Ports, DocumentId], Document | None] = load,
    absent: Callable[[], T] | None = None,
    first: Document | None = None,
) -> T:
    """Run `attempt` on a freshly read document, re-reading after a version conflict.

    The one retry loop of every read-modify-write. A client that sent `If-Match` asked for that
    exact version, so a conflict is a failed precondition rather than a reason to retry.
    `first` is a copy the caller has just read: the first attempt uses it instead of reading
    the same item again (a stale copy only costs the conflict that a re-read then settles).
    When `loader` finds nothing, the answer is `absent()`. Retries are bounded by settings.

    Raises:
        PreconditionFailedError: `if_match` is not (or no longer) the current version.
        DocumentNotFoundError: `loader` found nothing and there is no `absent`.
        ConflictError: the document kept changing for every retry.
    """
    document = first
    for _ in range(ports.settings.conflict_retries):
        if document is None:
            document = loader(ports, document_id)
            if document is None:
                if absent is None:
                    raise DocumentNotFoundError(f"document {document_id} not found")
                return absent()
        check_version(document, if_match)
        try:
            return attempt(document)
        except VersionConflictError as conflict:
            if if_match is not None:
                current = conflict.actual if conflict.actual is not None else if_match + 1
                raise PreconditionFailedError(
                    "the document changed while the request was processed",
                    current_version=current,
                ) from conflict
            document = None
    raise ConflictError(f"document {document_id} kept changing; try again")


def page_limit(ports: Ports, limit: int | None) -> int:
    """A listing's page size: the default when absent, else 1 to `list_max_limit`.

    Raises:
        ValidationError: out of range, or not an integer.
    """
    settings = ports.settings
    if limit is None:
        return settings.list_default_limit
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or not 1 <= limit <= settings.list_max_limit
    ):
        raise ValidationError(f"limit must be from 1 to {settings.list_max_limit}", field="limit")
    return limit


def revision_version(ports: Ports, document: Document, revision: Revision) -> str | None:
    """The object version a revision is stored as (None: its key has no object).

    The recorded one, or for a revision recorded before versions were, its key's current one.
    """
    if revision.version_id is not None:
        return revision.version_id
    return ports.blobs.current_version(ContentRef(document.id, revision.key))


def download_link(ports: Ports, document: Document) -> PresignedUrl | None:
    """A presigned download URL when the content is readable now (no storage request).

    It names the object version the record holds, so it serves the bytes the record
    describes even while a copy onto the same key is committing.
    """
    if document.revision is None or not document.is_readable(ports.clock.now()):
        return None
    return ports.blobs.presign_download(
        ContentRef(document.id, document.revision),
        file_name=document.file_name,
        content_type=document.content_type,
        expires_in=ports.settings.presign_ttl,
        version_id=document.content_version,
    )
