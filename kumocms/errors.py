"""Domain layer: the one error hierarchy every KumoCMS layer raises and maps."""

from __future__ import annotations


class KumoError(Exception):
    """Base of every error KumoCMS raises on purpose."""


class ValidationError(KumoError):
    """Input breaks one of the domain's input rules."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidIdError(ValidationError):
    """A string is not a valid ULID."""


class InvalidFileNameError(ValidationError):
    """A file name is empty, dots-only or too long after sanitising."""


class InvalidContentTypeError(ValidationError):
    """A content type is not `type/subtype` with optional parameters."""


class InvalidSizeError(ValidationError):
    """A size is outside 1 byte to 5 TiB."""


class InvalidMetadataError(ValidationError):
    """User metadata is not a JSON object within the size, depth and number rules."""


class InvalidChecksumError(ValidationError):
    """A sha256 is not 64 hex digits."""


class ChecksumMismatchError(ValidationError):
    """Content given in a request does not hash to (or is not as long as) what was declared."""


class InvalidApiKeyError(ValidationError):
    """An API key is not 20 to 128 printable ASCII characters."""


class InvalidRestoreRequestError(ValidationError):
    """Restore days or tier are out of range for the document's storage class."""


class InvalidCursorError(ValidationError):
    """A list cursor was not produced by this service or has been tampered with."""


class FieldNotIndexedError(ValidationError):
    """A filter names a metadata field that is not declared as indexed."""

    def __init__(
        self, message: str, *, field: str | None = None, indexed_fields: dict[str, str]
    ) -> None:
        super().__init__(message, field=field)
        self.indexed_fields = indexed_fields


class PayloadTooLargeError(KumoError):
    """Content is larger than the direct-upload limit."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class NotFoundError(KumoError):
    """The addressed resource does not exist."""


class DocumentNotFoundError(NotFoundError):
    """No document has this id (or its pending upload has expired)."""


class UserNotFoundError(NotFoundError):
    """No user has this id."""


class ConflictError(KumoError):
    """The request conflicts with the resource's current state."""


class IllegalTransitionError(ConflictError):
    """The document's archive state does not allow this action."""

    def __init__(self, message: str, *, state: str, action: str) -> None:
        super().__init__(message)
        self.state = state
        self.action = action


class DocumentArchivedError(ConflictError):
    """The content is in a Glacier class and must be restored before download."""


class RestoreInProgressError(ConflictError):
    """The content is being restored; it becomes readable later."""

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class UploadPendingError(ConflictError):
    """The content has not arrived yet."""


class UploadRejectedError(ConflictError):
    """The content that arrived did not match what was declared; it was deleted."""


class NotMultipartUploadError(ConflictError):
    """The document has no pending multipart upload."""


class SourceChangedError(ConflictError):
    """The object being copied is no longer the version the copy started from."""


class CopyCancelledError(ConflictError):
    """The copy is no longer the document's current copy (cancelled, failed or committed)."""


class LegalHoldError(ConflictError):
    """A legal hold forbids the change (delete, replace, revision restore, purge)."""


class LastAdminError(ConflictError):
    """The change would leave no enabled admin."""


class AlreadyExistsError(ConflictError):
    """A user or document with this id already exists."""


class VersionConflictError(ConflictError):
    """The stored version differs from the one the write was based on."""

    def __init__(self, message: str, *, expected: int, actual: int | None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class PreconditionFailedError(KumoError):
    """The client's `If-Match` version is not the current version."""

    def __init__(self, message: str, *, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class AuthenticationError(KumoError):
    """The API key is missing, unknown, disabled or revoked (all look the same)."""


class ForbiddenError(KumoError):
    """The caller's role does not allow this action."""


class RetryLaterError(KumoError):
    """An event arrived before the state it depends on; deliver it again later."""

    def __init__(self, message: str, *, document_id: str | None = None) -> None:
        super().__init__(message)
        self.document_id = document_id


class DependencyError(KumoError):
    """A backing service (S3, DynamoDB, EventBridge) failed or is unreachable."""
