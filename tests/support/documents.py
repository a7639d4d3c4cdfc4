"""Test support: documents, users and moto tables for the repository tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from moto import mock_aws
from ulid import ULID

from adapters.dynamodb import (
    TTL_ATTRIBUTE,
    documents_table_spec,
    history_table_spec,
    users_table_spec,
)
from kumocms.ids import DocumentId, UserId
from kumocms.model import ContentDeclaration, Document, PendingUpload, UploadMode
from kumocms.rules import normalize_metadata
from kumocms.states import ArchiveState
from kumocms.users import Role, User, hash_api_key
from tests.support.aws import aws_client

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DOCUMENTS_TABLE = "kumocms-documents"
HISTORY_TABLE = "kumocms-history"
USERS_TABLE = "kumocms-users"


def document_id(n: int) -> DocumentId:
    """The n-th id: later n sorts (and was created) later."""
    millis = int(T0.timestamp() * 1000) + n
    raw = millis.to_bytes(6, "big") + n.to_bytes(10, "big")
    return DocumentId.from_ulid(ULID.from_bytes(raw))


def user_id(n: int) -> UserId:
    """The n-th user id, in creation order."""
    return UserId(document_id(n).value)


def make_document(
    n: int,
    *,
    state: ArchiveState = ArchiveState.ACTIVE,
    metadata: object = None,
    deadline: datetime | None = None,
    version: int = 1,
) -> Document:
    """A document; `deadline` gives it a pending upload (PENDING state makes it a first one)."""
    pending = None
    if deadline is not None or state is ArchiveState.PENDING:
        pending = PendingUpload(
            revision=version if state is ArchiveState.PENDING else version + 1,
            declared=ContentDeclaration(
                file_name=f"file-{n}.txt", content_type="text/plain", size=10, sha256=None
            ),
            mode=UploadMode.PUT,
            expires_at=deadline or T0 + timedelta(hours=24),
        )
    created = T0 + timedelta(seconds=n)
    return Document(
        id=document_id(n),
        file_name=f"file-{n}.txt",
        content_type="text/plain",
        size=10,
        sha256=None if state is ArchiveState.PENDING else "ab" * 32,
        metadata=normalize_metadata(metadata or {"n": n}),
        state=state,
        created_at=created,
        updated_at=created,
        version=version,
        revision=None if state is ArchiveState.PENDING else version,
        pending=pending,
    )


def bump(document: Document, **changes: Any) -> Document:
    """The document as a successful write would store it next."""
    return attrs.evolve(document, version=document.version + 1, **changes)


def make_user(n: int, *, role: Role = Role.EDITOR, disabled: bool = False) -> User:
    """A user whose key is `key-<n>-...`."""
    created = T0 + timedelta(seconds=n)
    return User(
        id=user_id(n),
        name=f"user {n}",
        role=role,
        disabled=disabled,
        key_hash=hash_api_key(api_key(n)),
        created_at=created,
        updated_at=created,
    )


def api_key(n: int, generation: int = 0) -> str:
    """A valid-looking API key for user n."""
    return f"kumo_test_key_{n:04d}_{generation:04d}_padding"


@contextmanager
def moto_tables() -> Iterator[Any]:
    """A moto DynamoDB with both tables (and TTL) created; yields the client."""
    with mock_aws():
        client = aws_client("dynamodb")
        create_tables(client)
        yield client


def create_tables(client: Any) -> None:
    """Create the tables as the local stack does."""
    for spec in (
        documents_table_spec(DOCUMENTS_TABLE),
        users_table_spec(USERS_TABLE),
        history_table_spec(HISTORY_TABLE),
    ):
        client.create_table(**spec)
        client.update_time_to_live(
            TableName=spec["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )


def empty_table(client: Any, table: str) -> None:
    """Delete every item (tests only: a Scan is fine here)."""
    pages = client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk")
    for page in pages:
        for item in page["Items"]:
            client.delete_item(TableName=table, Key={"pk": item["pk"]})
