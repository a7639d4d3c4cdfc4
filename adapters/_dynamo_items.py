"""Adapters layer: the DynamoDB item shapes of documents, users and idempotency records.

This private module is the one place that knows attribute names, key prefixes and how domain
values become DynamoDB attribute values: a cattrs converter (built once, at import) turns the
frozen domain objects into plain values, and boto3's TypeSerializer/TypeDeserializer turn those
into the low-level attribute-value format the client speaks. Datetimes are fixed-width
ISO-8601 UTC strings (`2026-01-01T00:00:00.000000Z`), so string order is time order; enums are
stored by value, ids as text, `None` as NULL, and user metadata as a map whose numbers are N.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, Inexact
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast

import attrs
import cattrs
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from kumocms.history import HistoryEntry, position
from kumocms.ids import DocumentId, UserId
from kumocms.jsonvalue import JsonObject, JsonValue
from kumocms.model import CopyJob, Document, RevisionPolicy, trash_position
from kumocms.rules import MAX_NUMBER_DIGITS, normalize_metadata
from kumocms.search import IndexedFields, index_entries, range_position
from kumocms.states import ArchiveState
from kumocms.users import User

if TYPE_CHECKING:
    from kumocms.portvalues import Remembered

Item: TypeAlias = dict[str, Any]
"""An item (or key) in the low-level attribute-value format: `{"pk": {"S": "DOC#..."}}`."""

# ---- attribute and index names (the table specs in adapters.dynamodb use these) -----------

PK: Final = "pk"
SK: Final = "sk"
LIST_PK: Final = "list_pk"
STATE_PK: Final = "state_pk"
PENDING_PK: Final = "pending_pk"
PENDING_SK: Final = "pending_sk"
VERSION: Final = "version"
EXPIRES_AT: Final = "expires_at"
"""The TTL attribute of both tables (epoch seconds)."""
KIND: Final = "kind"
ENABLED_ADMINS: Final = "enabled_admins"
FINGERPRINT: Final = "fingerprint"
OWNER: Final = "owner"
OUTCOME: Final = "outcome"
FV_PK: Final = "fv_pk"
FR_PK: Final = "fr_pk"
FR_SK: Final = "fr_sk"
DOC: Final = "doc"
TRASH_PK: Final = "trash_pk"
TRASH_SK: Final = "trash_sk"
PRUNE_PK: Final = "prune_pk"
PRUNE_SK: Final = "prune_sk"

BY_CREATED: Final = "by_created"
BY_STATE: Final = "by_state"
BY_PENDING_DEADLINE: Final = "by_pending_deadline"
BY_KIND: Final = "by_kind"
BY_FIELD_VALUE: Final = "by_field_value"
BY_FIELD_RANGE: Final = "by_field_range"
BY_TRASH: Final = "by_trash"
BY_PRUNE: Final = "by_prune"

USER_KIND: Final = "USER"
PENDING_BACKSTOP = timedelta(days=7)
"""A pending document's TTL is its upload deadline plus this; reconciliation deletes first."""

_DOC = "DOC#"
_ALL = "ALL#"
_PENDING = "PENDING#"
_COPY = "COPY#"
_COPYING = "COPYING#"
COPY_ID: Final = "copy_id"
_IDX = "IDX#"
_TRASH = "TRASH#"
_PURGE = "PURGE#"
_PRUNE = "PRUNE#"
_IDEM = "IDEM#"
_USER = "USER#"
_KEY = "KEY#"
_ADMINS = "META#ADMINS"
_HEALTH = "META#HEALTHCHECK"

# ---- values ---------------------------------------------------------------------------------

_NUMBERS = Context(prec=MAX_NUMBER_DIGITS, traps=[Inexact])
"""38 significant digits, like DynamoDB; rounding is fine only when nothing is lost."""


class _ExactDeserializer(TypeDeserializer):
    """boto3's deserializer, except that numbers are read exactly as DynamoDB sends them.

    DynamoDB answers 1E+125 with its 126 digits written out; boto3 parses N values in a
    38-digit context that traps Rounded and so refuses them (boto/boto3#2500).
    """

    def _deserialize_n(self, value: str) -> Decimal:
        return Decimal(value)


_serializer = TypeSerializer()
_deserializer = _ExactDeserializer()


def iso(moment: datetime) -> str:
    """Fixed-width ISO-8601 UTC text, so that string order is time order."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """The aware UTC datetime of text written by `iso`."""
    return datetime.fromisoformat(text).astimezone(UTC)


def epoch_seconds(moment: datetime) -> int:
    """Whole epoch seconds for a TTL attribute, rounded up so nothing expires early."""
    return math.ceil(moment.timestamp())


def exact_number(value: int | Decimal) -> Decimal:
    """A Decimal boto3's serializer accepts without rounding.

    The serializer builds numbers in a 38-digit context that traps Rounded, so an int like
    10**125 (one significant digit, 126 digits written out) would be refused; normalising it
    in a 38-digit context that traps only Inexact gives `1E+125`, the same value.
    """
    number = Decimal(value)
    if len(number.as_tuple().digits) > MAX_NUMBER_DIGITS:
        number = _NUMBERS.create_decimal(number).normalize(_NUMBERS)
    return number


def _metadata_out(value: JsonValue) -> object:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | Decimal):
        return exact_number(value)
    if isinstance(value, Mapping):
        return {key: _metadata_out(item) for key, item in value.items()}
    return [_metadata_out(item) for item in value]


def _metadata_in(value: object, _: object) -> JsonObject:
    # normalize_metadata turns the deserializer's Decimals back into ints where integral, so a
    # document read back compares equal to the one written.
    return normalize_metadata(value)


def _serialize(plain: Mapping[str, object]) -> Item:
    return {name: _serializer.serialize(value) for name, value in plain.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def number_value(value: int) -> dict[str, str]:
    """An N attribute value."""
    return {"N": str(value)}


def string_value(value: str) -> dict[str, str]:
    """An S attribute value."""
    return _s(value)


# ---- the converter --------------------------------------------------------------------------


def _build_converter() -> cattrs.Converter:
    """The converter; the Document and User hooks are generated when first used.

    Generating them is most of the cost of building the converter, and a function uses one or
    the other (the authorizer never converts a document, the document functions never a user),
    so neither is generated at import or for a function that does not need it.
    """
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, iso)
    converter.register_structure_hook(datetime, lambda value, _: parse_iso(value))
    converter.register_unstructure_hook(DocumentId, str)
    converter.register_structure_hook(DocumentId, lambda value, _: DocumentId.parse(value))
    converter.register_unstructure_hook(UserId, str)
    converter.register_structure_hook(UserId, lambda value, _: UserId.parse(value))
    converter.register_unstructure_hook(Decimal, exact_number)

    def document_out(_: type) -> Any:
        attrs.resolve_types(Document)
        return make_dict_unstructure_fn(
            Document,
            converter,
            id=override(rename=SK),
            metadata=override(unstruct_hook=_metadata_out),
        )

    def document_in(_: type) -> Any:
        attrs.resolve_types(Document)
        return make_dict_structure_fn(
            Document,
            converter,
            id=override(rename=SK),
            metadata=override(struct_hook=_metadata_in),
        )

    def is_document(cls: object) -> bool:
        return cls is Document

    def is_user(cls: object) -> bool:
        return cls is User

    converter.register_unstructure_hook_factory(is_document, document_out)
    converter.register_structure_hook_factory(is_document, document_in)
    converter.register_unstructure_hook_factory(
        is_user, lambda _: make_dict_unstructure_fn(User, converter, id=override(rename="user_id"))
    )
    converter.register_structure_hook_factory(
        is_user, lambda _: make_dict_structure_fn(User, converter, id=override(rename="user_id"))
    )
    return converter


_converter = _build_converter()


# ---- documents ------------------------------------------------------------------------------


def shard_of(document_id: DocumentId, shards: int) -> int:
    """The index shard of a document: a stable hash of its id, so bursts spread evenly."""
    digest = hashlib.sha256(document_id.value.encode("ascii")).hexdigest()
    return int(digest[:8], 16) % shards


def list_partition(shard: int) -> str:
    """`by_created` partition key of a shard."""
    return f"{_ALL}{shard:02d}"


def state_partition(state: ArchiveState, shard: int) -> str:
    """`by_state` partition key of a state's shard."""
    return f"{state.value}#{shard:02d}"


def pending_partition(shard: int) -> str:
    """`by_pending_deadline` partition key of a shard."""
    return f"{_PENDING}{shard:02d}"


def deadline_bound(now: datetime) -> str:
    """The `pending_sk` every deadline at or before `now` sorts below (`~` follows any ULID)."""
    return f"{iso(now)}#~"


def document_key(document_id: DocumentId) -> Item:
    """The primary key of a document's item."""
    return {PK: _s(f"{_DOC}{document_id.value}")}


def document_to_item(
    document: Document, *, shards: int, retention: RevisionPolicy | None = None
) -> Item:
    """The whole item of a document, index keys included.

    A trashed document leaves the listing indexes (`by_created`, `by_state`) for `by_trash`,
    and sits in `by_pending_deadline` under `PURGE#<shard>` at its purge time unless a hold
    keeps it; a document with revisions retention may prune sits in `by_prune` at the time
    the first of them becomes prunable.
    """
    plain = cast("dict[str, object]", _converter.unstructure(document, Document))
    shard = shard_of(document.id, shards)
    plain[PK] = f"{_DOC}{document.id.value}"
    if document.trash is None:
        plain[LIST_PK] = list_partition(shard)
        plain[STATE_PK] = state_partition(document.state, shard)
    else:
        if not document.trash.purging:  # a purge under way is out of the listing already
            plain[TRASH_PK] = f"{_TRASH}{shard:02d}"
            plain[TRASH_SK] = trash_position(document)
        if document.purge_at is not None:
            plain[PENDING_PK] = purge_partition(shard)
            plain[PENDING_SK] = f"{iso(document.purge_at)}#{document.id.value}"
    due = (retention or RevisionPolicy()).due(document)
    if due is not None:
        plain[PRUNE_PK] = prune_partition(shard)
        plain[PRUNE_SK] = f"{iso(due)}#{document.id.value}"
    if document.pending is not None:
        plain[PENDING_PK] = pending_partition(shard)
        plain[PENDING_SK] = f"{iso(document.pending.expires_at)}#{document.id.value}"
        if document.state is ArchiveState.PENDING:
            plain[EXPIRES_AT] = epoch_seconds(document.pending.expires_at + PENDING_BACKSTOP)
    return _serialize(plain)


def trash_partition(shard: int) -> str:
    """`by_trash` partition key of a shard."""
    return f"{_TRASH}{shard:02d}"


def purge_partition(shard: int) -> str:
    """`by_pending_deadline` partition of a shard's trashed documents (by purge time)."""
    return f"{_PURGE}{shard:02d}"


def prune_partition(shard: int) -> str:
    """`by_prune` partition key of a shard."""
    return f"{_PRUNE}{shard:02d}"


def trash_key(item: Mapping[str, Any]) -> str:
    """The `trash_sk` of a trashed document's item."""
    return str(item[TRASH_SK]["S"])


def prune_key(item: Mapping[str, Any]) -> str:
    """The `prune_sk` of an item in `by_prune`."""
    return str(item[PRUNE_SK]["S"])


def document_from_item(item: Mapping[str, Any]) -> Document:
    """The document an item holds."""
    return _converter.structure(_deserialize(item), Document)


def copy_key(document_id: DocumentId) -> Item:
    """The primary key of a document's copy job item."""
    return {PK: _s(f"{_COPY}{document_id.value}")}


def copying_partition(shard: int) -> str:
    """`by_pending_deadline` partition of a shard's copy jobs (beside the pending uploads)."""
    return f"{_COPYING}{shard:02d}"


def copy_to_item(job: CopyJob, *, shards: int) -> Item:
    """A copy job's item: its fields, and its last progress in the sparse deadline index."""
    plain = cast("dict[str, object]", _converter.unstructure(job, CopyJob))
    plain[PK] = f"{_COPY}{job.document_id.value}"
    plain[PENDING_PK] = copying_partition(shard_of(job.document_id, shards))
    plain[PENDING_SK] = f"{iso(job.progress_at)}#{job.document_id.value}"
    return _serialize(plain)


def copy_from_item(item: Mapping[str, Any]) -> CopyJob:
    """The copy job an item holds."""
    plain = _deserialize(item)
    plain["size"] = int(plain["size"])
    plain["revision"] = int(plain["revision"])
    plain["part_size"] = int(plain["part_size"])
    plain["parts"] = [{**part, "number": int(part["number"])} for part in plain["parts"]]
    return _converter.structure(plain, CopyJob)


# ---- index entries of declared metadata fields (§10) --------------------------------------


def entry_key(document_id: DocumentId, field: str) -> Item:
    """The primary key of a document's index entry for `field`."""
    return {PK: _s(f"{_IDX}{document_id.value}#{field}")}


def value_partition(field: str, shard: int, encoded: str) -> str:
    """`by_field_value` partition key: one field, one shard, one encoded value."""
    return f"{field}#{shard:02d}#{encoded}"


def range_partition(field: str, shard: int) -> str:
    """`by_field_range` partition key: one field, one shard."""
    return f"{field}#{shard:02d}"


def entry_to_item(
    document_id: DocumentId, field: str, encoded: str, *, ranged: bool, shards: int
) -> Item:
    """An index entry: equality keys always, range keys for number and date fields."""
    shard = shard_of(document_id, shards)
    plain: dict[str, object] = {
        PK: f"{_IDX}{document_id.value}#{field}",
        SK: document_id.value,
        DOC: document_id.value,
        FV_PK: value_partition(field, shard, encoded),
    }
    if ranged:
        plain[FR_PK] = range_partition(field, shard)
        plain[FR_SK] = range_position(encoded, document_id.value)
    return _serialize(plain)


def entry_writes(
    table: str, document: Document, fields: IndexedFields, *, shards: int, deletes: bool
) -> list[dict[str, Any]]:
    """Transaction writes of `document`'s index entries: a Put of each it has.

    With `deletes`, also a Delete of each declared field's entry it has no value for (a
    missing entry is a no-op).
    """
    entries = index_entries(document, fields)
    writes: list[dict[str, Any]] = []
    for name, kind in fields.fields.items():
        encoded = entries.get(name)
        if encoded is not None:
            item = entry_to_item(document.id, name, encoded, ranged=kind.ranged, shards=shards)
            writes.append({"Put": {"TableName": table, "Item": item}})
        elif deletes:
            writes.append({"Delete": {"TableName": table, "Key": entry_key(document.id, name)}})
    return writes


def hit_document(item: Mapping[str, Any]) -> DocumentId:
    """The document an index hit names: a document item, or an entry (KEYS_ONLY: `pk` only)."""
    key = str(item[PK]["S"])
    if key.startswith(_IDX):
        return DocumentId.parse(key[len(_IDX) :].partition("#")[0])
    return DocumentId.parse(key[len(_DOC) :])


def sort_key(item: Mapping[str, Any]) -> str:
    """The `sk` (document or user id) of an item."""
    return str(item[SK]["S"])


def deadline_key(item: Mapping[str, Any]) -> str:
    """The `pending_sk` of a document item."""
    return str(item[PENDING_SK]["S"])


def version_of(item: Mapping[str, Any]) -> int:
    """The `version` of an item."""
    return int(item[VERSION]["N"])


def health_key() -> Item:
    """A key no item has: reading it costs one cheap request."""
    return {PK: _s(_HEALTH)}


# ---- history (its own table) ---------------------------------------------------------------


def history_to_item(entry: HistoryEntry) -> Item:
    """A history entry: `pk` = the document's ULID, `sk` = its position (time order)."""
    plain: dict[str, object] = {
        PK: entry.document_id.value,
        SK: position(entry),
        "event": entry.event,
        "at": iso(entry.at),
        "actor": _converter.unstructure(entry.actor),
        VERSION: entry.version,
        "details": _metadata_out(entry.details),
        "sequence": entry.sequence,
    }
    if entry.expires_at is not None:
        plain[EXPIRES_AT] = epoch_seconds(entry.expires_at)
    return _serialize(plain)


def history_from_item(item: Mapping[str, Any]) -> HistoryEntry:
    """The history entry an item holds."""
    from kumocms.users import Actor  # noqa: PLC0415 - only history reads need it

    plain = _deserialize(item)
    expires = plain.get(EXPIRES_AT)
    return HistoryEntry(
        document_id=DocumentId.parse(plain[PK]),
        event=plain["event"],
        at=parse_iso(plain["at"]),
        actor=_converter.structure(plain["actor"], Actor),
        version=int(plain[VERSION]),
        details=normalize_metadata(plain["details"]),
        sequence=int(plain["sequence"]),
        expires_at=None if expires is None else datetime.fromtimestamp(int(expires), UTC),
    )


def history_key(item: Mapping[str, Any]) -> Item:
    """The primary key of a history item."""
    return {PK: item[PK], SK: item[SK]}


# ---- users ----------------------------------------------------------------------------------


def user_key(user_id: UserId) -> Item:
    """The primary key of a user's item."""
    return {PK: _s(f"{_USER}{user_id.value}")}


def api_key_key(key_hash: str) -> Item:
    """The primary key of the item that finds a user by key hash."""
    return {PK: _s(f"{_KEY}{key_hash}")}


def admins_key() -> Item:
    """The primary key of the enabled-admins counter."""
    return {PK: _s(_ADMINS)}


def user_to_item(user: User) -> Item:
    """A user's item: listed by `by_kind` in id order."""
    plain = cast("dict[str, object]", _converter.unstructure(user, User))
    plain[PK] = f"{_USER}{user.id.value}"
    plain[KIND] = USER_KIND
    plain[SK] = user.id.value
    return _serialize(plain)


def api_key_to_item(user: User) -> Item:
    """The key item: a denormalised copy of the user so authentication is one GetItem."""
    plain = cast("dict[str, object]", _converter.unstructure(user, User))
    plain[PK] = f"{_KEY}{user.key_hash}"
    return _serialize(plain)


def user_from_item(item: Mapping[str, Any]) -> User:
    """The user a user item or a key item holds."""
    return _converter.structure(_deserialize(item), User)


def admin_count(item: Mapping[str, Any] | None) -> int:
    """The value of the enabled-admins counter (0 when it was never written)."""
    if item is None or ENABLED_ADMINS not in item:
        return 0
    return int(item[ENABLED_ADMINS]["N"])


# ---- idempotency records --------------------------------------------------------------------


def idempotency_key(scope: str) -> Item:
    """The primary key of an idempotency record."""
    return {PK: _s(f"{_IDEM}{scope}")}


def claim_to_item(scope: str, *, fingerprint: str, owner: str, expires_at: datetime) -> Item:
    """An in-flight idempotency record (no status yet), held by the request `owner`."""
    return _serialize(
        {
            PK: f"{_IDEM}{scope}",
            FINGERPRINT: fingerprint,
            OWNER: owner,
            EXPIRES_AT: epoch_seconds(expires_at),
        }
    )


def remembered_to_item(scope: str, *, fingerprint: str, outcome: str, expires_at: datetime) -> Item:
    """A completed idempotency record."""
    return _serialize(
        {
            PK: f"{_IDEM}{scope}",
            FINGERPRINT: fingerprint,
            OUTCOME: outcome,
            EXPIRES_AT: epoch_seconds(expires_at),
        }
    )


def remembered_from_item(item: Mapping[str, Any]) -> Remembered | None:
    """What the completed request left, or None while the request is in flight."""
    from kumocms.portvalues import Remembered  # noqa: PLC0415 - off the read path

    outcome = item.get(OUTCOME)
    if outcome is None:
        return None
    return Remembered(fingerprint=fingerprint_of(item), outcome=str(outcome["S"]))


def fingerprint_of(item: Mapping[str, Any]) -> str:
    """The request fingerprint of an idempotency record."""
    return str(item[FINGERPRINT]["S"])


def owner_of(item: Mapping[str, Any]) -> str | None:
    """The request that holds an in-flight idempotency record."""
    owner = item.get(OWNER)
    return None if owner is None else str(owner["S"])
