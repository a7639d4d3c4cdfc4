"""Domain layer: document use cases — upload, retrieve, list, patch, replace, delete."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from kumocms.deferred import Deferred
from kumocms.errors import (
    ChecksumMismatchError,
    ConflictError,
    DependencyError,
    DocumentArchivedError,
    DocumentNotFoundError,
    IllegalTransitionError,
    NotMultipartUploadError,
    PayloadTooLargeError,
    RestoreInProgressError,
    UploadPendingError,
    UploadRejectedError,
    ValidationError,
    VersionConflictError,
)
from kumocms.history import entries_for
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef
from kumocms.model import (
    MAX_PARTS,
    ContentDeclaration,
    Document,
    PendingUpload,
    UploadMode,
    plan_part_size,
)
from kumocms.ports import DocumentPage, Ports, PresignedUrl
from kumocms.rules import (
    normalize_metadata,
    sanitize_file_name,
    validate_content_type,
    validate_sha256,
    validate_size,
)
from kumocms.search import IndexedFields, parse_filter
from kumocms.states import ArchiveState
from kumocms.usecases.common import (
    DocumentView,
    commit,
    download_link,
    load,
    page_limit,
    with_conflict_retries,
)
from kumocms.users import Actor, Permission, Principal

if TYPE_CHECKING:
    from kumocms import commands
    from kumocms.commands import (
        CompleteUpload,
        DeleteDocument,
        IssuePartUrls,
        ReplaceDocument,
        UpdateMetadata,
        UploadDocument,
    )
    from kumocms.portvalues import PartUrl, UploadTarget
    from kumocms.usecases import ingest, transfer
else:  # the write side's types and the ingest rules load when a write first needs them
    commands = Deferred("kumocms.commands")
    ingest = Deferred("kumocms.usecases.ingest")
    transfer = Deferred("kumocms.usecases.transfer")

INITIAL_PART_URLS = 100
"""Part URLs handed out with a new multipart upload; the rest come from `uploads/parts`."""
MAX_PART_URLS_PER_REQUEST = 1000


@attrs.frozen(kw_only=True)
class ListResult:
    """A page of documents."""

    items: tuple[DocumentView, ...]
    next_cursor: str | None


def upload_document(ports: Ports, actor: Principal, command: UploadDocument) -> DocumentView:
    """Create a document: `active` at once with content, else `pending` with upload instructions.

    Raises:
        ForbiddenError: the caller cannot write.
        ValidationError: a field breaks the input rules.
        PayloadTooLargeError: the content is above the direct-upload limit.
    """
    actor.require(Permission.WRITE)
    metadata = normalize_metadata(command.metadata)
    fields = ports.settings.indexed_fields
    fields.check(metadata)
    if fields:
        # A field declared on a table without documents is ready at once: recorded before
        # the first document arrives (the repository remembers it, so this costs nothing after).
        ready = {
            name: kind
            for name, kind in fields.fields.items()
            if ports.documents.index_ready(name, kind)
        }
        if ready:
            ports.documents.mark_ready(IndexedFields(ready))
    now = ports.clock.now()
    document_id = ports.ids.document_id()
    ref = ContentRef(document_id, 1)
    if command.content is not None:
        declared, sha256 = _declare_content(ports, command, command.content)
        stored = ports.blobs.store(
            ref, command.content, content_type=declared.content_type, sha256=sha256
        )
        changed = Document.upload_direct(
            document_id=document_id,
            declared=declared,
            sha256=sha256,
            metadata=metadata,
            now=now,
            owner=actor.user_id,
            content_version=stored,
            by=actor.actor,
        )
        upload = None
    else:
        declared = _declare_presigned(command)
        pending, upload = _prepare_upload(ports, ref, declared, now, by=actor.actor)
        changed = Document.begin_upload(
            document_id=document_id,
            pending=pending,
            metadata=metadata,
            now=now,
            owner=actor.user_id,
        )
    # Everything that can fail goes before the record is added: once it exists, a failure
    # would make the client retry and create a second document. Leftovers of a failed add
    # are orphans the storage events clean up.
    ports.blobs.write_sidecar(document_id, metadata)
    ports.documents.add(changed.document, history=entries_for(None, changed, actor.actor))
    ports.events.publish(changed.events)
    return DocumentView(
        document=changed.document, download=download_link(ports, changed.document), upload=upload
    )


def get_document(ports: Ports, actor: Principal, document_id: DocumentId) -> DocumentView:
    """The document, with a download link when its content is readable.

    Raises:
        DocumentNotFoundError: no such document.
    """
    actor.require(Permission.READ)
    document = load(ports, document_id)
    return DocumentView(document=document, download=download_link(ports, document))


def get_content(ports: Ports, actor: Principal, document_id: DocumentId) -> PresignedUrl:
    """A presigned download URL for the document's content.

    Raises:
        DocumentNotFoundError: no such document.
        UploadPendingError: the content has not arrived.
        UploadRejectedError: the content was rejected.
        DocumentArchivedError: the content must be restored first.
        RestoreInProgressError: a restore is running.
    """
    actor.require(Permission.READ)
    document = load(ports, document_id)
    link = download_link(ports, document)
    if link is not None:
        return link
    state = document.state
    if state is ArchiveState.PENDING:
        raise UploadPendingError("the document's content has not been uploaded yet")
    if state is ArchiveState.REJECTED:
        raise UploadRejectedError(
            "the uploaded content did not match its declared size or sha256 and was deleted"
        )
    if state is ArchiveState.RESTORING:
        raise RestoreInProgressError(
            "the document is being restored from archive",
            retry_after_seconds=restore_retry_after(ports, document),
        )
    raise DocumentArchivedError("the document is archived; restore it to download")


def list_documents(
    ports: Ports,
    actor: Principal,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    state: ArchiveState | None = None,
    filters: Mapping[str, str] | None = None,
) -> ListResult:
    """Documents newest first, one page at a time; `filters` are §10's query parameters.

    Raises:
        ValidationError: `limit` is out of range, or a filter value is malformed.
        FieldNotIndexedError: a `meta.NAME` filter names an undeclared field.
        InvalidCursorError: the cursor is not one this service made for these filters.
    """
    actor.require(Permission.READ)
    settings = ports.settings
    limit = page_limit(ports, limit)
    now = ports.clock.now()
    page: DocumentPage
    if filters:
        query = parse_filter(filters, settings.indexed_fields, state=state)
        for name in sorted(query.fields()):
            if not ports.documents.index_ready(name, settings.indexed_fields.fields[name]):
                raise ConflictError(
                    f"meta.{name} cannot be searched yet: documents stored before it was "
                    "declared are still being indexed (kumocms admin reindex)"
                )
        page = ports.documents.search(query, limit=limit, cursor=cursor)
    else:
        page = ports.documents.list(limit=limit, cursor=cursor, state=state)
    items = tuple(
        DocumentView(document=document) for document in page.items if not document.is_expired(now)
    )
    return ListResult(items=items, next_cursor=page.next_cursor)


def update_metadata(ports: Ports, actor: Principal, command: UpdateMetadata) -> DocumentView:
    """Merge-patch the user metadata and rewrite the sidecar.

    Raises:
        InvalidMetadataError: the patch is not an object or the result breaks the rules.
        IllegalTransitionError: the document was rejected.
        PreconditionFailedError: `If-Match` is stale.
    """
    actor.require(Permission.WRITE)

    if isinstance(command.patch, Mapping):
        # Only the values the patch sets are checked (older wrong-typed values stay, unindexed).
        ports.settings.indexed_fields.check(normalize_metadata(command.patch))

    def attempt(document: Document) -> Document:
        changed = document.update_metadata(command.patch, ports.clock.now())
        if changed is None:
            # Nothing to save, but a request that failed after saving left the sidecar behind;
            # repeating the request repairs it.
            ports.blobs.write_sidecar(document.id, document.metadata)
            return document
        saved = commit(ports, document, changed, by=actor.actor)
        ports.blobs.write_sidecar(saved.id, saved.metadata)
        return saved

    document = with_conflict_retries(ports, command.document_id, attempt, if_match=command.if_match)
    return DocumentView(document=document, download=download_link(ports, document))


def replace_document(ports: Ports, actor: Principal, command: ReplaceDocument) -> DocumentView:
    """Give an active document new content: directly, or through a presigned upload.

    Until a presigned replacement is confirmed, the old content stays readable.

    Raises:
        IllegalTransitionError: the document is not active.
        ValidationError: a field breaks the input rules.
        PayloadTooLargeError: the content is above the direct-upload limit.
    """
    actor.require(Permission.WRITE)
    metadata = None if command.metadata is None else normalize_metadata(command.metadata)
    if metadata is not None:
        ports.settings.indexed_fields.check(metadata)
    if command.file_name is None:
        raise ValidationError("file_name is required", field="file_name")
    upload = commands.UploadDocument(
        file_name=command.file_name,
        content_type=command.content_type or "application/octet-stream",
        size=command.size,
        sha256=command.sha256,
        content=command.content,
    )
    if command.content is not None:
        declared, sha256 = _declare_content(ports, upload, command.content)
    else:
        declared, sha256 = _declare_presigned(upload), None
    targets: list[UploadTarget] = []

    def attempt(document: Document) -> Document:
        now = ports.clock.now()
        if document.state is not ArchiveState.ACTIVE:
            raise IllegalTransitionError(
                f"only active documents can be replaced; this one is {document.state.value}",
                state=document.state.value,
                action="replace",
            )
        document.check_not_held("replaced")
        ref = ContentRef(document.id, document.next_revision())
        if command.content is not None:
            assert sha256 is not None
            stored = ports.blobs.store(
                ref, command.content, content_type=declared.content_type, sha256=sha256
            )
            changed = document.replace_direct(
                declared=declared,
                sha256=sha256,
                now=now,
                metadata=metadata,
                content_version=stored,
                by=actor.actor,
            )
            try:
                saved = commit(ports, document, changed, by=actor.actor)
            except VersionConflictError:
                # The stored revision will never be referenced: remove it before retrying.
                ports.blobs.delete_key(ref)
                raise
            _tidy_after_replace(ports, document)
            ingest.tag_superseded(ports, document)
            if metadata is not None:
                ports.blobs.write_sidecar(saved.id, saved.metadata)
            return saved
        pending, target = _prepare_upload(ports, ref, declared, now, by=actor.actor)
        changed = document.begin_replace(pending, now, metadata=metadata)
        try:
            saved = commit(ports, document, changed, by=actor.actor)
        except VersionConflictError:
            ports.blobs.abort_upload(ref, upload_id=pending.multipart_id)
            raise
        _tidy_after_replace(ports, document)
        if metadata is not None:
            ports.blobs.write_sidecar(saved.id, saved.metadata)
        targets.append(target)
        return saved

    document = with_conflict_retries(ports, command.document_id, attempt, if_match=command.if_match)
    return DocumentView(
        document=document,
        download=download_link(ports, document),
        upload=targets[-1] if targets else None,
    )


def delete_document(ports: Ports, actor: Principal, command: DeleteDocument) -> None:
    """Put a document in the trash (§11); a pending first upload is aborted instead.

    The trash keeps the content, every revision and the sidecar; a pending replacement is
    aborted and a running copy cancelled first. An aborted upload's record goes, with its
    history entry, before its objects: no event can confirm it once the record is gone.

    Raises:
        DocumentNotFoundError: no such document (or it is in the trash already).
        PreconditionFailedError: `If-Match` is stale.
        LegalHoldError: a legal hold is on.
    """
    actor.require(Permission.WRITE)

    def attempt(document: Document) -> Document:
        now = ports.clock.now()
        if document.state is ArchiveState.PENDING:
            return _abort_first_upload(ports, actor, document, now)
        changed = document.delete(
            now, by=actor.actor, purge_after=now + ports.settings.trash_retention
        )
        transfer.cancel_copy(ports, document)
        saved = commit(ports, document, changed, by=actor.actor)
        if document.copy is not None:
            ports.documents.remove_copy(document.id, document.copy.copy_id)
        if document.pending is not None:
            pending = ContentRef(document.id, document.pending.revision)
            with contextlib.suppress(DependencyError):  # stale_revision: events finish it
                ports.blobs.abort_upload(pending, upload_id=document.pending.multipart_id)
        return saved

    with_conflict_retries(ports, command.document_id, attempt, if_match=command.if_match)


def _abort_first_upload(
    ports: Ports, actor: Principal, document: Document, now: datetime
) -> Document:
    assert document.pending is not None
    changed = document.abort_upload(now)
    expires = now + ports.settings.history_retention
    # Gone already is fine: a retried removal whose first attempt landed, or a racer.
    with contextlib.suppress(DocumentNotFoundError):
        ports.documents.remove(
            document.id,
            expected_version=document.version,
            history=entries_for(document, changed, actor.actor, expires_at=expires),
        )
    ports.documents.expire_history(document.id, expires_at=expires)
    ports.blobs.abort_upload(
        ContentRef(document.id, document.pending.revision),
        upload_id=document.pending.multipart_id,
    )
    ports.blobs.purge(document.id)
    ports.events.publish(changed.events)
    return document


def issue_part_urls(
    ports: Ports, actor: Principal, command: IssuePartUrls
) -> tuple[tuple[PartUrl, ...], datetime]:
    """Fresh presigned URLs for parts of the document's pending multipart upload.

    Raises:
        NotMultipartUploadError: no multipart upload is pending.
        ValidationError: part numbers are missing, repeated or out of range.
    """
    actor.require(Permission.WRITE)
    document = load(ports, command.document_id)
    pending = _pending_multipart(document)
    assert pending.part_size is not None
    assert pending.multipart_id is not None
    part_count = -(-pending.declared.size // pending.part_size)
    numbers = list(command.part_numbers)
    if not numbers or len(numbers) > MAX_PART_URLS_PER_REQUEST:
        raise ValidationError(
            f"part_numbers must list 1 to {MAX_PART_URLS_PER_REQUEST} parts", field="part_numbers"
        )
    if len(set(numbers)) != len(numbers) or any(
        isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= part_count for n in numbers
    ):
        raise ValidationError(
            f"part_numbers must be distinct integers from 1 to {part_count}",
            field="part_numbers",
        )
    return ports.blobs.presign_parts(
        ContentRef(document.id, pending.revision),
        upload_id=pending.multipart_id,
        part_numbers=numbers,
        expires_in=ports.settings.presign_ttl,
    )


def complete_upload(ports: Ports, actor: Principal, command: CompleteUpload) -> DocumentView:
    """Assemble a multipart upload and confirm it at once (its storage event then changes nothing).

    Raises:
        NotMultipartUploadError: no multipart upload is pending.
        ValidationError: the part list is empty, unordered or names parts storage lacks.
    """
    actor.require(Permission.WRITE)
    document = load(ports, command.document_id)
    pending = _pending_multipart(document)
    assert pending.multipart_id is not None
    numbers = [part.part_number for part in command.parts]
    if not numbers or numbers != sorted(set(numbers)) or len(numbers) > MAX_PARTS:
        raise ValidationError(
            "parts must list each uploaded part once, in ascending part_number order",
            field="parts",
        )
    ref = ContentRef(document.id, pending.revision)
    ports.blobs.complete_multipart(ref, upload_id=pending.multipart_id, parts=command.parts)
    confirmed = ingest.confirm_pending(ports, ref, sequencer=None, by=actor.actor)
    return DocumentView(document=confirmed, download=download_link(ports, confirmed))


def restore_retry_after(ports: Ports, document: Document) -> int:
    """Seconds a client should wait before asking again about a running restore."""
    override = ports.settings.restore_poll_interval
    if override is not None:
        return max(1, int(override.total_seconds()))
    if document.restore is None:
        return 60
    window = document.restore.tier.window(document.storage_class)
    # Poll about ten times over the tier's documented window, at most every 15 minutes.
    return max(60, min(900, int(window.total_seconds()) // 10))


# ---- helpers ------------------------------------------------------------------------------


def _declare_content(
    ports: Ports, command: UploadDocument, content: bytes
) -> tuple[ContentDeclaration, str]:
    limit = ports.settings.direct_upload_limit
    if len(content) > limit:
        raise PayloadTooLargeError(
            f"direct uploads carry at most {limit} bytes; send size (and sha256) without "
            "content to get a presigned upload instead",
            limit=limit,
        )
    size = validate_size(len(content), field="content")
    if command.size is not None and validate_size(command.size) != size:
        raise ChecksumMismatchError(
            f"size is {command.size} but the content has {size} bytes", field="size"
        )
    sha256 = hashlib.sha256(content).hexdigest()
    if command.sha256 is not None and validate_sha256(command.sha256) != sha256:
        raise ChecksumMismatchError("the content does not hash to sha256", field="sha256")
    declared = ContentDeclaration(
        file_name=sanitize_file_name(command.file_name),
        content_type=validate_content_type(command.content_type),
        size=size,
        sha256=sha256,
    )
    return declared, sha256


def _declare_presigned(command: UploadDocument) -> ContentDeclaration:
    if command.size is None:
        raise ValidationError(
            "size is required when content is uploaded through a presigned URL", field="size"
        )
    return ContentDeclaration(
        file_name=sanitize_file_name(command.file_name),
        content_type=validate_content_type(command.content_type),
        size=validate_size(command.size),
        sha256=None if command.sha256 is None else validate_sha256(command.sha256),
    )


def _prepare_upload(
    ports: Ports, ref: ContentRef, declared: ContentDeclaration, now: datetime, *, by: Actor
) -> tuple[PendingUpload, UploadTarget]:
    from kumocms.portvalues import UploadTarget  # noqa: PLC0415 - off the read path

    settings = ports.settings
    expires_at = now + settings.pending_upload_ttl
    if declared.size > settings.multipart_threshold:
        part_size = plan_part_size(declared.size, settings.part_size)
        part_count = -(-declared.size // part_size)
        upload_id = ports.blobs.start_multipart(ref, content_type=declared.content_type)
        parts, urls_expire = ports.blobs.presign_parts(
            ref,
            upload_id=upload_id,
            part_numbers=range(1, min(part_count, INITIAL_PART_URLS) + 1),
            expires_in=settings.presign_ttl,
        )
        pending = PendingUpload(
            revision=ref.revision,
            declared=declared,
            mode=UploadMode.MULTIPART,
            expires_at=expires_at,
            multipart_id=upload_id,
            part_size=part_size,
            requested_by=by,
        )
        target = UploadTarget(
            method="MULTIPART", expires_at=urls_expire, part_size=part_size, parts=parts
        )
        return pending, target
    # A declared checksum can only be enforced by storage on a signed PUT header; without
    # one, a form POST lets browsers upload while the policy still pins size and type.
    mode = UploadMode.PUT if declared.sha256 is not None else UploadMode.POST
    target = ports.blobs.presign_upload(ref, declared, mode=mode, expires_in=settings.presign_ttl)
    pending = PendingUpload(
        revision=ref.revision, declared=declared, mode=mode, expires_at=expires_at, requested_by=by
    )
    return pending, target


def _tidy_after_replace(ports: Ports, before: Document) -> None:
    """Abort the replacement a committed replace superseded, as far as storage lets us now.

    The old current revision is kept (§11). The replacement has been saved, so failing the
    request here would make the client send it again: what is left is recorded on the
    document (`stale_revision`) and deleted when its storage events are processed.
    """
    if before.pending is None:
        return
    superseded = ContentRef(before.id, before.pending.revision)
    with contextlib.suppress(DependencyError):
        ports.blobs.abort_upload(superseded, upload_id=before.pending.multipart_id)


def _pending_multipart(document: Document) -> PendingUpload:
    pending = document.pending
    if pending is None or pending.mode is not UploadMode.MULTIPART:
        raise NotMultipartUploadError("the document has no pending multipart upload")
    return pending
