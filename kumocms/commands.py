"""Domain layer: commands, the validated-at-use inputs the use cases accept."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from kumocms.ids import DocumentId
from kumocms.model import RestoreRequest
from kumocms.ports import CompletedPart
from kumocms.states import StorageClass


@attrs.frozen(kw_only=True)
class UploadDocument:
    """Store a new document: with `content` directly, otherwise through a presigned upload."""

    file_name: str
    content_type: str = "application/octet-stream"
    size: int | None = None
    sha256: str | None = None
    metadata: object = attrs.field(factory=dict)
    content: bytes | None = None


@attrs.frozen(kw_only=True)
class ReplaceDocument:
    """Store a new content revision for an active document."""

    document_id: DocumentId
    file_name: str | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    metadata: object | None = None
    content: bytes | None = None
    if_match: int | None = None


@attrs.frozen(kw_only=True)
class UpdateMetadata:
    """Apply an RFC 7396 merge patch to a document's user metadata."""

    document_id: DocumentId
    patch: object
    if_match: int | None = None


@attrs.frozen(kw_only=True)
class DeleteDocument:
    """Delete a document and its content."""

    document_id: DocumentId
    if_match: int | None = None


@attrs.frozen(kw_only=True)
class ArchiveDocument:
    """Move a document's content to a Glacier class."""

    document_id: DocumentId
    storage_class: StorageClass = StorageClass.GLACIER
    if_match: int | None = None


@attrs.frozen(kw_only=True)
class RestoreDocument:
    """Ask for a readable copy of archived content."""

    document_id: DocumentId
    request: RestoreRequest = attrs.field(factory=RestoreRequest)
    if_match: int | None = None


@attrs.frozen(kw_only=True)
class IssuePartUrls:
    """Presign (again) parts of a pending multipart upload."""

    document_id: DocumentId
    part_numbers: Sequence[int]


@attrs.frozen(kw_only=True)
class CompleteUpload:
    """Assemble the uploaded parts of a pending multipart upload."""

    document_id: DocumentId
    parts: Sequence[CompletedPart]
