"""Adapters layer: which declared fields the DynamoDB index is complete for, and the backfill.

One registry item (`pk = INDEX#fields`) records `ready`: `{name: type}` of the fields whose
entries every document has. A field first seen on a table without documents is ready at once
(the first upload records it); on a table with documents it becomes ready when
`kumocms admin reindex` has visited them all (`reindex_batch` until no cursor, then
`mark_ready`). Writes keep every declared field's entries current all along.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from adapters import _dynamo_items as items
from adapters.aws import aws_errors, error_code
from adapters.cursor import decode_position, encode_position
from kumocms.search import FieldType, IndexedFields, ReindexBatch, index_entries

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from kumocms.model import Document

REGISTRY_KEY = "INDEX#fields"
_READY = "ready"
_REVISION = "revision"
NOT_READY_TTL = 60.0
"""Seconds a "not ready" answer is reused before the registry is read again."""


class IndexRegistry:
    """The registry of ready fields, cached per container (ready never reverts for a type)."""

    def __init__(self, client: DynamoDBClient, table: str, *, shards: int) -> None:
        self._client = client
        self._table = table
        self._shards = shards
        self._ready: dict[str, FieldType] = {}
        self._checked_at: dict[str, float] = {}

    def ready(self, name: str, kind: FieldType) -> bool:
        """Recorded ready for `kind`, or the table has no documents (read-only)."""
        if self._ready.get(name) is kind:
            return True
        checked = self._checked_at.get(name)
        if checked is not None and time.monotonic() - checked < NOT_READY_TTL:
            return False
        recorded, _ = self._read()
        self._ready.update(recorded)
        if recorded.get(name) is kind:
            return True
        if not self._has_documents():
            return True
        self._checked_at[name] = time.monotonic()
        return False

    def mark(self, fields: IndexedFields) -> None:
        """Record `fields` as ready (one conditional PutItem unless the cache knows it)."""
        wanted = dict(fields.fields)
        if all(self._ready.get(name) is kind for name, kind in wanted.items()):
            return
        for _ in range(5):
            recorded, revision = self._read()
            merged = {**recorded, **wanted}
            if merged == recorded:
                self._ready.update(merged)
                return
            if self._write(merged, revision):
                self._ready.update(merged)
                for name in wanted:
                    self._checked_at.pop(name, None)
                return
        raise RuntimeError("the index registry kept changing")  # pragma: no cover

    def _read(self) -> tuple[dict[str, FieldType], int | None]:
        with aws_errors("DynamoDB GetItem"):
            item = self._client.get_item(
                TableName=self._table, Key={items.PK: {"S": REGISTRY_KEY}}, ConsistentRead=True
            ).get("Item")
        if item is None:
            return {}, None
        ready = {
            name: FieldType(value["S"])
            for name, value in item.get(_READY, {}).get("M", {}).items()
            if value.get("S") in {kind.value for kind in FieldType}
        }
        return ready, int(item[_REVISION]["N"])

    def _write(self, ready: Mapping[str, FieldType], revision: int | None) -> bool:
        item: dict[str, Any] = {
            items.PK: {"S": REGISTRY_KEY},
            _READY: {"M": {name: {"S": kind.value} for name, kind in ready.items()}},
            _REVISION: {"N": str((revision or 0) + 1)},
        }
        if revision is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#r = :r",
                "ExpressionAttributeNames": {"#r": _REVISION},
                "ExpressionAttributeValues": {":r": {"N": str(revision)}},
            }
        with aws_errors("DynamoDB PutItem"):
            try:
                self._client.put_item(TableName=self._table, Item=item, **condition)
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                return False
        return True

    def _has_documents(self) -> bool:
        """Whether any shard of the creation listing holds a document (one Query per shard)."""
        for shard in range(self._shards):
            with aws_errors("DynamoDB Query"):
                answer = self._client.query(
                    TableName=self._table,
                    IndexName=items.BY_CREATED,
                    KeyConditionExpression="#p = :p",
                    ExpressionAttributeNames={"#p": items.LIST_PK},
                    ExpressionAttributeValues={":p": {"S": items.list_partition(shard)}},
                    Limit=1,
                )
            if answer.get("Items"):
                return True
        return False


def reindex_batch(
    client: DynamoDBClient,
    table: str,
    *,
    fields: IndexedFields,
    shards: int,
    cursor: str | None,
    limit: int,
) -> ReindexBatch:
    """One Scan page of document items; each gets its entries in a conditional transaction.

    The transaction holds only if the document's version is still the one read; otherwise a
    write changed it meanwhile and wrote its own entries, so it is skipped.
    """
    start = None if cursor is None else decode_position(cursor, scope="reindex")
    params: dict[str, Any] = {
        "TableName": table,
        "Limit": max(1, limit),
        "ConsistentRead": True,
        "FilterExpression": "begins_with(#pk, :doc)",
        "ExpressionAttributeNames": {"#pk": items.PK},
        "ExpressionAttributeValues": {":doc": {"S": "DOC#"}},
    }
    if start is not None:
        params["ExclusiveStartKey"] = {items.PK: {"S": start}}
    with aws_errors("DynamoDB Scan"):
        answer = client.scan(**params)
    unindexed: list[tuple[str, str]] = []
    found = answer.get("Items", [])
    for item in found:
        document = items.document_from_item(item)
        unindexed += _unindexed(document, fields)
        _write_entries(client, table, document, fields=fields, shards=shards)
    last = answer.get("LastEvaluatedKey")
    next_cursor = None if last is None else encode_position(last[items.PK]["S"], scope="reindex")
    return ReindexBatch(documents=len(found), unindexed=tuple(unindexed), next_cursor=next_cursor)


def _unindexed(document: Document, fields: IndexedFields) -> list[tuple[str, str]]:
    entries = index_entries(document, fields)
    return [
        (document.id.value, name)
        for name in fields.fields
        if document.metadata.get(name) is not None and name not in entries
    ]


def _write_entries(
    client: DynamoDBClient,
    table: str,
    document: Document,
    *,
    fields: IndexedFields,
    shards: int,
) -> None:
    writes: list[dict[str, Any]] = [
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": items.document_key(document.id),
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": items.VERSION},
                "ExpressionAttributeValues": {":v": items.number_value(document.version)},
            }
        },
        *items.entry_writes(table, document, fields, shards=shards, deletes=True),
    ]
    with aws_errors("DynamoDB TransactWriteItems"):
        try:
            client.transact_write_items(
                TransactItems=cast("list[TransactWriteItemTypeDef]", writes)
            )
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            # The document changed (or went) since the Scan read it: its write keeps the
            # entries current, so there is nothing to repair here.
