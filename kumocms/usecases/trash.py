"""Domain layer: the trash and the audit trail — list, restore and purge; read history."""

from __future__ import annotations

from kumocms.errors import DocumentNotFoundError
from kumocms.history import HistoryPage
from kumocms.ids import DocumentId
from kumocms.model import Document
from kumocms.ports import Ports
from kumocms.usecases.common import (
    DocumentView,
    commit,
    download_link,
    find,
    is_gone,
    load_trashed,
    page_limit,
    with_conflict_retries,
)
from kumocms.usecases.documents import ListResult
from kumocms.usecases.reconcile import purge_document
from kumocms.users import Permission, Principal


def list_trash(
    ports: Ports, actor: Principal, *, limit: int | None = None, cursor: str | None = None
) -> ListResult:
    """Trashed documents, newest deletion first (editor).

    Raises:
        ValidationError: `limit` is out of range.
        InvalidCursorError: the cursor is not one of this listing's.
    """
    actor.require(Permission.WRITE)
    page = ports.documents.list_trash(limit=page_limit(ports, limit), cursor=cursor)
    return ListResult(
        items=tuple(DocumentView(document=document) for document in page.items),
        next_cursor=page.next_cursor,
    )


def restore_from_trash(
    ports: Ports, actor: Principal, document_id: DocumentId, *, if_match: int | None = None
) -> DocumentView:
    """Take a document out of the trash, in the state it has (editor).

    Raises:
        DocumentNotFoundError: no such document in the trash.
    """
    actor.require(Permission.WRITE)

    def attempt(document: Document) -> Document:
        changed = document.undelete(ports.clock.now())
        return commit(ports, document, changed, by=actor.actor)

    document = with_conflict_retries(
        ports, document_id, attempt, if_match=if_match, loader=load_trashed
    )
    return DocumentView(document=document, download=download_link(ports, document))


def purge_from_trash(
    ports: Ports, actor: Principal, document_id: DocumentId, *, if_match: int | None = None
) -> None:
    """Purge a trashed document now (admin): record, content, revisions and sidecar.

    Raises:
        DocumentNotFoundError: no such document in the trash.
        LegalHoldError: a legal hold is on.
    """
    actor.require(Permission.MANAGE_USERS)

    def attempt(document: Document) -> None:
        purge_document(ports, document, by=actor.actor)

    with_conflict_retries(ports, document_id, attempt, if_match=if_match, loader=load_trashed)


def get_history(
    ports: Ports,
    actor: Principal,
    document_id: DocumentId,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> HistoryPage:
    """A document's history, newest first.

    Reader for a live document, editor for a trashed one, admin for one that is gone
    (purged, expired or aborted).

    Raises:
        DocumentNotFoundError: no entries exist (never existed, or they expired).
        ForbiddenError: the caller's role does not reach the document's condition.
    """
    actor.require(Permission.READ)
    limit = page_limit(ports, limit)
    now = ports.clock.now()
    page = ports.documents.history(document_id, now=now, limit=limit, cursor=cursor)
    if not page.items and cursor is None:
        raise DocumentNotFoundError(f"document {document_id} has no history")
    document = find(ports, document_id)
    if is_gone(document, now):
        actor.require(Permission.MANAGE_USERS)
    elif document is not None and document.trash is not None:
        actor.require(Permission.WRITE)
    return page
