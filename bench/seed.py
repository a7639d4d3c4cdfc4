"""Benchmarks: documents written straight into the emulator in the repository's own shapes.

Items come from `adapters._dynamo_items` (the one module that knows the table layout) and go in
with BatchWriteItem; objects go in with PutObject. Nothing here goes through the API, so seeding
thousands of documents takes seconds and is never part of a measurement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from ulid import ULID

from adapters import _dynamo_items as items
from kumocms.ids import DocumentId, UserId
from kumocms.jsonvalue import dumps_json
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.model import ContentDeclaration, Document, PendingUpload, UploadMode
from kumocms.rules import normalize_metadata
from kumocms.states import StorageClass

BATCH = 25
"""BatchWriteItem takes at most 25 items per request."""
SHARDS = 16
"""LIST_SHARDS is not set for the functions, so they use the default (16)."""
OWNER = UserId.from_ulid(ULID())
METADATA = normalize_metadata({"project": "kumo", "tags": ["bench", "seed"], "pages": 12})
"""Canonical, as the use cases store it."""
CONTENT = b"benchmark content " * 64


def new_id() -> DocumentId:
    """A fresh document id."""
    return DocumentId.from_ulid(ULID())


def _now() -> datetime:
    return datetime.now(UTC)


def active_document(document_id: DocumentId | None = None, *, content: bytes = CONTENT) -> Document:
    """An active document whose revision 1 holds `content`."""
    document_id = document_id or new_id()
    sha256 = hashlib.sha256(content).hexdigest()
    declared = ContentDeclaration(
        file_name=f"report-{document_id.value[-6:].lower()}.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=sha256,
    )
    return Document.upload_direct(
        document_id=document_id,
        declared=declared,
        sha256=sha256,
        metadata=METADATA,
        now=_now(),
        owner=OWNER,
    ).document


def archived_document(content: bytes = CONTENT) -> Document:
    """An active document moved to GLACIER."""
    return active_document(content=content).archive(StorageClass.GLACIER, _now()).document


def pending_document(content: bytes = CONTENT) -> Document:
    """A document waiting for a presigned PUT of `content` (sha256 declared)."""
    document_id = new_id()
    now = _now()
    declared = ContentDeclaration(
        file_name="upload.bin",
        content_type="application/octet-stream",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    pending = PendingUpload(
        revision=1, declared=declared, mode=UploadMode.PUT, expires_at=now + timedelta(hours=24)
    )
    return Document.begin_upload(
        document_id=document_id, pending=pending, metadata=METADATA, now=now, owner=OWNER
    ).document


def write_documents(dynamodb: Any, table: str, documents: Sequence[Document]) -> None:
    """BatchWriteItem the documents' items (unprocessed items are sent again)."""
    requests = [
        {"PutRequest": {"Item": items.document_to_item(document, shards=SHARDS)}}
        for document in documents
    ]
    batches = [requests[start : start + BATCH] for start in range(0, len(requests), BATCH)]

    def send(batch: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: batch}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(send, batches))


def put_content(
    s3: Any,
    bucket: str,
    documents: Iterable[Document],
    *,
    content: bytes = CONTENT,
    storage_class: StorageClass = StorageClass.STANDARD,
    sidecar: bool = True,
) -> None:
    """The objects the documents point at (revision 1, with its checksum) and their sidecars."""
    for document in documents:
        s3.put_object(
            Bucket=bucket,
            Key=content_key(ContentRef(document.id, 1)),
            Body=content,
            ContentType=document.content_type,
            ChecksumAlgorithm="SHA256",
            StorageClass=storage_class.value,
        )
        if sidecar:
            s3.put_object(
                Bucket=bucket,
                Key=sidecar_key(document.id),
                Body=dumps_json(document.metadata).encode("utf-8"),
                ContentType="application/json",
            )
