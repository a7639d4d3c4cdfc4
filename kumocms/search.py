"""Domain layer: indexed metadata fields, their sortable encodings, and document filters (§10).

Operators declare fields (`name -> type`). A declared field is a schema for the values a
request sets, and the index keeps one entry per document and field whose value has the
declared type. Values are encoded as strings that sort like the values themselves, so
the index can answer equality and ranges with key conditions alone:

- numbers by value (`-1.5 < -1 < 0 < 1 = 1.0 < 1.25`), any sign, decimals and exponents;
- dates as instants in UTC (`2026-01-01T01:00:00+01:00` equals `2026-01-01T00:00:00Z`);
- booleans as `false` / `true`; strings as themselves (equality only).

A `DocumentFilter` is what a listing asks for. `matches` is the one definition of "this
document answers this filter": the in-memory repository filters with it, and the DynamoDB
repository re-checks every index hit with it against the current record.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import attrs

from kumocms.errors import FieldNotIndexedError, InvalidMetadataError, ValidationError
from kumocms.ids import UserId
from kumocms.states import ArchiveState

if TYPE_CHECKING:
    from kumocms.model import Document

MAX_INDEXED_FIELDS = 20
MAX_STRING_BYTES = 1024
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class FieldType(enum.Enum):
    """The type of an indexed field."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"

    @property
    def ranged(self) -> bool:
        """Whether `min`/`max` filters apply to this type."""
        return self in (FieldType.NUMBER, FieldType.DATE)


IndexValue = str | bool | Decimal | int | datetime
"""A typed value of an indexed field (numbers as int or Decimal, dates aware)."""


def _declared(value: object) -> tuple[tuple[str, FieldType], ...]:
    if isinstance(value, tuple):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise TypeError("indexed fields must be a mapping of name to type")
    fields: dict[str, FieldType] = {}
    for name, kind in value.items():
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            raise ValueError(
                f"indexed field name {name!r} must match {FIELD_NAME.pattern} "
                "(a top-level metadata key)"
            )
        try:
            fields[name] = kind if isinstance(kind, FieldType) else FieldType(kind)
        except ValueError:
            choices = ", ".join(t.value for t in FieldType)
            raise ValueError(
                f"indexed field {name!r} has type {kind!r}; choose one of {choices}"
            ) from None
    if len(fields) > MAX_INDEXED_FIELDS:
        raise ValueError(f"at most {MAX_INDEXED_FIELDS} indexed fields, not {len(fields)}")
    return tuple(sorted(fields.items()))


@attrs.frozen
class IndexedFields:
    """The declared fields (validated: names, types, at most 20); hashable like Settings."""

    declared: tuple[tuple[str, FieldType], ...] = attrs.field(factory=tuple, converter=_declared)

    @property
    def fields(self) -> Mapping[str, FieldType]:
        """Name -> type, sorted by name."""
        return dict(self.declared)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def as_json(self) -> dict[str, str]:
        """`{name: type}`, as `field_not_indexed` problems and `/limits` show it."""
        return {name: kind.value for name, kind in self.fields.items()}

    def check(self, metadata: Mapping[str, object]) -> None:
        """Refuse a declared field set to a value of another type (`null` is absent).

        Only the keys given are checked: a patch validates what it sets, not older values.

        Raises:
            InvalidMetadataError: `field` names `metadata.NAME`.
        """
        for name, kind in self.fields.items():
            value = metadata.get(name)
            if value is not None:
                typed_value(kind, value, field=f"metadata.{name}")

    def entries(self, metadata: Mapping[str, object]) -> dict[str, str]:
        """The encoded value of each declared field the metadata holds with the right type.

        A value of another type (written before the field was declared) is skipped: it is
        not indexed, and reindex reports it.
        """
        found: dict[str, str] = {}
        for name, kind in self.fields.items():
            value = metadata.get(name)
            if value is None:
                continue
            try:
                found[name] = encode(kind, typed_value(kind, value, field=name))
            except ValidationError:
                continue
        return found


# ---- values and their encodings ---------------------------------------------------------------


def typed_value(kind: FieldType, value: object, *, field: str) -> IndexValue:
    """`value` as a value of `kind` (metadata JSON, already normalised).

    Raises:
        InvalidMetadataError: the value has another type, or a string is over 1,024 bytes.
    """
    if kind is FieldType.BOOLEAN and isinstance(value, bool):
        return value
    if (
        kind is FieldType.NUMBER
        and isinstance(value, int | Decimal)
        and not isinstance(value, bool)
    ):
        return value
    if kind is FieldType.STRING and isinstance(value, str):
        if len(value.encode("utf-8")) > MAX_STRING_BYTES:
            raise InvalidMetadataError(
                f"{field} must be at most {MAX_STRING_BYTES} UTF-8 bytes to be indexed",
                field=field,
            )
        return value
    if kind is FieldType.DATE and isinstance(value, str):
        instant = parse_instant(value)
        if instant is not None:
            return instant
        raise InvalidMetadataError(
            f"{field} must be an RFC 3339 date-time with an offset", field=field
        )
    raise InvalidMetadataError(f"{field} must be a {kind.value}", field=field)


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 date-time with an offset as an aware UTC datetime; None when it is not."""
    if not _RFC3339.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return moment.astimezone(UTC)


def encode(kind: FieldType, value: IndexValue) -> str:
    """A string that sorts, compares and hashes like `value` among values of `kind`."""
    if kind is FieldType.NUMBER:
        assert isinstance(value, int | Decimal)
        return encode_number(Decimal(value))
    if kind is FieldType.DATE:
        assert isinstance(value, datetime)
        utc = value.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds") + "Z"
    if kind is FieldType.BOOLEAN:
        return "true" if value else "false"
    assert isinstance(value, str)
    return value


_EXPONENT_OFFSET = 5000


def encode_number(number: Decimal) -> str:
    """Sortable text for a finite decimal.

    `1` for zero; `2` + exponent + digits for positives; `0` + complemented exponent +
    complemented digits + `~` for negatives (the terminator makes a longer negative mantissa
    sort first: -1.55 < -1.5). Equal numbers (`1`, `1.0`, `1E0`) give equal text.
    """
    if number.is_zero():
        return "1"
    sign, digits, _ = number.normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    # Stored numbers stay within DynamoDB's exponents (-130..125); a filter bound beyond
    # ±4,999 is clamped, which keeps it above (or below) every stored value.
    exponent = min(max(number.adjusted() + _EXPONENT_OFFSET, 0), 9999)
    if not sign:
        return f"2{exponent:04d}{mantissa}"
    flipped = "".join(str(9 - int(d)) for d in mantissa)
    return f"0{9999 - exponent:04d}{flipped}~"


def index_entries(document: Document, fields: IndexedFields) -> dict[str, str]:
    """What the index holds for `document`: field name -> encoded value.

    The one place that decides whether a document is findable at all: a trashed document
    has no entries, so trashing removes them in the same write and a restore puts them back.
    """
    if document.trash is not None:
        return {}
    return fields.entries(document.metadata)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INVERTED = str.maketrans(_CROCKFORD, _CROCKFORD[::-1])


def range_position(encoded: str, document_id: str) -> str:
    """A range index sort key: by value ascending, then newest first (inverted ULID)."""
    return f"{encoded}#{document_id.upper().translate(_INVERTED)}"


@attrs.frozen(kw_only=True)
class ReindexBatch:
    """What one step of a reindex did."""

    documents: int
    """Documents whose entries were written (or found current)."""
    unindexed: tuple[tuple[str, str], ...] = ()
    """`(document id, field)` of values older than the declaration, of another type: kept in
    the metadata, left out of the index."""
    next_cursor: str | None = None
    """Where the next step resumes; None when every document has been seen."""


# ---- filters ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FieldRange:
    """An inclusive range on one number or date field (either end may be open)."""

    name: str
    low: str | None = None
    high: str | None = None
    """Encoded bounds."""


@attrs.frozen(kw_only=True)
class DocumentFilter:
    """What a listing asks for; every part optional, all combined with AND."""

    equals: Mapping[str, str] = attrs.field(factory=dict)
    """Field name -> encoded value."""
    range: FieldRange | None = None
    state: ArchiveState | None = None
    content_type: str | None = None
    created_by: UserId | None = None
    created_after: datetime | None = None
    """Inclusive."""
    created_before: datetime | None = None
    """Exclusive."""

    @property
    def indexed(self) -> bool:
        """Whether the index of metadata fields answers this filter."""
        return bool(self.equals) or self.range is not None

    def fields(self) -> set[str]:
        """The metadata fields the filter reads."""
        named = set(self.equals)
        if self.range is not None:
            named.add(self.range.name)
        return named

    def scope(self) -> str:
        """A digest naming this exact filter (a cursor works only with the filter that made it)."""
        parts = [f"eq:{name}={value}" for name, value in sorted(self.equals.items())]
        if self.range is not None:
            parts.append(f"range:{self.range.name}:{self.range.low}:{self.range.high}")
        for label, value in (
            ("state", self.state.value if self.state else None),
            ("type", self.content_type),
            ("by", self.created_by.value if self.created_by else None),
            ("after", self.created_after.isoformat() if self.created_after else None),
            ("before", self.created_before.isoformat() if self.created_before else None),
        ):
            if value is not None:
                parts.append(f"{label}:{value}")
        if not parts:
            return "documents"
        digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]
        return f"documents:{digest}"

    def matches(self, document: Document, fields: IndexedFields) -> bool:
        """Whether the current `document` answers the filter (the re-check of every hit)."""
        if document.trash is not None:
            return False
        if self.state is not None and document.state is not self.state:
            return False
        if self.content_type is not None and document.content_type != self.content_type:
            return False
        if self.created_by is not None and document.owner != self.created_by:
            return False
        if self.created_after is not None and document.created_at < self.created_after:
            return False
        if self.created_before is not None and document.created_at >= self.created_before:
            return False
        values = index_entries(document, fields)
        if any(values.get(name) != value for name, value in self.equals.items()):
            return False
        if self.range is not None:
            value = values.get(self.range.name)
            if value is None:
                return False
            # The encodings sort like the values, so bounds compare as text.
            if self.range.low is not None and value < self.range.low:
                return False
            if self.range.high is not None and value > self.range.high:
                return False
        return True


# ---- parsing a query string ---------------------------------------------------------------


def parse_filter(
    params: Mapping[str, str], fields: IndexedFields, *, state: ArchiveState | None = None
) -> DocumentFilter:
    """The filter of `GET /documents`'s `meta.*`, `content_type`, `created_*` parameters.

    `params` holds only the filter parameters (the edge has split off `limit`, `cursor`
    and `state`, and refused repeats and unknown names).

    Raises:
        FieldNotIndexedError: a `meta.NAME` names an undeclared field.
        ValidationError: a value of the wrong type, a range on a string or boolean field,
            ranges on two fields, or a malformed date.
    """
    equals: dict[str, str] = {}
    bounds: dict[str, dict[str, str]] = {}
    other: dict[str, object] = {}
    for parameter, text in params.items():
        if parameter.startswith("meta."):
            name, _, suffix = parameter[len("meta.") :].partition(".")
            kind = _field(fields, name, parameter)
            if suffix == "":
                equals[name] = encode(kind, _filter_value(kind, text, parameter))
            elif suffix in ("min", "max"):
                if not kind.ranged:
                    raise ValidationError(
                        f"{parameter}: ranges apply to number and date fields only; "
                        f"{name} is a {kind.value}",
                        field=parameter,
                    )
                bounds.setdefault(name, {})[suffix] = encode(
                    kind, _filter_value(kind, text, parameter)
                )
            else:
                raise ValidationError(f"unknown query parameter {parameter}", field=parameter)
        else:
            other[parameter] = _plain_filter(parameter, text)
    if len(bounds) > 1:
        raise ValidationError(
            "at most one ranged field per query: " + ", ".join(sorted(bounds)),
            field="meta." + sorted(bounds)[1],
        )
    ranged = None
    for name, ends in bounds.items():
        ranged = FieldRange(name=name, low=ends.get("min"), high=ends.get("max"))
    return DocumentFilter(
        equals=equals,
        range=ranged,
        state=state,
        content_type=other.get("content_type"),  # type: ignore[arg-type]
        created_by=other.get("created_by"),  # type: ignore[arg-type]
        created_after=other.get("created_after"),  # type: ignore[arg-type]
        created_before=other.get("created_before"),  # type: ignore[arg-type]
    )


FILTER_PARAMETERS = ("content_type", "created_after", "created_before", "created_by")
"""The filter parameters besides `state` and the `meta.*` family."""


def _field(fields: IndexedFields, name: str, parameter: str) -> FieldType:
    kind = fields.fields.get(name)
    if kind is None:
        declared = ", ".join(f"{n} ({k.value})" for n, k in fields.fields.items()) or "none"
        raise FieldNotIndexedError(
            f"{parameter}: {name!r} is not an indexed field (indexed: {declared})",
            field=parameter,
            indexed_fields=fields.as_json(),
        )
    return kind


def _filter_value(kind: FieldType, text: str, parameter: str) -> IndexValue:
    if kind is FieldType.STRING:
        return typed_value(kind, text, field=parameter)
    if kind is FieldType.BOOLEAN:
        if text not in ("true", "false"):
            raise ValidationError(f"{parameter} must be true or false", field=parameter)
        return text == "true"
    if kind is FieldType.NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or not re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", text):
            raise ValidationError(f"{parameter} must be a number", field=parameter)
        return number
    instant = parse_instant(text)
    if instant is None:
        raise ValidationError(
            f"{parameter} must be an RFC 3339 date-time with an offset", field=parameter
        )
    return instant


def _plain_filter(parameter: str, text: str) -> object:
    if parameter in ("created_after", "created_before"):
        instant = parse_instant(text)
        if instant is None:
            raise ValidationError(
                f"{parameter} must be an RFC 3339 date-time with an offset", field=parameter
            )
        return instant
    if parameter == "created_by":
        try:
            return UserId.parse(text)
        except ValidationError:
            raise ValidationError("created_by must be a user id", field=parameter) from None
    if parameter == "content_type":
        if not text or len(text) > 255:
            raise ValidationError("content_type must be a media type", field=parameter)
        return text
    raise ValidationError(f"unknown query parameter {parameter}", field=parameter)
