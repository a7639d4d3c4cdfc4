"""Domain layer: domain events, named in the past tense, published after each change."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from kumocms.ids import DocumentId, UserId


@attrs.frozen(kw_only=True)
class DomainEvent:
    """Something that happened; subscribers read these from the event bus."""

    occurred_at: datetime
    schema_version: ClassVar[int] = 1

    @property
    def name(self) -> str:
        """The event's type name (EventBridge `detail-type`)."""
        return type(self).__name__


@attrs.frozen(kw_only=True)
class DocumentEvent(DomainEvent):
    """An event about one document at one version."""

    document_id: DocumentId
    version: int


@attrs.frozen(kw_only=True)
class DocumentUploadStarted(DocumentEvent):
    """A presigned or multipart upload was prepared; the content has not arrived."""

    size: int
    mode: str


@attrs.frozen(kw_only=True)
class DocumentUploaded(DocumentEvent):
    """The document's first content is stored and confirmed; the document is active."""

    size: int
    sha256: str | None


@attrs.frozen(kw_only=True)
class DocumentUploadRejected(DocumentEvent):
    """Arrived content did not match its declaration and was deleted."""

    reason: str


@attrs.frozen(kw_only=True)
class DocumentUploadExpired(DocumentEvent):
    """A pending upload never arrived; the document was deleted."""


@attrs.frozen(kw_only=True)
class DocumentMetadataUpdated(DocumentEvent):
    """User metadata changed."""


@attrs.frozen(kw_only=True)
class DocumentReplaceStarted(DocumentEvent):
    """A new content revision is being uploaded; the old one stays readable."""

    size: int
    mode: str


@attrs.frozen(kw_only=True)
class DocumentReplaced(DocumentEvent):
    """The document now points at a new content revision."""

    size: int
    sha256: str | None


@attrs.frozen(kw_only=True)
class DocumentReplaceRejected(DocumentEvent):
    """A replacement's content did not match its declaration; the old content stays."""

    reason: str


@attrs.frozen(kw_only=True)
class DocumentArchived(DocumentEvent):
    """The content moved to a Glacier class."""

    storage_class: str


@attrs.frozen(kw_only=True)
class DocumentCopyStarted(DocumentEvent):
    """The transfer worker was asked to copy the content to `storage_class` (it stays readable)."""

    copy_id: str
    storage_class: str


@attrs.frozen(kw_only=True)
class DocumentCopyFailed(DocumentEvent):
    """A copy was given up (retries exhausted, stalled, source changed); the state is as before."""

    copy_id: str
    storage_class: str
    reason: str


@attrs.frozen(kw_only=True)
class DocumentCopyCancelled(DocumentEvent):
    """A copy was cancelled (the document was deleted while it ran)."""

    copy_id: str


@attrs.frozen(kw_only=True)
class DocumentRestoreRequested(DocumentEvent):
    """A restore from Glacier was requested."""

    tier: str
    days: int
    permanent: bool


@attrs.frozen(kw_only=True)
class DocumentRestoreExtended(DocumentEvent):
    """A restored copy will stay readable longer."""

    expires_at: datetime | None


@attrs.frozen(kw_only=True)
class DocumentRestored(DocumentEvent):
    """A restored copy is readable until it expires."""

    expires_at: datetime | None


@attrs.frozen(kw_only=True)
class DocumentMadePermanent(DocumentEvent):
    """A restored copy was copied back to STANDARD; the document is active again."""


@attrs.frozen(kw_only=True)
class DocumentRestoreExpired(DocumentEvent):
    """The restored copy expired; the document is archived again."""


@attrs.frozen(kw_only=True)
class DocumentRestoreStuck(DocumentEvent):
    """A restore has taken much longer than its tier's window (operators look at these)."""

    requested_at: datetime


@attrs.frozen(kw_only=True)
class DocumentDeleted(DocumentEvent):
    """The document went to the trash (content, revisions and sidecar are kept)."""


@attrs.frozen(kw_only=True)
class DocumentUndeleted(DocumentEvent):
    """The document came back from the trash in the state it had."""


@attrs.frozen(kw_only=True)
class DocumentPurged(DocumentEvent):
    """The trashed document, its content, revisions and sidecar were deleted for good."""


@attrs.frozen(kw_only=True)
class DocumentUploadAborted(DocumentEvent):
    """A pending upload was deleted before its content arrived.

    A first upload's document is gone; for a replacement the current content stays.
    """

    replace: bool


@attrs.frozen(kw_only=True)
class DocumentRevisionRestored(DocumentEvent):
    """An earlier revision's content was copied as the new current revision."""

    from_revision: int
    revision: int


@attrs.frozen(kw_only=True)
class DocumentLegalHoldSet(DocumentEvent):
    """A legal hold was recorded (deletes, replaces and purges are refused from now on)."""

    reason: str


@attrs.frozen(kw_only=True)
class DocumentLegalHoldReleased(DocumentEvent):
    """The legal hold was released."""


@attrs.frozen(kw_only=True)
class DocumentLegalHoldApplied(DocumentEvent):
    """Storage holds were placed on (or lifted from) the document's object versions."""

    held: int


@attrs.frozen(kw_only=True)
class UserEvent(DomainEvent):
    """An event about one user."""

    user_id: UserId


@attrs.frozen(kw_only=True)
class UserCreated(UserEvent):
    """A user was created with a role and a first API key."""

    role: str


@attrs.frozen(kw_only=True)
class UserChanged(UserEvent):
    """A user's role or enabled flag changed."""

    role: str
    disabled: bool


@attrs.frozen(kw_only=True)
class UserDeleted(UserEvent):
    """A user was deleted; their key stops working."""


@attrs.frozen(kw_only=True)
class ApiKeyRotated(UserEvent):
    """A user's API key was replaced; the old one stops working."""
