"""Adapters layer: DynamoDB repositories for documents, users and idempotency records.

Table design (Terraform and the local stack are written against it; `documents_table_spec` and
`users_table_spec` return the CreateTable parameters):

Documents table — hash key `pk` (S), no range key, TTL attribute `expires_at`.

- Document: `pk = "DOC#<ULID>"`, `sk = "<ULID>"`, `list_pk = "ALL#<shard>"`,
  `state_pk = "<state>#<shard>"` (state by lower-case value), and only while the document has a
  pending upload `pending_pk = "PENDING#<shard>"` and
  `pending_sk = "<deadline ISO-8601 UTC>#<ULID>"`; `version` (N); the document's fields as
  attributes (user metadata as a map of exact N values); `expires_at` (epoch seconds) only for
  PENDING documents: the upload deadline plus 7 days, a backstop behind reconciliation.
  `<shard>` is two digits: `int(sha256(ULID).hexdigest()[:8], 16) % shards`.
- GSIs (projection ALL): `by_created` (`list_pk`, `sk`) lists newest first, `by_state`
  (`state_pk`, `sk`) lists one state, `by_pending_deadline` (`pending_pk`, `pending_sk`) finds
  uploads past their deadline. The sparse pending keys keep that index small.
- Copy job (the transfer worker's checkpoint, one per document while a copy runs):
  `pk = "COPY#<ULID>"`, the job's fields (`copy_id`, parts with ETags, ...), and
  `pending_pk = "COPYING#<shard>"`, `pending_sk = "<last progress ISO-8601 UTC>#<ULID>"`: the
  same sparse `by_pending_deadline` index finds stalled copies in their own partitions.
  A checkpoint is one TransactWriteItems: a ConditionCheck that the document is still in the
  job's state with the job's copy id, and a Put conditional on the stored job's copy id.
- Index entry of a declared metadata field (§10), one per document and field with a value:
  `pk = "IDX#<ULID>#<field>"`, `sk = doc = "<ULID>"`, `fv_pk = "<field>#<shard>#<encoded>"`
  (GSI `by_field_value`, sort `sk`: equality, newest first) and for number and date fields
  `fr_pk = "<field>#<shard>"`, `fr_sk = "<encoded>#<inverted ULID>"` (GSI `by_field_range`:
  by value, then newest first); both KEYS_ONLY, since a hit is re-read from the document.
  With fields declared, add/save/remove are one TransactWriteItems: the document's
  conditional write first, a Put of each entry it has and a Delete of each it has not.
- Idempotency record: `pk = "IDEM#<scope>"`, `fingerprint`, `status` (N, absent while the
  request is in flight), `body`, `headers` (M), `expires_at` (TTL, epoch seconds).

Why shards: a DynamoDB partition takes about 1,000 writes per second, and an index whose
partition key were one constant ("all documents") would push every document write through one
partition; ULID sort keys only ever grow, so DynamoDB cannot split such a partition for heat
either. Every write of a document item also writes each index it appears in (projection ALL),
and a state change moves the item between `by_state` partitions (a delete and a put). With
`shards` hashed partitions per index, the indexes take `shards` x 1,000 writes per second; a
listing page costs one Query per shard (run concurrently), whatever the table's size. Raising
`shards` later is safe (every shard below the new count is read); lowering it is not.

Users table — hash key `pk` (S).

- User: `pk = "USER#<ULID>"`, `kind = "USER"`, `sk = "<ULID>"`, `user_id`, `name`, `role`,
  `disabled`, `key_hash`, `version`, `created_at`, `updated_at`.
- Key: `pk = "KEY#<sha256 hex>"` with a denormalised copy of the user (so authentication is one
  GetItem); moved or deleted in the same transaction as the user item.
- Counter: `pk = "META#ADMINS"` with `enabled_admins` (N), changed in the same transactions, so
  that the last enabled admin can be protected with a condition instead of a count.
- GSI `by_kind` (`kind`, `sk`, projection ALL) lists users in id order. It has one partition;
  users are few and rarely written, far below one partition's limits.

All conditional writes ask for `ReturnValuesOnConditionCheckFailure=ALL_OLD`, so a failed
condition explains itself (stale version, missing item, last admin) without a second read.
"""

from __future__ import annotations

import builtins
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs
from botocore.exceptions import ClientError

from adapters import _dynamo_items as items
from adapters._dynamo_reindex import IndexRegistry, reindex_batch
from adapters._dynamo_search import plan_search, query_positions
from adapters.aws import aws_errors, error_code
from adapters.cursor import (
    decode_document_cursor,
    decode_position,
    decode_user_cursor,
    document_scope,
    encode_cursor,
    encode_position,
)
from kumocms.errors import (
    AlreadyExistsError,
    CopyCancelledError,
    DependencyError,
    DocumentNotFoundError,
    LastAdminError,
    UserNotFoundError,
    VersionConflictError,
)
from kumocms.history import HistoryEntry, HistoryPage, position
from kumocms.ids import DocumentId, UserId
from kumocms.model import CopyJob, Document, RevisionPolicy
from kumocms.ports import Clock, DocumentPage
from kumocms.search import FieldType, IndexedFields, ReindexBatch
from kumocms.states import ArchiveState
from kumocms.users import User

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        CreateTableInputTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

    from kumocms.portvalues import IdempotencyClaim, Remembered, UserPage
    from kumocms.search import DocumentFilter

DEFAULT_SHARDS = 16
MAX_SHARDS = 100  # shard numbers are written with two digits
USERS_SCOPE = "users"

_T = TypeVar("_T")
_A = TypeVar("_A")

_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CANCELLED = "TransactionCanceledException"
_BATCH_KEYS = 100
"""BatchGetItem reads at most 100 keys per request."""
_BATCH_WRITES = 25
"""BatchWriteItem writes at most 25 items per request."""
_TRASH_SCOPE = "trash"
_BATCH_ATTEMPTS = 5
"""Requests per batch while DynamoDB leaves keys unprocessed (throttling), with backoff."""


# ---- table specs ----------------------------------------------------------------------------


def _string_attributes(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _index(name: str, hash_key: str, range_key: str, projection: str = "ALL") -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": projection},
    }


def documents_table_spec(name: str) -> CreateTableInputTypeDef:
    """CreateTable parameters of the documents table (TTL on `expires_at` is set separately)."""
    return cast(
        "CreateTableInputTypeDef",
        {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": items.PK, "KeyType": "HASH"}],
            "AttributeDefinitions": _string_attributes(
                items.PK,
                items.SK,
                items.LIST_PK,
                items.STATE_PK,
                items.PENDING_PK,
                items.PENDING_SK,
                items.FV_PK,
                items.FR_PK,
                items.FR_SK,
                items.TRASH_PK,
                items.TRASH_SK,
                items.PRUNE_PK,
                items.PRUNE_SK,
            ),
            "GlobalSecondaryIndexes": [
                _index(items.BY_CREATED, items.LIST_PK, items.SK),
                _index(items.BY_STATE, items.STATE_PK, items.SK),
                _index(items.BY_PENDING_DEADLINE, items.PENDING_PK, items.PENDING_SK),
                # A hit is re-read from the document item, so the key is all an entry needs.
                _index(items.BY_FIELD_VALUE, items.FV_PK, items.SK, "KEYS_ONLY"),
                _index(items.BY_FIELD_RANGE, items.FR_PK, items.FR_SK, "KEYS_ONLY"),
                # §11: the trash, newest deletion first; revisions due for pruning (sparse).
                _index(items.BY_TRASH, items.TRASH_PK, items.TRASH_SK),
                _index(items.BY_PRUNE, items.PRUNE_PK, items.PRUNE_SK, "KEYS_ONLY"),
            ],
        },
    )


def users_table_spec(name: str) -> CreateTableInputTypeDef:
    """CreateTable parameters of the users table."""
    return cast(
        "CreateTableInputTypeDef",
        {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": items.PK, "KeyType": "HASH"}],
            "AttributeDefinitions": _string_attributes(items.PK, items.KIND, items.SK),
            "GlobalSecondaryIndexes": [_index(items.BY_KIND, items.KIND, items.SK)],
        },
    )


def history_table_spec(name: str) -> CreateTableInputTypeDef:
    """CreateTable parameters of the history table (TTL on `expires_at` is set separately).

    Hash key `pk` = the document's ULID, range key `sk` = `<at ISO-8601 UTC>#<version>#<n>`:
    one Query reads a document's entries newest first, consistently.
    """
    return cast(
        "CreateTableInputTypeDef",
        {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [
                {"AttributeName": items.PK, "KeyType": "HASH"},
                {"AttributeName": items.SK, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": _string_attributes(items.PK, items.SK),
        },
    )


TTL_ATTRIBUTE = items.EXPIRES_AT
"""The attribute every table's time-to-live setting names."""


# ---- shared helpers -------------------------------------------------------------------------


def _if_version(expected: int) -> dict[str, Any]:
    """The condition of every versioned write: the stored version is still `expected`.

    On failure DynamoDB returns the item it saw (ALL_OLD), so `_stale` can tell a conflict
    from a missing item without another read.
    """
    return {
        "ConditionExpression": "#version = :expected",
        "ExpressionAttributeNames": {"#version": items.VERSION},
        "ExpressionAttributeValues": {":expected": items.number_value(expected)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


_IF_NEW: Mapping[str, Any] = {
    "ConditionExpression": "attribute_not_exists(#pk)",
    "ExpressionAttributeNames": {"#pk": items.PK},
}
"""The condition of every first write: no item has this key yet."""


def _read(client: DynamoDBClient, table_name: str, key: Mapping[str, Any]) -> items.Item | None:
    """One item by its key (one consistent GetItem), or None."""
    with aws_errors("DynamoDB GetItem"):
        response = client.get_item(TableName=table_name, Key=key, ConsistentRead=True)
    return response.get("Item")


def _stale(
    old: Mapping[str, Any] | None, *, what: str, expected: int, missing: Exception
) -> Exception:
    """What a failed version condition means: `missing` when there was no item, else a conflict."""
    if old is None:
        return missing
    return VersionConflictError(
        f"the {what} changed", expected=expected, actual=items.version_of(old)
    )


def _old_item(error: ClientError) -> Mapping[str, Any] | None:
    """The item a failed condition saw (requested with ALL_OLD), or None when there was none."""
    response = cast("Mapping[str, Any]", error.response)
    old = response.get("Item")
    return cast("Mapping[str, Any] | None", old)


def _query_partition(
    client: DynamoDBClient,
    table_name: str,
    *,
    index: str,
    partition: tuple[str, str],
    bound: tuple[str, str, str] | None,
    forward: bool,
    want: int,
) -> builtins.list[dict[str, Any]]:
    """Up to `want` items of one index partition, in index order.

    One request unless DynamoDB's 1 MB page limit cuts the answer short (large metadata).
    """
    names = {"#p": partition[0]}
    values: dict[str, Any] = {":p": items.string_value(partition[1])}
    condition = "#p = :p"
    if bound is not None:
        attribute, operator, value = bound
        condition += f" AND #r {operator} :r"
        names["#r"] = attribute
        values[":r"] = items.string_value(value)
    params: QueryInputTypeDef = {
        "TableName": table_name,
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": forward,
    }
    found: builtins.list[dict[str, Any]] = []
    while True:
        params["Limit"] = want - len(found)
        with aws_errors("DynamoDB Query"):
            response = client.query(**params)
        found.extend(response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if start is None or len(found) >= want:
            return found
        params["ExclusiveStartKey"] = start


# ---- documents ------------------------------------------------------------------------------


class DynamoDocumentRepository:
    """Documents in DynamoDB: version-conditional writes and sharded newest-first listings.

    Listing and reconciliation queries read every shard of an index concurrently from a thread
    pool created on first use (boto3 clients are thread-safe); `close()` shuts it down.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        shards: int = DEFAULT_SHARDS,
        indexed_fields: IndexedFields | None = None,
        history_table: str | None = None,
        retention: RevisionPolicy | None = None,
    ) -> None:
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"shards must be from 1 to {MAX_SHARDS}")
        self._client = client
        self._table = table_name
        self._history_table = history_table
        self._retention = retention or RevisionPolicy()
        self._shards = shards
        self._fields = indexed_fields if indexed_fields is not None else IndexedFields()
        self._registry = IndexRegistry(client, table_name, shards=shards)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    @property
    def shards(self) -> int:
        """How many partitions each index is spread over."""
        return self._shards

    def get(self, document_id: DocumentId) -> Document:
        """The stored document (one consistent GetItem)."""
        item = _read(self._client, self._table, items.document_key(document_id))
        if item is None:
            raise DocumentNotFoundError(f"document {document_id} not found")
        return items.document_from_item(item)

    def add(self, document: Document, *, history: Sequence[HistoryEntry] = ()) -> None:
        """Store a new document (one PutItem that refuses to overwrite).

        With declared fields or history entries, one TransactWriteItems: the same Put, one
        Put per index entry and one Put per history entry (in the history table).
        """
        item = self._item(document)
        if self._fields or history:
            put = {
                "TableName": self._table,
                "Item": item,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **_IF_NEW,
            }
            writes = [
                {"Put": put},
                *self._entry_writes(document, deletes=False),
                *self._history_writes(history),
            ]

            def refused(old: Mapping[str, Any] | None) -> Exception | None:
                if old is not None and items.document_from_item(old) == document:
                    return None
                return AlreadyExistsError(f"document {document.id} already exists")

            busy = AlreadyExistsError(f"document {document.id} is being added")
            self._transact_document(writes, refused, busy=busy)
            return
        with aws_errors("DynamoDB PutItem"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **_IF_NEW,
                )
            except ClientError as error:
                if error_code(error) != _CONDITION_FAILED:
                    raise
                if _already_written(error, document):
                    return
                raise AlreadyExistsError(f"document {document.id} already exists") from None

    def save(
        self,
        document: Document,
        *,
        expected_version: int,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Replace the document if it still has `expected_version` (one PutItem).

        With declared fields or history entries, one TransactWriteItems: the same conditional
        Put, a Put of each index entry the document has and a Delete of each declared field's
        entry it has not (no read of the old document is needed; deleting a missing entry is
        a no-op), and a Put of each history entry.
        """
        item = self._item(document)
        if self._fields or history:
            put = {"TableName": self._table, "Item": item, **_if_version(expected_version)}
            writes = [
                {"Put": put},
                *self._entry_writes(document, deletes=True),
                *self._history_writes(history),
            ]

            def stale(old: Mapping[str, Any] | None) -> Exception | None:
                if old is not None and items.document_from_item(old) == document:
                    return None
                return _stale(
                    old,
                    what="document",
                    expected=expected_version,
                    missing=DocumentNotFoundError(f"document {document.id} not found"),
                )

            busy = VersionConflictError(
                "the document is being changed", expected=expected_version, actual=None
            )
            self._transact_document(writes, stale, busy=busy)
            return
        with aws_errors("DynamoDB PutItem"):
            try:
                self._client.put_item(
                    TableName=self._table, Item=item, **_if_version(expected_version)
                )
            except ClientError as error:
                if error_code(error) != _CONDITION_FAILED:
                    raise
                if _already_written(error, document):
                    return
                raise _document_conflict(document.id, expected_version, error) from None

    def remove(
        self,
        document_id: DocumentId,
        *,
        expected_version: int,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Delete the document if it still has `expected_version` (one DeleteItem).

        With declared fields or history entries, one TransactWriteItems that deletes its
        index entries and writes the history entries too.
        """
        if self._fields or history:
            delete = {
                "TableName": self._table,
                "Key": items.document_key(document_id),
                **_if_version(expected_version),
            }
            writes = [
                {"Delete": delete},
                *(
                    {"Delete": {"TableName": self._table, "Key": items.entry_key(document_id, n)}}
                    for n in self._fields.fields
                ),
                *self._history_writes(history),
            ]

            def stale(old: Mapping[str, Any] | None) -> Exception:
                return _stale(
                    old,
                    what="document",
                    expected=expected_version,
                    missing=DocumentNotFoundError(f"document {document_id} not found"),
                )

            busy = VersionConflictError(
                "the document is being changed", expected=expected_version, actual=None
            )
            self._transact_document(writes, stale, busy=busy)
            return
        with aws_errors("DynamoDB DeleteItem"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=items.document_key(document_id),
                    **_if_version(expected_version),
                )
            except ClientError as error:
                if error_code(error) != _CONDITION_FAILED:
                    raise
                raise _document_conflict(document_id, expected_version, error) from None

    def list_trash(self, *, limit: int, cursor: str | None) -> DocumentPage:
        """Trashed documents, newest deletion first: one Query per shard of `by_trash`."""
        after = None if cursor is None else decode_position(cursor, scope=_TRASH_SCOPE)
        if limit < 1:
            return DocumentPage(items=(), next_cursor=None)
        partitions = [
            (items.TRASH_PK, items.trash_partition(shard)) for shard in range(self._shards)
        ]
        bound = None if after is None else (items.TRASH_SK, "<", after)
        found = self._query_all(
            items.BY_TRASH, partitions, bound=bound, forward=False, want=limit + 1
        )
        merged = builtins.list(
            itertools.islice(heapq.merge(*found, key=items.trash_key, reverse=True), limit + 1)
        )
        page = merged[:limit]
        more = len(merged) > limit
        next_cursor = (
            encode_position(items.trash_key(page[-1]), scope=_TRASH_SCOPE) if more else None
        )
        return DocumentPage(
            items=tuple(items.document_from_item(item) for item in page), next_cursor=next_cursor
        )

    def history(
        self, document_id: DocumentId, *, now: datetime, limit: int, cursor: str | None
    ) -> HistoryPage:
        """The document's live entries newest first (consistent Queries of its partition).

        Entries past their expiry are skipped even before TTL removes them.
        """
        scope = f"history:{document_id.value}"
        after = None if cursor is None else decode_position(cursor, scope=scope)
        if limit < 1:
            return HistoryPage(items=(), next_cursor=None)
        names = {"#pk": items.PK, "#expires": items.EXPIRES_AT}
        values: dict[str, Any] = {
            ":pk": items.string_value(document_id.value),
            ":now": items.number_value(items.epoch_seconds(now)),
        }
        condition = "#pk = :pk"
        if after is not None:
            names["#sk"] = items.SK
            condition += " AND #sk < :after"
            values[":after"] = items.string_value(after)
        params: dict[str, Any] = {
            "TableName": self._require_history(),
            "KeyConditionExpression": condition,
            "FilterExpression": "attribute_not_exists(#expires) OR #expires > :now",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        found: builtins.list[dict[str, Any]] = []
        while len(found) <= limit:
            params["Limit"] = limit + 1 - len(found)
            with aws_errors("DynamoDB Query"):
                response = self._client.query(**params)
            found.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if start is None:
                break
            params["ExclusiveStartKey"] = start
        page = [items.history_from_item(item) for item in found[:limit]]
        more = len(found) > limit
        next_cursor = encode_position(position(page[-1]), scope=scope) if more else None
        return HistoryPage(items=tuple(page), next_cursor=next_cursor)

    def expire_history(self, document_id: DocumentId, *, expires_at: datetime) -> None:
        """Give every entry without an expiry one: Queries, then BatchWriteItem puts.

        25 entries per BatchWriteItem; unprocessed ones are sent again, a bounded number of times.
        """
        table = self._require_history()
        params: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "#pk = :pk",
            "FilterExpression": "attribute_not_exists(#expires)",
            "ExpressionAttributeNames": {"#pk": items.PK, "#expires": items.EXPIRES_AT},
            "ExpressionAttributeValues": {":pk": items.string_value(document_id.value)},
            "ConsistentRead": True,
        }
        while True:
            with aws_errors("DynamoDB Query"):
                response = self._client.query(**params)
            entries = [items.history_from_item(item) for item in response.get("Items", [])]
            expiring = [attrs.evolve(entry, expires_at=expires_at) for entry in entries]
            for start in range(0, len(expiring), _BATCH_WRITES):
                chunk = expiring[start : start + _BATCH_WRITES]
                self._batch_put(table, [items.history_to_item(entry) for entry in chunk])
            last = response.get("LastEvaluatedKey")
            if last is None:
                return
            params["ExclusiveStartKey"] = last

    def find_purgeable(self, now: datetime, *, limit: int) -> builtins.list[Document]:
        """Trashed documents due for purge: one Query per shard of the deadline index."""
        return [
            items.document_from_item(item)
            for item in self._due(items.purge_partition, now, limit=limit)
        ]

    def find_prunable(self, now: datetime, *, limit: int) -> builtins.list[Document]:
        """Documents whose retention is due: one Query per shard of `by_prune`, one BatchGetItem.

        The index is KEYS_ONLY: the documents are read consistently after the Queries.
        """
        if limit < 1:
            return []
        found = self._query_all(
            items.BY_PRUNE,
            [(items.PRUNE_PK, items.prune_partition(shard)) for shard in range(self._shards)],
            bound=(items.PRUNE_SK, "<", items.deadline_bound(now)),
            forward=True,
            want=limit,
        )
        due = builtins.list(itertools.islice(heapq.merge(*found, key=items.prune_key), limit))
        ids = [items.hit_document(item) for item in due]
        current = self._read_documents(ids)
        return [current[i] for i in ids if i in current]

    def list(self, *, limit: int, cursor: str | None, state: ArchiveState | None) -> DocumentPage:
        """Newest first: one Query per shard, merged; `cursor` comes from a previous page."""
        scope = document_scope(state)
        after = None if cursor is None else decode_document_cursor(cursor, scope=scope)
        if limit < 1:
            return DocumentPage(items=(), next_cursor=None)
        if state is None:
            index, partitions = items.BY_CREATED, self._partitions(items.LIST_PK, None)
        else:
            index, partitions = items.BY_STATE, self._partitions(items.STATE_PK, state)
        bound = None if after is None else (items.SK, "<", after.value)
        # One item more than the page shows tells whether another page exists.
        found = self._query_all(index, partitions, bound=bound, forward=False, want=limit + 1)
        merged = builtins.list(
            itertools.islice(
                heapq.merge(*found, key=items.sort_key, reverse=True),
                limit + 1,
            )
        )
        page = tuple(items.document_from_item(item) for item in merged[:limit])
        more = len(merged) > limit
        return DocumentPage(
            items=page,
            next_cursor=encode_cursor(page[-1].id, scope=scope) if more else None,
        )

    def search(self, query: DocumentFilter, *, limit: int, cursor: str | None) -> DocumentPage:
        """Documents answering `query` in the §10 order: `shards` Queries + one BatchGetItem.

        Every shard of the leading condition's index is read concurrently for up to `limit`
        positions after the cursor; the first `limit` positions overall are the entries this
        page considers. Their documents are re-read consistently and kept when they still
        answer `query`, so a page may be short. The cursor is the last considered position.
        """
        scope = query.scope()
        after = None if cursor is None else decode_position(cursor, scope=scope)
        if limit < 1:
            return DocumentPage(items=(), next_cursor=None)
        plan = plan_search(query, shards=self._shards, after=after)
        if plan.empty:
            return DocumentPage(items=(), next_cursor=None)
        # One hit more than the page considers (and one for the cursor's own position).
        want = limit + 1

        def read(partition: tuple[str, str]) -> tuple[builtins.list[dict[str, Any]], bool]:
            return query_positions(self._client, self._table, plan, partition, want=want)

        answers = self._map(read, plan.partitions)
        shard_hits = [
            [(plan.position_of(item), item) for item in found if plan.position_of(item) != after]
            for found, _ in answers
        ]
        merged = builtins.list(
            itertools.islice(
                heapq.merge(*shard_hits, key=lambda hit: hit[0], reverse=not plan.forward),
                want,
            )
        )
        considered = merged[:limit]
        more = len(merged) > limit or any(cut for _, cut in answers)
        current = self._read_documents([items.hit_document(item) for _, item in considered])
        page = []
        for _, item in considered:
            document = current.get(items.hit_document(item))
            if document is not None and query.matches(document, self._fields):
                page.append(document)
        last = considered[-1][0] if more and considered else None
        next_cursor = None if last is None else encode_position(last, scope=scope)
        return DocumentPage(items=tuple(page), next_cursor=next_cursor)

    def find_expired_uploads(self, now: datetime, *, limit: int) -> builtins.list[Document]:
        """Pending uploads whose deadline is at or before `now`, oldest deadline first."""
        due = self._due(items.pending_partition, now, limit=limit)
        return [items.document_from_item(item) for item in due]

    def find_in_state(self, state: ArchiveState, *, limit: int) -> builtins.list[Document]:
        """Up to `limit` documents in `state`, oldest first."""
        if limit < 1:
            return []
        found = self._query_all(
            items.BY_STATE,
            self._partitions(items.STATE_PK, state),
            bound=None,
            forward=True,
            want=limit,
        )
        merged = itertools.islice(heapq.merge(*found, key=items.sort_key), limit)
        return [items.document_from_item(item) for item in merged]

    def index_ready(self, name: str, kind: FieldType) -> bool:
        """Recorded ready in the registry item, or no document yet (cached per container)."""
        return self._registry.ready(name, kind)

    def reindex_batch(self, *, cursor: str | None, limit: int) -> ReindexBatch:
        """One Scan page of documents, each given its entries if it did not change meanwhile."""
        return reindex_batch(
            self._client,
            self._table,
            fields=self._fields,
            shards=self._shards,
            cursor=cursor,
            limit=limit,
        )

    def mark_ready(self, fields: IndexedFields) -> None:
        """Record the fields ready in the registry item (nothing when the cache knows it)."""
        self._registry.mark(fields)

    def add_copy(self, job: CopyJob) -> None:
        """Record a new copy job (one PutItem that refuses to overwrite)."""
        with aws_errors("DynamoDB PutItem"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=items.copy_to_item(job, shards=self._shards),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **_IF_NEW,
                )
            except ClientError as error:
                if error_code(error) != _CONDITION_FAILED:
                    raise
                old = _old_item(error)
                if old is not None and items.copy_from_item(old) == job:
                    return
                raise AlreadyExistsError(f"document {job.document_id} has a copy") from None

    def get_copy(self, document_id: DocumentId) -> CopyJob | None:
        """The document's copy job (one consistent GetItem)."""
        item = _read(self._client, self._table, items.copy_key(document_id))
        return None if item is None else items.copy_from_item(item)

    def save_copy_progress(self, job: CopyJob) -> None:
        """One TransactWriteItems: the document still waits for this copy; the job is ours."""
        check = {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": items.document_key(job.document_id),
                "ConditionExpression": "#state = :state AND #copy.#cid = :cid",
                "ExpressionAttributeNames": {
                    "#state": "state",
                    "#copy": "copy",
                    "#cid": items.COPY_ID,
                },
                "ExpressionAttributeValues": {
                    ":state": items.string_value(job.copying_state.value),
                    ":cid": items.string_value(job.copy_id),
                },
            }
        }
        put = {
            "Put": {
                "TableName": self._table,
                "Item": items.copy_to_item(job, shards=self._shards),
                "ConditionExpression": "#cid = :cid",
                "ExpressionAttributeNames": {"#cid": items.COPY_ID},
                "ExpressionAttributeValues": {":cid": items.string_value(job.copy_id)},
            }
        }
        writes = cast("list[TransactWriteItemTypeDef]", [check, put])
        with aws_errors("DynamoDB TransactWriteItems"):
            try:
                self._client.transact_write_items(TransactItems=writes)
            except ClientError as error:
                if error_code(error) != _TRANSACTION_CANCELLED:
                    raise
                codes = [str(reason.get("Code", "None")) for reason in _reasons(error)]
                if "ConditionalCheckFailed" not in codes:
                    raise
                raise CopyCancelledError(
                    f"copy {job.copy_id} is no longer the document's copy"
                ) from None

    def remove_copy(self, document_id: DocumentId, copy_id: str) -> None:
        """Delete the job item if it is still `copy_id` (one DeleteItem)."""
        with aws_errors("DynamoDB DeleteItem"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=items.copy_key(document_id),
                    ConditionExpression="#cid = :cid",
                    ExpressionAttributeNames={"#cid": items.COPY_ID},
                    ExpressionAttributeValues={":cid": items.string_value(copy_id)},
                )
            except ClientError as error:
                if error_code(error) != _CONDITION_FAILED:
                    raise

    def find_stalled_copies(self, before: datetime, *, limit: int) -> builtins.list[CopyJob]:
        """Copy jobs last checkpointed at or before `before`: one Query per shard."""
        return [
            items.copy_from_item(item)
            for item in self._due(items.copying_partition, before, limit=limit)
        ]

    def _due(
        self, partition: Callable[[int], str], moment: datetime, *, limit: int
    ) -> builtins.list[dict[str, Any]]:
        """Up to `limit` items of the sparse deadline index at or before `moment`, oldest first.

        One Query per shard of `partition` (pending uploads or copy jobs), merged.
        """
        if limit < 1:
            return []
        found = self._query_all(
            items.BY_PENDING_DEADLINE,
            [(items.PENDING_PK, partition(shard)) for shard in range(self._shards)],
            bound=(items.PENDING_SK, "<", items.deadline_bound(moment)),
            forward=True,
            want=limit,
        )
        return builtins.list(itertools.islice(heapq.merge(*found, key=items.deadline_key), limit))

    def check(self) -> None:
        """Raise DependencyError when the table cannot be read (one GetItem)."""
        with aws_errors("DynamoDB GetItem"):
            self._client.get_item(TableName=self._table, Key=items.health_key())

    def close(self) -> None:
        """Stop the query thread pool (a later query starts a new one)."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    # -- internals ------------------------------------------------------------------------

    def _item(self, document: Document) -> items.Item:
        return items.document_to_item(document, shards=self._shards, retention=self._retention)

    def _require_history(self) -> str:
        if self._history_table is None:
            raise DependencyError("no history table is configured")
        return self._history_table

    def _history_writes(self, history: Sequence[HistoryEntry]) -> builtins.list[dict[str, Any]]:
        if not history:
            return []
        table = self._require_history()
        return [{"Put": {"TableName": table, "Item": items.history_to_item(e)}} for e in history]

    def _batch_put(self, table: str, puts: Sequence[items.Item]) -> None:
        request: Mapping[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in puts]}
        for attempt in range(_BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            with aws_errors("DynamoDB BatchWriteItem"):
                response = self._client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                return
        raise DependencyError("DynamoDB BatchWriteItem kept leaving items unprocessed")

    def _entry_writes(self, document: Document, *, deletes: bool) -> builtins.list[dict[str, Any]]:
        """A Put of each index entry of `document`; with `deletes`, a Delete of the others."""
        return items.entry_writes(
            self._table, document, self._fields, shards=self._shards, deletes=deletes
        )

    def _transact_document(
        self,
        writes: Sequence[Mapping[str, Any]],
        failed: Callable[[Mapping[str, Any] | None], Exception | None],
        *,
        busy: Exception,
    ) -> None:
        """One TransactWriteItems whose first write is the document's conditional write.

        `failed` turns the old item of a failed condition (ALL_OLD) into the domain error, or
        None when that item is this very write, landed by an earlier attempt. `busy` is raised
        when another transaction was changing the same items.
        """
        with aws_errors("DynamoDB TransactWriteItems"):
            try:
                self._client.transact_write_items(
                    TransactItems=cast("list[TransactWriteItemTypeDef]", builtins.list(writes))
                )
            except ClientError as error:
                if error_code(error) != _TRANSACTION_CANCELLED:
                    raise
                reasons = _reasons(error)
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    failure = failed(reasons[0].get("Item"))
                    if failure is None:
                        return
                    raise failure from None
                if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
                    raise busy from None
                raise

    def _read_documents(self, ids: Sequence[DocumentId]) -> dict[DocumentId, Document]:
        """The documents that exist among `ids`: consistent BatchGetItems of 100 keys.

        Keys DynamoDB leaves unprocessed are asked again, a bounded number of times.
        """
        found: dict[DocumentId, Document] = {}
        unique = builtins.list(dict.fromkeys(ids))
        for start in range(0, len(unique), _BATCH_KEYS):
            keys = [items.document_key(i) for i in unique[start : start + _BATCH_KEYS]]
            request: Mapping[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(_BATCH_ATTEMPTS):
                if attempt:
                    time.sleep(0.05 * 2**attempt)
                with aws_errors("DynamoDB BatchGetItem"):
                    response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    document = items.document_from_item(item)
                    found[document.id] = document
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise DependencyError("DynamoDB BatchGetItem kept leaving keys unprocessed")
        return found

    def _partitions(
        self, attribute: str, state: ArchiveState | None
    ) -> builtins.list[tuple[str, str]]:
        if state is None:
            return [(attribute, items.list_partition(shard)) for shard in range(self._shards)]
        return [(attribute, items.state_partition(state, shard)) for shard in range(self._shards)]

    def _query_all(
        self,
        index: str,
        partitions: Sequence[tuple[str, str]],
        *,
        bound: tuple[str, str, str] | None,
        forward: bool,
        want: int,
    ) -> builtins.list[builtins.list[dict[str, Any]]]:
        def query(partition: tuple[str, str]) -> builtins.list[dict[str, Any]]:
            return _query_partition(
                self._client,
                self._table,
                index=index,
                partition=partition,
                bound=bound,
                forward=forward,
                want=want,
            )

        return self._map(query, partitions)

    def _map(self, function: Callable[[_A], _T], arguments: Sequence[_A]) -> builtins.list[_T]:
        if len(arguments) == 1:
            return [function(arguments[0])]
        return builtins.list(self._pool().map(function, arguments))

    def _pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=min(self._shards, 32), thread_name_prefix="kumocms-dynamodb"
                )
            return self._executor


def _already_written(error: ClientError, document: Document) -> bool:
    """Whether a failed condition only saw this very write, landed by an earlier attempt.

    When AWS applies a write but its answer is lost (a timeout, a 5xx), botocore sends it
    again and the condition then fails against the write itself. The old item ALL_OLD returns
    tells the two cases apart without another read.
    """
    old = _old_item(error)
    return old is not None and items.document_from_item(old) == document


def _document_conflict(document_id: DocumentId, expected: int, error: ClientError) -> Exception:
    return _stale(
        _old_item(error),
        what="document",
        expected=expected,
        missing=DocumentNotFoundError(f"document {document_id} not found"),
    )


# ---- users ----------------------------------------------------------------------------------


class DynamoUserRepository:
    """Users, their key items and the enabled-admins counter, changed in transactions."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, user_id: UserId) -> User:
        """The user (one consistent GetItem)."""
        item = _read(self._client, self._table, items.user_key(user_id))
        if item is None:
            raise UserNotFoundError(f"user {user_id} not found")
        return items.user_from_item(item)

    def find_by_key_hash(self, key_hash: str) -> User | None:
        """The user whose current key has this hash (one consistent GetItem on the key item)."""
        item = _read(self._client, self._table, items.api_key_key(key_hash))
        return None if item is None else items.user_from_item(item)

    def add(self, user: User) -> None:
        """Store a new user and its key item (and count it when it is an enabled admin)."""
        writes: builtins.list[TransactWriteItemTypeDef] = [
            self._put_new(items.user_to_item(user)),
            self._put_new(items.api_key_to_item(user)),
        ]
        if user.is_enabled_admin:
            writes.append(self._count_admin(+1))
        with aws_errors("DynamoDB TransactWriteItems"):
            try:
                self._client.transact_write_items(TransactItems=writes)
            except ClientError as error:
                if error_code(error) != _TRANSACTION_CANCELLED:
                    raise
                codes = [reason.get("Code") for reason in _reasons(error)]
                if "ConditionalCheckFailed" in codes:
                    raise AlreadyExistsError("the user or key already exists") from None
                raise

    def save(self, user: User, *, previous: User) -> None:
        """Replace `previous` with `user`, moving the key item and keeping an admin enabled."""
        writes: builtins.list[TransactWriteItemTypeDef] = [
            self._put_versioned(items.user_to_item(user), previous.version)
        ]
        if user.key_hash != previous.key_hash:
            writes.append(
                {"Delete": {"TableName": self._table, "Key": items.api_key_key(previous.key_hash)}}
            )
        writes.append({"Put": {"TableName": self._table, "Item": items.api_key_to_item(user)}})
        admin_write = None
        if previous.is_enabled_admin and not user.is_enabled_admin:
            admin_write = len(writes)
            writes.append(self._count_admin(-1))
        elif user.is_enabled_admin and not previous.is_enabled_admin:
            writes.append(self._count_admin(+1))
        self._transact(writes, user_id=user.id, expected=previous.version, admin_write=admin_write)

    def remove(self, user: User) -> None:
        """Delete the user (as read) and its key item, keeping an admin enabled."""
        writes: builtins.list[TransactWriteItemTypeDef] = [
            cast(
                "TransactWriteItemTypeDef",
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": items.user_key(user.id),
                        **_if_version(user.version),
                    }
                },
            ),
            {"Delete": {"TableName": self._table, "Key": items.api_key_key(user.key_hash)}},
        ]
        admin_write = None
        if user.is_enabled_admin:
            admin_write = len(writes)
            writes.append(self._count_admin(-1))
        self._transact(writes, user_id=user.id, expected=user.version, admin_write=admin_write)

    def list(self, *, limit: int, cursor: str | None) -> UserPage:
        """Users in id order (one Query on `by_kind`)."""
        from kumocms.portvalues import UserPage  # noqa: PLC0415 - off the read path

        after = None if cursor is None else decode_user_cursor(cursor, scope=USERS_SCOPE)
        if limit < 1:
            return UserPage(items=(), next_cursor=None)
        found = _query_partition(
            self._client,
            self._table,
            index=items.BY_KIND,
            partition=(items.KIND, items.USER_KIND),
            bound=None if after is None else (items.SK, ">", after.value),
            forward=True,
            want=limit + 1,
        )
        page = tuple(items.user_from_item(item) for item in found[:limit])
        more = len(found) > limit
        return UserPage(
            items=page,
            next_cursor=encode_cursor(page[-1].id, scope=USERS_SCOPE) if more else None,
        )

    def count_enabled_admins(self) -> int:
        """How many enabled admins there are (one consistent GetItem on the counter)."""
        return items.admin_count(_read(self._client, self._table, items.admins_key()))

    # -- internals ------------------------------------------------------------------------

    def _put_new(self, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        put = {"TableName": self._table, "Item": item, **_IF_NEW}
        return cast("TransactWriteItemTypeDef", {"Put": put})

    def _put_versioned(self, item: dict[str, Any], expected: int) -> TransactWriteItemTypeDef:
        put = {"TableName": self._table, "Item": item, **_if_version(expected)}
        return cast("TransactWriteItemTypeDef", {"Put": put})

    def _count_admin(self, delta: int) -> TransactWriteItemTypeDef:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": items.admins_key(),
            "UpdateExpression": "ADD #n :delta",
            "ExpressionAttributeNames": {"#n": items.ENABLED_ADMINS},
            "ExpressionAttributeValues": {":delta": items.number_value(delta)},
        }
        if delta < 0:
            # Someone else must remain: the counter still includes the admin who leaves.
            update["ConditionExpression"] = "#n > :one"
            update["ExpressionAttributeValues"][":one"] = items.number_value(1)
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return cast("TransactWriteItemTypeDef", {"Update": update})

    def _transact(
        self,
        writes: Sequence[TransactWriteItemTypeDef],
        *,
        user_id: UserId,
        expected: int,
        admin_write: int | None,
    ) -> None:
        with aws_errors("DynamoDB TransactWriteItems"):
            try:
                self._client.transact_write_items(TransactItems=writes)
            except ClientError as error:
                if error_code(error) != _TRANSACTION_CANCELLED:
                    raise
                failure = _user_write_failure(
                    _reasons(error), user_id=user_id, expected=expected, admin_write=admin_write
                )
                if failure is None:
                    raise
                raise failure from None


def _reasons(error: ClientError) -> builtins.list[Mapping[str, Any]]:
    response = cast("Mapping[str, Any]", error.response)
    return builtins.list(response.get("CancellationReasons") or [])


def _user_write_failure(
    reasons: Sequence[Mapping[str, Any]],
    *,
    user_id: UserId,
    expected: int,
    admin_write: int | None,
) -> Exception | None:
    """The domain error a cancelled user transaction means (None: a dependency failure).

    The user item is always the first write; its reason wins, as the fake checks the version
    before the last-admin rule.
    """
    codes = [str(reason.get("Code", "None")) for reason in reasons]
    if codes and codes[0] == "ConditionalCheckFailed":
        return _stale(
            reasons[0].get("Item"),
            what="user",
            expected=expected,
            missing=UserNotFoundError(f"user {user_id} not found"),
        )
    if (
        admin_write is not None
        and admin_write < len(codes)
        and codes[admin_write] == "ConditionalCheckFailed"
    ):
        return LastAdminError("the last enabled admin cannot be disabled, demoted or deleted")
    if "TransactionConflict" in codes:
        # Another transaction was changing the same user or the admin counter right now.
        return VersionConflictError("the user is being changed", expected=expected, actual=None)
    return None


# ---- idempotency ----------------------------------------------------------------------------


class DynamoIdempotencyStore:
    """Idempotency records in the documents table, expiring through TTL and the clock."""

    def __init__(self, client: DynamoDBClient, table_name: str, *, clock: Clock) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def claim(
        self, scope: str, *, fingerprint: str, owner: str, expires_at: datetime
    ) -> Remembered | IdempotencyClaim:
        """Claim `scope` with one conditional PutItem, or say what holds it."""
        from kumocms.portvalues import IdempotencyClaim  # noqa: PLC0415 - off the read path

        now = items.epoch_seconds(self._clock.now())
        with aws_errors("DynamoDB PutItem"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=items.claim_to_item(
                        scope, fingerprint=fingerprint, owner=owner, expires_at=expires_at
                    ),
                    # A record whose expiry has passed is free even before TTL removes it.
                    ConditionExpression="attribute_not_exists(#pk) OR #expires <= :now",
                    ExpressionAttributeNames={"#pk": items.PK, "#expires": items.EXPIRES_AT},
                    ExpressionAttributeValues={":now": items.number_value(now)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                old = _old_item(error) if error_code(error) == _CONDITION_FAILED else None
                if old is None:
                    raise
                remembered = items.remembered_from_item(old)
                if remembered is not None:
                    return remembered
                if items.fingerprint_of(old) != fingerprint:
                    return IdempotencyClaim.REUSED
                if items.owner_of(old) == owner:
                    return IdempotencyClaim.CLAIMED  # our own claim, landed by an earlier try
                return IdempotencyClaim.IN_FLIGHT
        return IdempotencyClaim.CLAIMED

    def complete(self, scope: str, *, fingerprint: str, outcome: str, expires_at: datetime) -> None:
        """Remember the outcome of a claimed scope (one PutItem)."""
        item = items.remembered_to_item(
            scope, fingerprint=fingerprint, outcome=outcome, expires_at=expires_at
        )
        with aws_errors("DynamoDB PutItem"):
            self._client.put_item(TableName=self._table, Item=item)

    def release(self, scope: str) -> None:
        """Forget a claim (one DeleteItem)."""
        with aws_errors("DynamoDB DeleteItem"):
            self._client.delete_item(TableName=self._table, Key=items.idempotency_key(scope))
