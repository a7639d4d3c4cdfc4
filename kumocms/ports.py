"""Domain layer: the ports (Protocols) the use cases need, worded in domain language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import attrs

from kumocms.errors import DependencyError
from kumocms.settings import Settings

if TYPE_CHECKING:
    # Only annotations name these: a function that never touches documents (the authorizer,
    # the users function) does not build the document model by importing the ports.
    from kumocms.events import DomainEvent
    from kumocms.history import HistoryEntry, HistoryPage
    from kumocms.ids import DocumentId, UserId
    from kumocms.jsonvalue import JsonObject
    from kumocms.keys import ContentRef
    from kumocms.model import (
        ContentDeclaration,
        CopiedPart,
        CopyJob,
        Document,
        PartRange,
        UploadMode,
    )
    from kumocms.portvalues import (
        CompletedPart,
        IdempotencyClaim,
        ObjectInfo,
        PartUrl,
        QueuedMessage,
        Remembered,
        RestoreOutcome,
        RestoreStatus,
        UploadTarget,
        UserPage,
    )
    from kumocms.search import DocumentFilter, FieldType, IndexedFields, ReindexBatch
    from kumocms.states import ArchiveState, RestoreTier, StorageClass
    from kumocms.users import User

_WRITE_SIDE = frozenset(
    {
        "CompletedPart",
        "IdempotencyClaim",
        "ObjectInfo",
        "PartUrl",
        "QueuedMessage",
        "Remembered",
        "RestoreOutcome",
        "RestoreStatus",
        "UploadTarget",
        "UserPage",
    }
)
"""Value objects defined in `kumocms.portvalues`, still importable from here."""


def __getattr__(name: str) -> object:
    """The write side's value objects, imported on first use (they stay off a read path)."""
    if name in _WRITE_SIDE:
        from kumocms import portvalues  # noqa: PLC0415

        return getattr(portvalues, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- value objects that cross the ports ---------------------------------------------------


@attrs.frozen(kw_only=True)
class PresignedUrl:
    """A URL that works without credentials until `expires_at`."""

    url: str
    expires_at: datetime


@attrs.frozen(kw_only=True)
class DocumentPage:
    """One page of a listing, newest first, and the cursor of the next page."""

    items: tuple[Document, ...]
    next_cursor: str | None


# ---- ports --------------------------------------------------------------------------------


class Clock(Protocol):
    """Tells the time (always timezone-aware UTC)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class IdGenerator(Protocol):
    """Makes new identifiers and secrets."""

    def document_id(self) -> DocumentId:
        """A new document id."""
        ...

    def user_id(self) -> UserId:
        """A new user id."""
        ...

    def api_key(self) -> str:
        """A new random API key (with the recognisable prefix)."""
        ...

    def copy_id(self) -> str:
        """A new identifier for a transfer worker copy."""
        ...


class EventBus(Protocol):
    """Publishes domain events for subscribers."""

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Publish all events or raise; never drops some silently."""
        ...


class BlobStore(Protocol):
    """Stores content revisions and metadata sidecars, and hands out presigned URLs."""

    def store(
        self, ref: ContentRef, content: bytes, *, content_type: str, sha256: str
    ) -> str | None:
        """Store content given in a request (storage verifies the checksum).

        Returns the stored object's version id (None when storage does not version).
        """
        ...

    def presign_upload(
        self,
        ref: ContentRef,
        declared: ContentDeclaration,
        *,
        mode: UploadMode,
        expires_in: timedelta,
    ) -> UploadTarget:
        """Instructions for the client to upload the whole object with a PUT or a form POST."""
        ...

    def start_multipart(self, ref: ContentRef, *, content_type: str) -> str:
        """Open a multipart upload and return its id."""
        ...

    def presign_parts(
        self,
        ref: ContentRef,
        *,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: timedelta,
    ) -> tuple[tuple[PartUrl, ...], datetime]:
        """Fresh URLs for parts of an open multipart upload, and when they expire."""
        ...

    def complete_multipart(
        self, ref: ContentRef, *, upload_id: str, parts: Sequence[CompletedPart]
    ) -> None:
        """Assemble the uploaded parts into the object."""
        ...

    def abort_upload(self, ref: ContentRef, *, upload_id: str | None) -> None:
        """Give up an upload: abort the multipart upload, or delete every version of the key.

        Raises:
            DependencyError: storage failed or refused a delete (a version under legal hold).
        """
        ...

    def inspect(self, ref: ContentRef) -> ObjectInfo | None:
        """Size, checksum, storage class and restore status, or None when there is no object."""
        ...

    def compute_sha256(self, ref: ContentRef) -> str:
        """Read the object and hash it (for content storage cannot vouch for)."""
        ...

    def presign_download(
        self,
        ref: ContentRef,
        *,
        file_name: str,
        content_type: str,
        expires_in: timedelta,
        version_id: str | None,
    ) -> PresignedUrl:
        """A download URL that names the file for the browser.

        With `version_id` the URL reads exactly that object version, so a link handed out
        before a copy commits never serves the copy's bytes (or a later rewrite's).
        """
        ...

    def archive(self, ref: ContentRef, storage_class: StorageClass) -> str | None:
        """Move the content to a Glacier class in place (a no-op when it is already there).

        Returns the version id of the object now current.
        """
        ...

    def request_restore(self, ref: ContentRef, *, days: int, tier: RestoreTier) -> RestoreOutcome:
        """Ask Glacier for a temporary readable copy (or to keep an existing one longer)."""
        ...

    def make_permanent(self, ref: ContentRef) -> str | None:
        """Copy a restored object back to STANDARD in place; return the current version id."""
        ...

    # -- resumable copies of a revision onto its own key (the transfer worker) ------------

    def current_version(self, ref: ContentRef) -> str | None:
        """The version id of the revision's current object, or None when there is none."""
        ...

    def start_copy(self, ref: ContentRef, *, storage_class: StorageClass, content_type: str) -> str:
        """Open a multipart copy onto the revision's key in `storage_class`; return its id."""
        ...

    def copy_part(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        part: PartRange,
        source: ContentRef | None = None,
    ) -> CopiedPart:
        """Copy one byte range of version `source_version` into the open copy (one request).

        The bytes come from `source`'s key when given, from the copy's own key otherwise.

        Raises:
            CopyCancelledError: the copy was aborted or completed.
            DependencyError: storage failed (the source version is gone or not readable).
        """
        ...

    def complete_copy(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        parts: Sequence[CopiedPart],
        source: ContentRef | None = None,
    ) -> str:
        """Assemble the copied parts as the key's new current version and return its id.

        With `source` (a copy from another revision's key) there is nothing to check: the
        source version is immutable, whatever is current on either key.

        Raises:
            CopyCancelledError: the copy was aborted or completed already (checked first: a
                run that died right after completing finds its own version current).
            SourceChangedError: without `source`, the copy is still open but the key's
                current version is no longer `source_version` (nothing is completed; the
                caller aborts).
        """
        ...

    def copy_open(self, ref: ContentRef, *, copy_upload: str) -> bool:
        """Whether the copy is still open (neither completed nor aborted)."""
        ...

    def abort_copy(self, ref: ContentRef, *, copy_upload: str) -> None:
        """Give up an open copy and the parts it holds (an unknown copy is fine)."""
        ...

    def delete_version(self, ref: ContentRef, version_id: str) -> None:
        """Delete exactly one version of the revision's object (a missing one is fine).

        Raises:
            DependencyError: storage failed or refused (the version is under legal hold);
                nothing changed.
        """
        ...

    # -- nothing is lost: revisions, trash and legal hold --------------------------------

    def copy_revision(self, source: ContentRef, *, source_version: str, target: ContentRef) -> str:
        """Copy one version of a revision onto another revision's key in STANDARD.

        One request, so for objects under 5 GiB (larger ones go through the transfer
        worker's multipart copy with `source`). The content type is kept; the copy starts
        without tags and without a hold. Returns the new object's version id.

        Raises:
            DependencyError: the source version is missing or archived, or storage failed.
        """
        ...

    def tag_noncurrent(self, ref: ContentRef, version_id: str) -> None:
        """Tag a superseded version `kumocms-revision=noncurrent` (lifecycle moves it).

        Raises:
            DependencyError: the version is missing or storage failed.
        """
        ...

    def tags(self, ref: ContentRef, version_id: str) -> dict[str, str]:
        """The tags of one version.

        Raises:
            DependencyError: the version is missing or storage failed.
        """
        ...

    def set_legal_hold(self, ref: ContentRef, version_id: str, *, on: bool) -> None:
        """Put a legal hold on one version, or lift it (setting the same state is fine).

        Raises:
            DependencyError: the version is missing or storage failed.
        """
        ...

    def legal_hold(self, ref: ContentRef, version_id: str) -> bool:
        """Whether one version is under legal hold.

        Raises:
            DependencyError: the version is missing or storage failed.
        """
        ...

    def delete_key(self, ref: ContentRef) -> None:
        """Delete every version and delete marker of the revision's key (none is fine).

        For uploads that were rejected or abandoned: nothing of them is worth keeping.

        Raises:
            DependencyError: storage failed, or refused some versions (under legal hold);
                the others are deleted.
        """
        ...

    def purge(self, document_id: DocumentId) -> None:
        """Delete every version and delete marker of the document: revisions and sidecar.

        Raises:
            DependencyError: storage failed, or refused some versions (under legal hold);
                the others are deleted.
        """
        ...

    def write_sidecar(self, document_id: DocumentId, metadata: JsonObject) -> None:
        """Mirror the user metadata to the document's `meta.json`."""
        ...

    def read_sidecar(self, document_id: DocumentId) -> JsonObject | None:
        """The mirrored metadata, or None when there is no sidecar."""
        ...

    def check(self) -> None:
        """Raise DependencyError when storage is unreachable."""
        ...


class DocumentRepository(Protocol):
    """The source of truth for documents; every write is conditional on the version read."""

    def get(self, document_id: DocumentId) -> Document:
        """The document.

        Raises:
            DocumentNotFoundError: no such document.
        """
        ...

    def add(self, document: Document, *, history: Sequence[HistoryEntry] = ()) -> None:
        """Store a new document and its history entries, atomically.

        Adding an identical document again changes nothing.

        Raises:
            AlreadyExistsError: the id is taken by another document.
        """
        ...

    def save(
        self,
        document: Document,
        *,
        expected_version: int,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Replace the stored document if it still has `expected_version`, with its history.

        The change's history entries are written in the same transaction.

        Storing a document that is already stored exactly changes nothing (a retried write whose
        first attempt landed).

        Raises:
            VersionConflictError: another write got there first.
            DocumentNotFoundError: the document was deleted meanwhile.
        """
        ...

    def remove(
        self,
        document_id: DocumentId,
        *,
        expected_version: int,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Delete the document if it still has `expected_version`, writing `history` with it.

        Raises:
            VersionConflictError: another write got there first.
            DocumentNotFoundError: already gone.
        """
        ...

    def list(self, *, limit: int, cursor: str | None, state: ArchiveState | None) -> DocumentPage:
        """Newest first; `cursor` comes from a previous page.

        Raises:
            InvalidCursorError: the cursor was not made by this repository.
        """
        ...

    def list_trash(self, *, limit: int, cursor: str | None) -> DocumentPage:
        """Trashed documents, newest deletion first.

        Raises:
            InvalidCursorError: the cursor was not made by this repository's trash listing.
        """
        ...

    def history(
        self, document_id: DocumentId, *, now: datetime, limit: int, cursor: str | None
    ) -> HistoryPage:
        """The document's history entries newest first (expired entries are not returned).

        Raises:
            InvalidCursorError: the cursor was not made by this repository for this document.
        """
        ...

    def expire_history(self, document_id: DocumentId, *, expires_at: datetime) -> None:
        """Make every entry of a document that is gone expire at `expires_at`."""
        ...

    def find_purgeable(self, now: datetime, *, limit: int) -> Sequence[Document]:
        """Trashed documents without a hold whose trash time is over (sparse index)."""
        ...

    def find_prunable(self, now: datetime, *, limit: int) -> Sequence[Document]:
        """Documents with revisions the retention rule may now delete (sparse index)."""
        ...

    def search(self, query: DocumentFilter, *, limit: int, cursor: str | None) -> DocumentPage:
        """Documents answering `query` (§10), in its order (see `DocumentFilter`).

        Newest first, or with a range by that field ascending and then newest first. Every
        page costs a bounded number of requests whatever the table's size; a page may hold
        fewer than `limit` items (with a `next_cursor`) when entries of the index's leading
        condition fail the other conditions. Paging to the end returns each matching
        document once. Hits are re-checked against the current record (`query.matches`).

        Raises:
            InvalidCursorError: the cursor was not made by this repository for `query`.
        """
        ...

    def index_ready(self, name: str, kind: FieldType) -> bool:
        """Whether the index holds every document's entry for field `name` of type `kind`.

        True when recorded (`mark_ready`) or while the table has no documents; read-only.
        """
        ...

    def reindex_batch(self, *, cursor: str | None, limit: int) -> ReindexBatch:
        """Write the index entries of up to `limit` documents after `cursor` (resumable).

        Entries are written only if the document did not change meanwhile (a concurrent
        write keeps its own entries current).

        Raises:
            InvalidCursorError: the cursor was not made by this repository.
        """
        ...

    def mark_ready(self, fields: IndexedFields) -> None:
        """Record that every document's entries for `fields` (with their types) are written."""
        ...

    def find_expired_uploads(self, now: datetime, *, limit: int) -> Sequence[Document]:
        """Documents whose pending upload's deadline has passed (oldest deadline first)."""
        ...

    def find_in_state(self, state: ArchiveState, *, limit: int) -> Sequence[Document]:
        """Up to `limit` documents in `state` (for scheduled reconciliation)."""
        ...

    # -- transfer worker copies, one per document, stored beside it -----------------------

    def add_copy(self, job: CopyJob) -> None:
        """Record a new copy job (before the document points at it).

        Raises:
            AlreadyExistsError: another copy of the document is recorded.
        """
        ...

    def get_copy(self, document_id: DocumentId) -> CopyJob | None:
        """The document's copy job, or None."""
        ...

    def save_copy_progress(self, job: CopyJob) -> None:
        """Checkpoint a job while the document and the stored job still expect it.

        Conditional on the document being in `job.copying_state` with `job.copy_id` as its
        copy, and on the stored job having the same copy id.

        Raises:
            CopyCancelledError: the document or the stored job moved on.
        """
        ...

    def remove_copy(self, document_id: DocumentId, copy_id: str) -> None:
        """Forget the job if it is still `copy_id` (a missing or other job is left alone)."""
        ...

    def find_stalled_copies(self, before: datetime, *, limit: int) -> Sequence[CopyJob]:
        """Jobs whose last progress is at or before `before`, oldest first (sparse index)."""
        ...

    def check(self) -> None:
        """Raise DependencyError when the store is unreachable."""
        ...


class UserRepository(Protocol):
    """Users and their key hashes; keeps at least one enabled admin once there is one."""

    def get(self, user_id: UserId) -> User:
        """The user.

        Raises:
            UserNotFoundError: no such user.
        """
        ...

    def find_by_key_hash(self, key_hash: str) -> User | None:
        """The user whose current API key has this SHA-256, in one lookup."""
        ...

    def add(self, user: User) -> None:
        """Store a new user."""
        ...

    def save(self, user: User, *, previous: User) -> None:
        """Replace `previous` (same id and version as stored) with `user`.

        Raises:
            VersionConflictError: the user changed meanwhile.
            LastAdminError: no enabled admin would remain.
        """
        ...

    def remove(self, user: User) -> None:
        """Delete the user (as read) and its key.

        Raises:
            VersionConflictError: the user changed meanwhile.
            LastAdminError: no enabled admin would remain.
        """
        ...

    def list(self, *, limit: int, cursor: str | None) -> UserPage:
        """Users in id order."""
        ...

    def count_enabled_admins(self) -> int:
        """How many enabled admins there are."""
        ...


class IdempotencyStore(Protocol):
    """Remembers the outcome of requests made with an idempotency key for a while."""

    def claim(
        self, scope: str, *, fingerprint: str, owner: str, expires_at: datetime
    ) -> Remembered | IdempotencyClaim:
        """Claim `scope` for request `owner`, or return what an earlier request left there.

        A claim already held by the same owner (its first attempt landed but the answer was
        lost) is CLAIMED again. An in-flight claim lapses at `expires_at`, so a request that
        died half-way blocks its key only briefly.
        """
        ...

    def complete(self, scope: str, *, fingerprint: str, outcome: str, expires_at: datetime) -> None:
        """Remember the outcome of a claimed scope's request."""
        ...

    def release(self, scope: str) -> None:
        """Forget a claim whose request failed, so the client can try again."""
        ...


class MessageQueue(Protocol):
    """A queue of work: messages are sent, taken, then deleted once handled.

    A taken message stays hidden from other readers for the queue's visibility timeout and
    comes back if it is neither deleted nor released by then (at-least-once delivery).
    """

    def send(
        self,
        body: str,
        *,
        attempts: int = 0,
        last_error: str | None = None,
        delay: timedelta = timedelta(0),
    ) -> str:
        """Queue a message, visible after `delay` (at most 15 minutes); return its id."""
        ...

    def receive(self, *, limit: int) -> Sequence[QueuedMessage]:
        """Take up to `limit` (at most 10) visible messages without waiting."""
        ...

    def delete(self, message: QueuedMessage) -> None:
        """Remove a taken message for good (it was handled)."""
        ...

    def release(self, message: QueuedMessage) -> None:
        """Make a taken message visible again at once (it was not handled)."""
        ...


class NoQueue:
    """The queue of a composition root that has none: sending fails as a dependency would."""

    def __init__(self, name: str) -> None:
        self._name = name

    def send(
        self,
        body: str,
        *,
        attempts: int = 0,
        last_error: str | None = None,
        delay: timedelta = timedelta(0),
    ) -> str:
        """Refuse: nothing would ever read the message."""
        del body, attempts, last_error, delay
        raise DependencyError(f"no {self._name} queue is configured")

    def receive(self, *, limit: int) -> Sequence[QueuedMessage]:
        """Nothing to take."""
        del limit
        return ()

    def delete(self, message: QueuedMessage) -> None:
        """Nothing to delete."""
        del message

    def release(self, message: QueuedMessage) -> None:
        """Nothing to release."""
        del message


def _no_transfer_queue() -> MessageQueue:
    return NoQueue("transfer")


def _no_copy_dead_letters() -> MessageQueue:
    return NoQueue("transfer dead-letter")


@attrs.frozen(kw_only=True)
class Ports:
    """Everything the use cases need, assembled by a composition root.

    `transfers` is the transfer worker's queue: the use cases that start large copies send
    their jobs there. `copy_dead_letters` is its dead-letter queue, where reconcile finds the
    copies whose retries ran out.
    """

    blobs: BlobStore
    documents: DocumentRepository
    users: UserRepository
    events: EventBus
    clock: Clock
    ids: IdGenerator
    idempotency: IdempotencyStore
    settings: Settings = attrs.field(factory=Settings)
    transfers: MessageQueue = attrs.field(factory=_no_transfer_queue)
    copy_dead_letters: MessageQueue = attrs.field(factory=_no_copy_dead_letters)


__all__ = [
    "BlobStore",
    "Clock",
    "CompletedPart",
    "DocumentPage",
    "DocumentRepository",
    "EventBus",
    "IdGenerator",
    "IdempotencyClaim",
    "IdempotencyStore",
    "MessageQueue",
    "NoQueue",
    "ObjectInfo",
    "PartUrl",
    "Ports",
    "PresignedUrl",
    "QueuedMessage",
    "Remembered",
    "RestoreOutcome",
    "RestoreStatus",
    "UploadTarget",
    "UserPage",
    "UserRepository",
]
