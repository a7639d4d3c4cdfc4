"""Domain layer: the Document aggregate; every change returns the new document and its events."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal  # noqa: F401 - resolves the JsonValue alias in annotations
from typing import TYPE_CHECKING, Any, Self

import attrs

from kumocms.deferred import Deferred
from kumocms.errors import (
    ConflictError,
    CopyCancelledError,
    DocumentNotFoundError,
    InvalidMetadataError,
    InvalidRestoreRequestError,
    LegalHoldError,
    ValidationError,
)
from kumocms.ids import DocumentId, UserId
from kumocms.jsonvalue import JsonObject, JsonValue
from kumocms.rules import MAX_RESTORE_DAYS, MIN_RESTORE_DAYS, normalize_metadata
from kumocms.states import Action, ArchiveState, RestoreTier, StorageClass, transition
from kumocms.users import Actor

if TYPE_CHECKING:
    from kumocms import events as ev
    from kumocms.settings import Settings
else:
    ev = Deferred("kumocms.events")

MAX_PARTS = 10_000
MiB = 1024**2
GiB = 1024**3
MIN_PART_SIZE = 5 * MiB
"""S3's smallest multipart part (all but the last)."""
MAX_PART_SIZE = 5 * GiB
"""S3's largest part, and the largest single CopyObject / UploadPartCopy request."""


class UploadMode(enum.Enum):
    """How content reaches storage."""

    DIRECT = "direct"
    """In the request body, stored by the service."""
    PUT = "put"
    """A presigned PUT of the whole object by the client."""
    POST = "post"
    """A presigned browser-style form POST of the whole object by the client."""
    MULTIPART = "multipart"
    """Presigned part uploads, then a completion request."""


@attrs.frozen(kw_only=True)
class ContentDeclaration:
    """What the client says about content it is about to store."""

    file_name: str
    content_type: str
    size: int
    sha256: str | None = None

    def mismatch(self, observed: StoredContent) -> str | None:
        """Why the stored object is not what was declared, or None when it is."""
        if observed.size != self.size:
            return f"size is {observed.size} bytes, {self.size} were declared"
        if self.sha256 is not None and observed.sha256 not in (None, self.sha256):
            return "sha256 differs from the declared value"
        return None


@attrs.frozen(kw_only=True)
class StoredContent:
    """What the blob store reports about an object (sha256 is None when it cannot tell)."""

    size: int
    sha256: str | None = None
    storage_class: StorageClass = StorageClass.STANDARD
    version_id: str | None = None
    """The storage version observed (None when storage does not version)."""


@attrs.frozen(kw_only=True)
class PendingUpload:
    """A content revision the client has been told to upload and that has not arrived."""

    revision: int
    declared: ContentDeclaration
    mode: UploadMode
    expires_at: datetime
    multipart_id: str | None = None
    part_size: int | None = None
    requested_by: Actor | None = None
    """Who asked for the upload: the author of the revision once it is confirmed."""


@attrs.frozen(kw_only=True)
class RestoreInfo:
    """A Glacier restore: what was asked, when it was ready, when the copy expires."""

    tier: RestoreTier
    days: int
    permanent: bool
    requested_at: datetime
    ready_at: datetime | None = None
    expires_at: datetime | None = None


@attrs.frozen(kw_only=True)
class RestoreRequest:
    """A validated restore request: 1 to 365 days, a tier valid for the storage class."""

    days: int = 1
    tier: RestoreTier = RestoreTier.STANDARD
    permanent: bool = False

    def __attrs_post_init__(self) -> None:
        if isinstance(self.days, bool) or not isinstance(self.days, int):
            raise InvalidRestoreRequestError("days must be an integer", field="days")
        if not MIN_RESTORE_DAYS <= self.days <= MAX_RESTORE_DAYS:
            raise InvalidRestoreRequestError(
                f"days must be from {MIN_RESTORE_DAYS} to {MAX_RESTORE_DAYS}", field="days"
            )


def plan_part_size(size: int, preferred: int) -> int:
    """Part size for a multipart upload: the preferred size, grown to stay within 10,000 parts."""
    needed = -(-size // MAX_PARTS)
    if needed <= preferred:
        return preferred
    return -(-needed // MiB) * MiB


def plan_copy_part_size(size: int, preferred: int) -> int:
    """Part size of a worker copy: at least 5 MiB, at most 5 GiB, at most 10,000 parts.

    5 TiB (the largest object) over 10,000 parts needs 524.3 MiB parts, well under 5 GiB.
    """
    part_size = max(plan_part_size(size, preferred), MIN_PART_SIZE)
    if part_size > MAX_PART_SIZE:
        raise ValueError("no part size keeps this object within 10,000 parts of 5 GiB")
    return part_size


@attrs.frozen(kw_only=True)
class PartRange:
    """One part of a copy: bytes `first` to `last` inclusive of the source."""

    number: int
    first: int
    last: int

    @property
    def size(self) -> int:
        """Bytes in the part."""
        return self.last - self.first + 1


@attrs.frozen(kw_only=True)
class CopiedPart:
    """A part storage copied, identified by the ETag it returned."""

    number: int
    etag: str


@attrs.frozen(kw_only=True)
class CopyTicket:
    """What the document itself records about a copy the transfer worker is doing."""

    copy_id: str
    storage_class: StorageClass
    previous_state: ArchiveState
    started_at: datetime
    from_revision: int | None = None
    """For a revision restore: the revision number whose content is copied."""
    target_key: int | None = None
    """For a revision restore: the object key revision the copy writes (a new key)."""
    requested_by: Actor | None = None


@attrs.frozen(kw_only=True)
class CopyJob:
    """A resumable multipart copy of one revision onto its own key in another storage class.

    Stored beside the document and checkpointed as parts complete, so that a worker that runs
    out of time (or dies) leaves everything the next one needs. `committed_version` is the
    object version a completed copy made, recorded before the document is saved.
    """

    document_id: DocumentId
    copy_id: str
    revision: int
    size: int
    source_version: str
    upload_id: str
    part_size: int
    storage_class: StorageClass
    copying_state: ArchiveState
    """The state the document is in while the copy runs (ARCHIVING, or RESTORED)."""
    previous_state: ArchiveState
    progress_at: datetime
    parts: tuple[CopiedPart, ...] = ()
    completing: bool = False
    """Set just before the parts are assembled: a run that dies then may find it done."""
    committed_version: str | None = None
    source_revision: int | None = None
    """The key revision read when it is not `revision` (a revision restore onto a new key)."""

    @property
    def source_key(self) -> int:
        """The key revision the parts are copied from."""
        return self.revision if self.source_revision is None else self.source_revision

    @property
    def part_count(self) -> int:
        """How many parts the whole copy has."""
        return -(-self.size // self.part_size)

    def missing(self) -> list[PartRange]:
        """The parts not copied yet, in order."""
        done = {part.number for part in self.parts}
        return [
            PartRange(
                number=number,
                first=(number - 1) * self.part_size,
                last=min(number * self.part_size, self.size) - 1,
            )
            for number in range(1, self.part_count + 1)
            if number not in done
        ]

    def with_parts(self, copied: Sequence[CopiedPart], now: datetime) -> CopyJob:
        """This job with more parts done (a part copied again replaces its old ETag)."""
        merged = {part.number: part for part in self.parts}
        merged.update({part.number: part for part in copied})
        parts = tuple(merged[number] for number in sorted(merged))
        return attrs.evolve(self, parts=parts, progress_at=now)

    @property
    def complete(self) -> bool:
        """Whether every part has been copied."""
        return len(self.parts) == self.part_count


@attrs.frozen(kw_only=True)
class Revision:
    """One kept content revision: consecutive `number` from 1, stored at object key `key`."""

    number: int
    key: int
    version_id: str | None
    file_name: str
    content_type: str
    size: int
    sha256: str | None
    storage_class: StorageClass
    created_at: datetime
    created_by: Actor


@attrs.frozen(kw_only=True)
class TrashInfo:
    """A document in the trash: who deleted it, when, and when the trash timer may purge it."""

    deleted_at: datetime
    deleted_by: Actor
    purge_after: datetime
    purging: bool = False
    """Purged: out of the trash listing and beyond restore; its objects are being deleted,
    then the record goes (a failure part-way is finished by the next purge run)."""


def trash_position(document: Document) -> str:
    """A trashed document's place in the trash listing (text order is deletion order)."""
    assert document.trash is not None
    moment = document.trash.deleted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{moment}#{document.id.value}"


@attrs.frozen(kw_only=True)
class LegalHold:
    """A legal hold on a document: recorded at once, placed on storage by the worker."""

    reason: str
    set_by: Actor
    set_at: datetime


@attrs.frozen(kw_only=True, order=True)
class HeldVersion:
    """One object version that carries a storage legal hold."""

    key: int
    version_id: str


@attrs.frozen(kw_only=True)
class RevisionPolicy:
    """Which revisions are kept: the newest `max_revisions`, or those younger than `keep_for`.

    Whichever keeps more wins. Nothing of a trashed or held document, or of one being
    copied, is pruned.
    """

    max_revisions: int = 20
    keep_for: timedelta = timedelta(days=90)

    @classmethod
    def of(cls, settings: Settings) -> RevisionPolicy:
        """The rule the settings ask for."""
        return cls(max_revisions=settings.max_revisions, keep_for=settings.revision_retention)

    def prunable(self, document: Document, now: datetime) -> tuple[Revision, ...]:
        """The revisions to delete now (never the current one)."""
        if not self._may_prune(document):
            return ()
        return tuple(r for r in self._candidates(document) if r.created_at + self.keep_for <= now)

    def due(self, document: Document) -> datetime | None:
        """When reconcile must look at the document next.

        None when nothing will become prunable until the document changes.
        """
        if not self._may_prune(document):
            return None
        if document.pruning:
            return document.updated_at  # deletes of an earlier run still to finish
        candidates = self._candidates(document)
        if not candidates:
            return None
        return min(r.created_at for r in candidates) + self.keep_for

    def _may_prune(self, document: Document) -> bool:
        return (
            document.trash is None
            and document.legal_hold is None
            and not document.held_versions
            and document.copy is None
        )

    def _candidates(self, document: Document) -> tuple[Revision, ...]:
        kept = document.kept_revisions
        return kept[: max(0, len(kept) - max(self.max_revisions, 1))]


def restore_expiry(ready_at: datetime, days: int) -> datetime:
    """When S3 removes a restored copy: midnight UTC after `days` days (AWS rounds up)."""
    end = ready_at + timedelta(days=days)
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == end else midnight + timedelta(days=1)


@attrs.frozen(kw_only=True)
class Changed:
    """The outcome of a change: the new document and what happened."""

    document: Document
    events: tuple[ev.DomainEvent, ...]


@attrs.frozen(kw_only=True)
class Document:
    """A stored file, its user metadata and where its content is in the archive lifecycle.

    `revision` is the content revision readers get (None until the first upload is confirmed);
    `pending` is a revision being uploaded. A revision's object is never overwritten: a replace
    uploads a new revision and the old one is deleted once the new one is confirmed.
    """

    id: DocumentId
    file_name: str
    content_type: str
    size: int
    sha256: str | None
    metadata: JsonObject
    state: ArchiveState
    created_at: datetime
    updated_at: datetime
    version: int = 1
    storage_class: StorageClass = StorageClass.STANDARD
    restore: RestoreInfo | None = None
    revision: int | None = None
    sequencer: str | None = None
    pending: PendingUpload | None = None
    stale_revision: int | None = None
    """A revision whose object must be gone (deletes are repeated when its events recur)."""
    owner: UserId | None = None
    copy: CopyTicket | None = None
    """The transfer worker's copy in progress (ARCHIVING, or a permanent restore)."""
    content_version: str | None = None
    """The storage version of the current revision when known. Download links name it, and
    the worker's own Object Created events are recognised by it. Every change that makes a
    new object version current records it (None only for records older than the field)."""
    revisions: tuple[Revision, ...] = ()
    """Every kept revision, oldest first; the last is the current one."""
    trash: TrashInfo | None = None
    legal_hold: LegalHold | None = None
    held_versions: tuple[HeldVersion, ...] = ()
    pruning: tuple[int, ...] = ()
    """Key revisions dropped by retention whose objects are being deleted."""

    # ---- creation -------------------------------------------------------------------------

    @classmethod
    def upload_direct(
        cls,
        *,
        document_id: DocumentId,
        declared: ContentDeclaration,
        sha256: str,
        metadata: JsonObject,
        now: datetime,
        owner: UserId | None,
        content_version: str | None = None,
        by: Actor | None = None,
    ) -> Changed:
        """A document whose content was stored with the request: active at once."""
        first = Revision(
            number=1,
            key=1,
            version_id=content_version,
            file_name=declared.file_name,
            content_type=declared.content_type,
            size=declared.size,
            sha256=sha256,
            storage_class=StorageClass.STANDARD,
            created_at=now,
            created_by=by or Actor(user_id=owner),
        )
        document = cls(
            id=document_id,
            file_name=declared.file_name,
            content_type=declared.content_type,
            size=declared.size,
            sha256=sha256,
            metadata=metadata,
            state=ArchiveState.ACTIVE,
            created_at=now,
            updated_at=now,
            revision=1,
            owner=owner,
            content_version=content_version,
            revisions=(first,),
        )
        uploaded = ev.DocumentUploaded(
            occurred_at=now, document_id=document_id, version=1, size=declared.size, sha256=sha256
        )
        return Changed(document=document, events=(uploaded,))

    @classmethod
    def begin_upload(
        cls,
        *,
        document_id: DocumentId,
        pending: PendingUpload,
        metadata: JsonObject,
        now: datetime,
        owner: UserId | None,
    ) -> Changed:
        """A document whose content the client will upload itself: pending until confirmed."""
        declared = pending.declared
        document = cls(
            id=document_id,
            file_name=declared.file_name,
            content_type=declared.content_type,
            size=declared.size,
            sha256=declared.sha256,
            metadata=metadata,
            state=ArchiveState.PENDING,
            created_at=now,
            updated_at=now,
            pending=pending,
            owner=owner,
        )
        started = ev.DocumentUploadStarted(
            occurred_at=now,
            document_id=document_id,
            version=1,
            size=declared.size,
            mode=pending.mode.value,
        )
        return Changed(document=document, events=(started,))

    # ---- queries --------------------------------------------------------------------------

    @property
    def kept_revisions(self) -> tuple[Revision, ...]:
        """The kept revisions, oldest first (a record older than `revisions` has its current)."""
        if self.revisions or self.revision is None:
            return self.revisions
        legacy = Revision(
            number=1,
            key=self.revision,
            version_id=self.content_version,
            file_name=self.file_name,
            content_type=self.content_type,
            size=self.size,
            sha256=self.sha256,
            storage_class=self.storage_class,
            created_at=self.created_at,
            created_by=Actor(user_id=self.owner),
        )
        return (legacy,)

    @property
    def revision_number(self) -> int | None:
        """The current revision's number (None before the first upload is confirmed)."""
        kept = self.kept_revisions
        return kept[-1].number if kept else None

    def find_revision(self, number: int) -> Revision:
        """A kept revision by number.

        Raises:
            DocumentNotFoundError: no such revision is kept (pruned, or never made).
        """
        for revision in self.kept_revisions:
            if revision.number == number:
                return revision
        raise DocumentNotFoundError(f"document {self.id} has no revision {number}")

    def recorded_versions(self) -> frozenset[HeldVersion]:
        """Every object version the record knows of: each kept revision's."""
        return frozenset(
            HeldVersion(key=r.key, version_id=r.version_id)
            for r in self.kept_revisions
            if r.version_id is not None
        )

    @property
    def legal_hold_applied(self) -> bool:
        """Whether every recorded version carries a storage hold (false without a hold).

        A revision recorded before object versions were (no `version_id`) is not held yet: the
        worker first looks its version up.
        """
        return (
            self.legal_hold is not None
            and all(r.version_id is not None for r in self.kept_revisions)
            and self.recorded_versions() <= set(self.held_versions)
        )

    def holds_outdated(self) -> bool:
        """Whether storage holds must be placed (a hold on) or lifted (released)."""
        if self.legal_hold is not None:
            return not self.legal_hold_applied
        return bool(self.held_versions)

    @property
    def purge_at(self) -> datetime | None:
        """When the trash timer purges the document (None outside the trash or under a hold)."""
        if self.trash is None or self.legal_hold is not None:
            return None
        if self.trash.purging:
            return self.updated_at  # its objects are still to delete: the next run finishes
        return self.trash.purge_after

    def check_not_held(self, what: str) -> None:
        """Raise when a legal hold forbids `what`.

        Raises:
            LegalHoldError: a hold is on.
        """
        if self.legal_hold is not None:
            raise LegalHoldError(f"a legal hold is on: the document cannot be {what}")

    def is_expired(self, now: datetime) -> bool:
        """Whether this is a first upload that never arrived in time (it counts as deleted)."""
        return (
            self.state is ArchiveState.PENDING
            and self.pending is not None
            and self.pending.expires_at <= now
        )

    def is_readable(self, now: datetime) -> bool:
        """Whether a download link can be given out now (an archive copy reads its source)."""
        if self.state in (ArchiveState.ACTIVE, ArchiveState.ARCHIVING):
            return True
        if self.state is ArchiveState.RESTORED and self.restore is not None:
            return self.restore.expires_at is None or self.restore.expires_at > now
        return False

    def revision_role(self, revision: int) -> RevisionRole:
        """How an object event for `revision` of this document is to be treated."""
        if self.pending is not None and revision == self.pending.revision:
            return RevisionRole.PENDING
        if revision == self.revision:
            return RevisionRole.CURRENT
        if self.copy is not None and revision == self.copy.target_key:
            return RevisionRole.COPYING
        if any(kept.key == revision for kept in self.kept_revisions):
            return RevisionRole.KEPT
        if revision == self.stale_revision or revision <= self.version:
            # Every revision number up to the current version has been handed out; one that
            # is neither current nor pending belongs to replaced, rejected or abandoned content.
            return RevisionRole.STALE
        return RevisionRole.UNKNOWN

    def next_revision(self) -> int:
        """The revision number a new upload gets: the version the change will create."""
        return self.version + 1

    # ---- changes --------------------------------------------------------------------------

    def confirm_upload(
        self, *, observed: StoredContent, sequencer: str | None, now: datetime
    ) -> Changed:
        """The pending revision arrived: activate it, or reject it when it differs.

        Raises:
            IllegalTransitionError: nothing is pending.
        """
        pending = self.pending
        if pending is None:
            transition(self.state, Action.CONFIRM_UPLOAD)  # raises for any non-pending state
            raise ConflictError("no upload is pending")  # pragma: no cover - PENDING has one
        reason = pending.declared.mismatch(observed)
        first = self.state is ArchiveState.PENDING
        if reason is not None:
            action = Action.REJECT_UPLOAD if first else Action.REJECT_REPLACE
            document = self._evolve(action, now, pending=None, stale_revision=pending.revision)
            rejected = ev.DocumentUploadRejected if first else ev.DocumentReplaceRejected
            return _emit(document, rejected, now, reason=reason)
        declared = pending.declared
        sha256 = observed.sha256 or declared.sha256
        revisions = self._add_revision(
            key=pending.revision,
            version_id=observed.version_id,
            file_name=declared.file_name,
            content_type=declared.content_type,
            size=observed.size,
            sha256=sha256,
            storage_class=observed.storage_class,
            now=now,
            by=pending.requested_by or Actor(user_id=self.owner),
        )
        document = self._evolve(
            Action.CONFIRM_UPLOAD if first else Action.CONFIRM_REPLACE,
            now,
            file_name=declared.file_name,
            content_type=declared.content_type,
            size=observed.size,
            sha256=sha256,
            revision=pending.revision,
            sequencer=sequencer,
            storage_class=observed.storage_class,
            pending=None,
            stale_revision=None,
            content_version=observed.version_id,
            revisions=revisions,
        )
        event_type = ev.DocumentUploaded if first else ev.DocumentReplaced
        return _emit(document, event_type, now, size=observed.size, sha256=sha256)

    def record_rewrite(
        self, *, observed: StoredContent, sequencer: str, now: datetime
    ) -> Changed | None:
        """A newer write landed on the current revision's key (a presigned URL used twice).

        The object is the truth: its size and hash are recorded. Returns None when the event
        is not newer than the confirmed one or the content is the same.
        """
        if self.state is not ArchiveState.ACTIVE or not is_newer_sequencer(
            sequencer, self.sequencer
        ):
            return None
        sha256 = observed.sha256 or self.sha256
        if observed.size == self.size and sha256 == self.sha256:
            return None
        document = self._evolve(
            Action.CONFIRM_REPLACE,
            now,
            size=observed.size,
            sha256=sha256,
            sequencer=sequencer,
            content_version=observed.version_id,
            revisions=self._update_current(
                size=observed.size, sha256=sha256, version_id=observed.version_id
            ),
        )
        return _emit(document, ev.DocumentReplaced, now, size=observed.size, sha256=sha256)

    def expire_upload(self, now: datetime) -> Changed:
        """The first upload never arrived: the document goes away."""
        transition(self.state, Action.EXPIRE_UPLOAD)
        return _emit(self._ended(), ev.DocumentUploadExpired, now)

    def abandon_replace(self, now: datetime) -> Changed:
        """A pending replacement never arrived in time: forget it, keep the current content."""
        if self.pending is None:
            raise ConflictError("no replacement is pending")
        document = self._evolve(
            Action.REJECT_REPLACE, now, pending=None, stale_revision=self.pending.revision
        )
        return _emit(document, ev.DocumentReplaceRejected, now, reason="upload expired")

    def update_metadata(self, patch: object, now: datetime) -> Changed | None:
        """Apply an RFC 7396 merge patch to the user metadata; None when nothing changes.

        Raises:
            InvalidMetadataError: the patch is not an object or the result breaks the rules.
            IllegalTransitionError: the document was rejected.
        """
        transition(self.state, Action.UPDATE_METADATA)
        if not isinstance(patch, Mapping):
            raise InvalidMetadataError("a metadata patch must be a JSON object", field="metadata")
        _check_patch_keys(patch)
        merged = normalize_metadata(merge_patch(self.metadata, patch))
        if merged == self.metadata:
            return None
        document = self._evolve(Action.UPDATE_METADATA, now, metadata=merged)
        return _emit(document, ev.DocumentMetadataUpdated, now)

    def replace_direct(
        self,
        *,
        declared: ContentDeclaration,
        sha256: str,
        now: datetime,
        metadata: JsonObject | None = None,
        content_version: str | None = None,
        by: Actor | None = None,
    ) -> Changed:
        """New content was stored with the request as revision `next_revision()`.

        Raises:
            LegalHoldError: a legal hold is on.
        """
        transition(self.state, Action.REPLACE)
        self.check_not_held("replaced")
        revisions = self._add_revision(
            key=self.next_revision(),
            version_id=content_version,
            file_name=declared.file_name,
            content_type=declared.content_type,
            size=declared.size,
            sha256=sha256,
            storage_class=StorageClass.STANDARD,
            now=now,
            by=by or Actor(user_id=self.owner),
        )
        document = self._evolve(
            Action.REPLACE,
            now,
            file_name=declared.file_name,
            content_type=declared.content_type,
            size=declared.size,
            sha256=sha256,
            revision=self.next_revision(),
            sequencer=None,
            storage_class=StorageClass.STANDARD,
            pending=None,
            stale_revision=self.pending.revision if self.pending is not None else None,
            metadata=self.metadata if metadata is None else metadata,
            content_version=content_version,
            revisions=revisions,
        )
        return _emit(document, ev.DocumentReplaced, now, size=declared.size, sha256=sha256)

    def begin_replace(
        self, pending: PendingUpload, now: datetime, *, metadata: JsonObject | None = None
    ) -> Changed:
        """The client will upload a new revision; the current one stays readable meanwhile.

        A replacement still pending is superseded (its revision becomes stale).

        Raises:
            LegalHoldError: a legal hold is on.
        """
        transition(self.state, Action.REPLACE)
        self.check_not_held("replaced")
        superseded = self.pending.revision if self.pending is not None else self.stale_revision
        document = self._evolve(
            Action.REPLACE,
            now,
            pending=pending,
            stale_revision=superseded,
            metadata=self.metadata if metadata is None else metadata,
        )
        return _emit(
            document,
            ev.DocumentReplaceStarted,
            now,
            size=pending.declared.size,
            mode=pending.mode.value,
        )

    def archive(
        self, storage_class: StorageClass, now: datetime, *, version_id: str | None = None
    ) -> Changed:
        """The content moved to a Glacier class (as object version `version_id`).

        Raises:
            IllegalTransitionError: not active.
            ConflictError: a replacement upload is pending.
        """
        transition(self.state, Action.ARCHIVE)
        if not storage_class.is_archive:
            raise InvalidRestoreRequestError(
                "storage_class must be GLACIER or DEEP_ARCHIVE", field="storage_class"
            )
        if self.pending is not None:
            raise ConflictError("a replacement upload is pending; archive after it completes")
        document = self._evolve(
            Action.ARCHIVE,
            now,
            storage_class=storage_class,
            restore=None,
            content_version=version_id,
            revisions=self._update_current(storage_class=storage_class, version_id=version_id),
        )
        return _emit(document, ev.DocumentArchived, now, storage_class=storage_class.value)

    def start_archive(self, ticket: CopyTicket, now: datetime) -> Changed:
        """The transfer worker will copy the content to a Glacier class; readable meanwhile.

        Raises:
            IllegalTransitionError: not active.
            ConflictError: a replacement upload is pending.
        """
        self.archive(ticket.storage_class, now)  # the same checks as a copy within the request
        document = self._evolve(Action.START_ARCHIVE, now, copy=ticket)
        return _emit(
            document,
            ev.DocumentCopyStarted,
            now,
            copy_id=ticket.copy_id,
            storage_class=ticket.storage_class.value,
        )

    def start_permanent(self, ticket: CopyTicket, now: datetime) -> Changed:
        """The worker will copy the restored content back to STANDARD; restored until then."""
        transition(self.state, Action.START_PERMANENT)
        if self.restore is None:
            raise ConflictError("the document has no restore to make permanent")
        document = self._evolve(
            Action.START_PERMANENT,
            now,
            copy=ticket,
            restore=attrs.evolve(self.restore, permanent=True),
        )
        return _emit(
            document,
            ev.DocumentCopyStarted,
            now,
            copy_id=ticket.copy_id,
            storage_class=ticket.storage_class.value,
        )

    def copying(self, copy_id: str) -> bool:
        """Whether `copy_id` is the copy this document is waiting for."""
        return self.copy is not None and self.copy.copy_id == copy_id

    def commit_copy(self, copy_id: str, *, version_id: str, now: datetime) -> Changed:
        """The worker's copy is complete in storage as `version_id`: archived, or active.

        Raises:
            CopyCancelledError: `copy_id` is not this document's copy any more.
        """
        ticket = self._ticket(copy_id)
        if ticket.from_revision is not None:
            assert ticket.target_key is not None
            return self._revision_copied(
                ticket.from_revision,
                key=ticket.target_key,
                version_id=version_id,
                now=now,
                by=ticket_author(ticket),
                action=Action.COMMIT_REVISION_RESTORE,
            )
        if ticket.storage_class.is_archive:
            document = self._evolve(
                Action.COMMIT_ARCHIVE,
                now,
                storage_class=ticket.storage_class,
                restore=None,
                copy=None,
                content_version=version_id,
                revisions=self._update_current(
                    storage_class=ticket.storage_class, version_id=version_id
                ),
            )
            return _emit(
                document, ev.DocumentArchived, now, storage_class=ticket.storage_class.value
            )
        document = self._evolve(
            Action.MAKE_PERMANENT,
            now,
            storage_class=StorageClass.STANDARD,
            restore=None,
            copy=None,
            content_version=version_id,
            revisions=self._update_current(
                storage_class=StorageClass.STANDARD, version_id=version_id
            ),
        )
        return _emit(document, ev.DocumentMadePermanent, now)

    def fail_copy(self, copy_id: str, *, reason: str, now: datetime) -> Changed:
        """The copy was given up: back in the state it started from (content unchanged).

        Raises:
            CopyCancelledError: `copy_id` is not this document's copy any more.
        """
        ticket = self._ticket(copy_id)
        restore = self.restore
        if restore is not None and self.state is ArchiveState.RESTORED:
            restore = attrs.evolve(restore, permanent=False)
        document = self._evolve(Action.FAIL_COPY, now, copy=None, restore=restore)
        return _emit(
            document,
            ev.DocumentCopyFailed,
            now,
            copy_id=copy_id,
            storage_class=ticket.storage_class.value,
            reason=reason,
        )

    def _ticket(self, copy_id: str) -> CopyTicket:
        if self.copy is None or self.copy.copy_id != copy_id:
            raise CopyCancelledError(f"copy {copy_id} is not the document's current copy")
        return self.copy

    def check_restore(self, request: RestoreRequest) -> None:
        """Validate a restore request against this document before touching storage.

        Raises:
            IllegalTransitionError: the document is not archived, restoring or restored.
            InvalidRestoreRequestError: the tier does not exist for the storage class.
        """
        if self.state is not ArchiveState.RESTORED:
            transition(self.state, Action.REQUEST_RESTORE)
        request.tier.window(self.storage_class)

    def request_restore(self, request: RestoreRequest, now: datetime) -> Changed | None:
        """Glacier accepted a restore request (or one was already running).

        Returns None when a restore with the same intent is already in progress.
        """
        self.check_restore(request)
        if self.state is ArchiveState.RESTORED:
            return self._extend_restore(request, now)
        if self.state is ArchiveState.RESTORING and self.restore is not None:
            if not request.permanent or self.restore.permanent:
                return None
            restore = attrs.evolve(self.restore, permanent=True)
        else:
            restore = RestoreInfo(
                tier=request.tier,
                days=request.days,
                permanent=request.permanent,
                requested_at=now,
            )
        document = self._evolve(Action.REQUEST_RESTORE, now, restore=restore)
        return _emit(
            document,
            ev.DocumentRestoreRequested,
            now,
            tier=restore.tier.value,
            days=restore.days,
            permanent=restore.permanent,
        )

    def _extend_restore(self, request: RestoreRequest, now: datetime) -> Changed:
        assert self.restore is not None
        restore = attrs.evolve(
            self.restore, days=request.days, expires_at=restore_expiry(now, request.days)
        )
        document = self._evolve(Action.EXTEND_RESTORE, now, restore=restore)
        return _emit(document, ev.DocumentRestoreExtended, now, expires_at=restore.expires_at)

    def complete_restore(self, *, expires_at: datetime | None, now: datetime) -> Changed | None:
        """Glacier finished restoring; the copy is readable until `expires_at`.

        A repeated completion changes nothing unless it carries a later expiry.
        """
        if self.state is ArchiveState.RESTORED and self.restore is not None:
            current = self.restore.expires_at
            if expires_at is None or (current is not None and expires_at <= current):
                return None
            restore = attrs.evolve(self.restore, expires_at=expires_at)
            document = self._evolve(Action.EXTEND_RESTORE, now, restore=restore)
            return _emit(document, ev.DocumentRestoreExtended, now, expires_at=expires_at)
        transition(self.state, Action.COMPLETE_RESTORE)
        previous = self.restore or RestoreInfo(
            tier=RestoreTier.STANDARD, days=1, permanent=False, requested_at=now
        )
        restore = attrs.evolve(
            previous,
            ready_at=now,
            expires_at=expires_at or restore_expiry(now, previous.days),
        )
        document = self._evolve(Action.COMPLETE_RESTORE, now, restore=restore)
        return _emit(document, ev.DocumentRestored, now, expires_at=restore.expires_at)

    def make_permanent(self, now: datetime, *, version_id: str | None = None) -> Changed:
        """The restored copy was copied back to STANDARD (as `version_id`): active again."""
        transition(self.state, Action.MAKE_PERMANENT)
        document = self._evolve(
            Action.MAKE_PERMANENT,
            now,
            storage_class=StorageClass.STANDARD,
            restore=None,
            content_version=version_id,
            revisions=self._update_current(
                storage_class=StorageClass.STANDARD, version_id=version_id
            ),
        )
        return _emit(document, ev.DocumentMadePermanent, now)

    def expire_restore(self, *, expired_at: datetime, now: datetime) -> Changed | None:
        """The restored copy expired: archived again.

        Also ends a restore still recorded as running when the expiry is newer than the
        request (its completion event is late). None for an older restore's expiry.
        """
        if self.restore is None or self.state not in (
            ArchiveState.RESTORED,
            ArchiveState.RESTORING,
        ):
            return None
        if expired_at < (self.restore.ready_at or self.restore.requested_at):
            return None  # an earlier copy's expiry, delivered late
        # A permanent copy still running loses its source; the worker then finds its copy gone.
        document = self._evolve(Action.EXPIRE_RESTORE, now, restore=None, copy=None)
        return _emit(document, ev.DocumentRestoreExpired, now)

    def delete(self, now: datetime, *, by: Actor, purge_after: datetime) -> Changed:
        """The document goes to the trash, in the state it had (content and revisions kept).

        A replacement still pending is aborted (its revision becomes stale), and a copy the
        document waits for is cancelled: the document goes to the trash as it was before.

        Raises:
            DocumentNotFoundError: it is in the trash already.
            LegalHoldError: a legal hold is on.
            IllegalTransitionError: a first upload is pending (it is aborted, not trashed).
        """
        if self.trash is not None:
            raise DocumentNotFoundError(f"document {self.id} not found")
        self.check_not_held("deleted")
        if self.state is ArchiveState.PENDING:
            raise ConflictError("a pending upload is aborted, not trashed")
        events: list[ev.DocumentEvent] = []
        version = self.version + 1
        state: ArchiveState = self.state
        restore = self.restore
        stale = self.stale_revision
        if self.pending is not None:
            stale = self.pending.revision
            events.append(
                ev.DocumentUploadAborted(
                    occurred_at=now, document_id=self.id, version=version, replace=True
                )
            )
        if self.copy is not None:
            transition(state, Action.CANCEL_COPY)
            state = self.copy.previous_state
            if restore is not None and state is ArchiveState.RESTORED:
                restore = attrs.evolve(restore, permanent=False)
            events.append(
                ev.DocumentCopyCancelled(
                    occurred_at=now, document_id=self.id, version=version, copy_id=self.copy.copy_id
                )
            )
        document = attrs.evolve(
            self,
            state=state,
            restore=restore,
            version=version,
            updated_at=now,
            pending=None,
            stale_revision=stale,
            copy=None,
            trash=TrashInfo(deleted_at=now, deleted_by=by, purge_after=purge_after),
        )
        events.append(ev.DocumentDeleted(occurred_at=now, document_id=self.id, version=version))
        return Changed(document=document, events=tuple(events))

    def abort_upload(self, now: datetime) -> Changed:
        """A first upload deleted before its content arrived: the document goes away.

        Raises:
            IllegalTransitionError: no first upload is pending.
        """
        transition(self.state, Action.ABORT_UPLOAD)
        return _emit(self._ended(), ev.DocumentUploadAborted, now, replace=False)

    def undelete(self, now: datetime) -> Changed:
        """Back from the trash, in the state it has (storage events kept applying meanwhile).

        Raises:
            DocumentNotFoundError: it is not in the trash.
        """
        if self.trash is None or self.trash.purging:
            raise DocumentNotFoundError(f"document {self.id} is not in the trash")
        document = self._evolve(Action.UNDELETE, now, trash=None)
        return _emit(document, ev.DocumentUndeleted, now)

    def purge(self, now: datetime) -> Changed:
        """The trashed document is purged: beyond restore from now on.

        The caller then deletes its objects and, once they are gone, the record.

        Raises:
            DocumentNotFoundError: it is not in the trash (or is being purged already).
            LegalHoldError: a legal hold is on.
        """
        if self.trash is None or self.trash.purging:
            raise DocumentNotFoundError(f"document {self.id} is not in the trash")
        self.check_not_held("purged")
        document = self._evolve(Action.PURGE, now, trash=attrs.evolve(self.trash, purging=True))
        return _emit(document, ev.DocumentPurged, now)

    # ---- legal holds ----------------------------------------------------------------------

    def set_legal_hold(self, *, reason: str, by: Actor, now: datetime) -> Changed | None:
        """Record a legal hold (in force at once); None when the same hold is on already.

        Raises:
            ValidationError: `reason` is empty.
        """
        transition(self.state, Action.SET_LEGAL_HOLD)  # not while a first upload is pending
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("reason is required to enable a legal hold", field="reason")
        if self.legal_hold is not None and self.legal_hold.reason == reason:
            return None
        hold = LegalHold(reason=reason, set_by=by, set_at=now)
        document = self._evolve(Action.SET_LEGAL_HOLD, now, legal_hold=hold)
        return _emit(document, ev.DocumentLegalHoldSet, now, reason=reason)

    def release_legal_hold(self, now: datetime) -> Changed | None:
        """Release the hold (storage holds are lifted by the worker); None when there is none."""
        if self.legal_hold is None:
            return None
        document = self._evolve(Action.SET_LEGAL_HOLD, now, legal_hold=None)
        return _emit(document, ev.DocumentLegalHoldReleased, now)

    def record_holds(
        self,
        held: frozenset[HeldVersion],
        now: datetime,
        *,
        found: Mapping[int, str] | None = None,
    ) -> Changed | None:
        """Storage holds now sit on exactly `held`; None when the record says so already.

        `found` gives the object versions of revisions recorded without one (by key).
        """
        ordered = tuple(sorted(held))
        revisions = tuple(
            attrs.evolve(r, version_id=found[r.key])
            if r.version_id is None and found and r.key in found
            else r
            for r in self.kept_revisions
        )
        if ordered == self.held_versions and revisions == self.kept_revisions:
            return None
        document = self._evolve(
            Action.RECORD_HOLDS, now, held_versions=ordered, revisions=revisions
        )
        return _emit(document, ev.DocumentLegalHoldApplied, now, held=len(ordered))

    # ---- revisions ------------------------------------------------------------------------

    def check_revision_restore(self, number: int) -> Revision:
        """The revision to restore, when a restore is allowed now.

        Raises:
            DocumentNotFoundError: no such revision is kept.
            IllegalTransitionError: the document is not active.
            ConflictError: an upload or a copy is running.
            LegalHoldError: a legal hold is on.
        """
        transition(self.state, Action.RESTORE_REVISION)
        source = self.find_revision(number)
        self.check_not_held("given another revision")
        if self.pending is not None:
            raise ConflictError("a replacement upload is pending; restore after it completes")
        if self.copy is not None:
            raise ConflictError("a copy of the content is running; try again when it is done")
        return source

    def restore_revision(
        self, number: int, *, version_id: str | None, now: datetime, by: Actor
    ) -> Changed:
        """Revision `number`'s content was copied onto key `next_revision()`: now current."""
        self.check_revision_restore(number)
        return self._revision_copied(
            number,
            key=self.next_revision(),
            version_id=version_id,
            now=now,
            by=by,
            action=Action.RESTORE_REVISION,
        )

    def start_revision_restore(self, ticket: CopyTicket, now: datetime) -> Changed:
        """The worker will copy revision `ticket.from_revision` onto `ticket.target_key`."""
        assert ticket.from_revision is not None
        self.check_revision_restore(ticket.from_revision)
        document = self._evolve(Action.START_REVISION_RESTORE, now, copy=ticket)
        return _emit(
            document,
            ev.DocumentCopyStarted,
            now,
            copy_id=ticket.copy_id,
            storage_class=ticket.storage_class.value,
        )

    def prune(self, doomed: Sequence[Revision]) -> Document:
        """Drop revisions from the record; their keys wait in `pruning` for their deletes.

        The version goes up, so that a writer holding an older copy cannot put the dropped
        revisions back; retention is housekeeping, not a change anyone made, so it has no
        event and no history entry.
        """
        numbers = {r.number for r in doomed}
        current = self.kept_revisions[-1:] if self.kept_revisions else ()
        if any(r.number in numbers for r in current):
            raise ValueError("the current revision is never pruned")
        kept = tuple(r for r in self.kept_revisions if r.number not in numbers)
        keys = tuple(sorted({*self.pruning, *(r.key for r in doomed)}))
        return attrs.evolve(self, revisions=kept, pruning=keys, version=self.version + 1)

    def pruned(self) -> Document:
        """The record once every pruned key's objects are gone."""
        return attrs.evolve(self, pruning=())

        # ---- helpers --------------------------------------------------------------------------

    def _revision_copied(
        self,
        number: int,
        *,
        key: int,
        version_id: str | None,
        now: datetime,
        by: Actor,
        action: Action,
    ) -> Changed:
        source = self.find_revision(number)
        revisions = self._add_revision(
            key=key,
            version_id=version_id,
            file_name=source.file_name,
            content_type=source.content_type,
            size=source.size,
            sha256=source.sha256,
            storage_class=StorageClass.STANDARD,
            now=now,
            by=by,
        )
        document = self._evolve(
            action,
            now,
            file_name=source.file_name,
            content_type=source.content_type,
            size=source.size,
            sha256=source.sha256,
            revision=key,
            sequencer=None,
            storage_class=StorageClass.STANDARD,
            content_version=version_id,
            copy=None,
            revisions=revisions,
        )
        return _emit(
            document,
            ev.DocumentRevisionRestored,
            now,
            from_revision=number,
            revision=revisions[-1].number,
        )

    def _add_revision(
        self,
        *,
        key: int,
        version_id: str | None,
        file_name: str,
        content_type: str,
        size: int,
        sha256: str | None,
        storage_class: StorageClass,
        now: datetime,
        by: Actor,
    ) -> tuple[Revision, ...]:
        kept = self.kept_revisions
        number = kept[-1].number + 1 if kept else 1
        added = Revision(
            number=number,
            key=key,
            version_id=version_id,
            file_name=file_name,
            content_type=content_type,
            size=size,
            sha256=sha256,
            storage_class=storage_class,
            created_at=now,
            created_by=by,
        )
        return (*kept, added)

    def _update_current(self, **changes: Any) -> tuple[Revision, ...]:
        kept = self.kept_revisions
        if not kept:
            return kept
        return (*kept[:-1], attrs.evolve(kept[-1], **changes))

    def _ended(self) -> Self:
        """The document as its removal leaves it: one version on.

        So the removal's event (and history entry) follows every earlier change.
        """
        return attrs.evolve(self, version=self.version + 1)

    def _evolve(self, action: Action, now: datetime, **changes: Any) -> Self:
        state = transition(self.state, action)
        return attrs.evolve(self, state=state, version=self.version + 1, updated_at=now, **changes)


def ticket_author(ticket: CopyTicket) -> Actor:
    """Who asked for a copy (the transfer worker, for tickets older than the field)."""
    return ticket.requested_by or Actor.of_system("transfer")


def _emit(
    document: Document, event_type: type[ev.DocumentEvent], now: datetime, **fields: Any
) -> Changed:
    event = event_type(occurred_at=now, document_id=document.id, version=document.version, **fields)
    return Changed(document=document, events=(event,))


class RevisionRole(enum.Enum):
    """What an object event's revision means to its document."""

    PENDING = "pending"
    CURRENT = "current"
    COPYING = "copying"
    """The new key a revision restore by the worker is writing."""
    KEPT = "kept"
    """An earlier revision that is kept."""
    STALE = "stale"
    UNKNOWN = "unknown"


def is_newer_sequencer(candidate: str | None, current: str | None) -> bool:
    """Whether S3 sequencer `candidate` orders after `current` for the same key.

    Sequencers are hexadecimal strings of varying length; AWS says to compare them after
    right-padding the shorter one with zeros. Equal sequencers are not newer. Without both
    there is nothing to compare: content confirmed without a sequencer (direct uploads,
    completed multipart uploads) has no presigned URL left that could rewrite its key.
    """
    if candidate is None or current is None:
        return False
    width = max(len(candidate), len(current))
    return candidate.upper().ljust(width, "0") > current.upper().ljust(width, "0")


def _check_patch_keys(patch: Mapping[str, object]) -> None:
    """Every key a patch names, removed (null) or set, must be a possible metadata key."""
    for key, value in patch.items():
        if not isinstance(key, str) or not key:
            raise InvalidMetadataError("metadata keys must be non-empty strings", field="metadata")
        if isinstance(value, Mapping):
            _check_patch_keys(value)


def merge_patch(target: JsonValue, patch: JsonValue) -> JsonValue:
    """Apply an RFC 7396 JSON merge patch (a null member removes the key)."""
    if not isinstance(patch, Mapping):
        return patch
    merged: dict[str, JsonValue] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
