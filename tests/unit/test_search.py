"""§10's domain: declarations, encodings that sort like values, filters, readiness, reindex."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import InMemoryDocumentRepository, in_memory_ports
from kumocms.commands import UploadDocument
from kumocms.errors import ConflictError, FieldNotIndexedError, ValidationError
from kumocms.search import (
    FieldType,
    IndexedFields,
    encode,
    encode_number,
    parse_filter,
    parse_instant,
)
from kumocms.settings import Settings
from kumocms.usecases import documents
from kumocms.usecases.reindex import reindex
from kumocms.users import Principal, Role

numbers = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**20), max_value=10**20)


@given(numbers, numbers)
def test_numbers_sort_and_compare_by_value(a: Decimal, b: Decimal) -> None:
    left, right = encode_number(a), encode_number(b)
    assert (left < right) == (a < b)
    assert (left == right) == (a == b)


# Hypothesis takes naive bounds and attaches the time zones itself.
_DATES = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.timezones(),
)


@given(_DATES, _DATES)
def test_dates_sort_as_instants(a: datetime, b: datetime) -> None:
    left, right = encode(FieldType.DATE, a), encode(FieldType.DATE, b)
    assert (left < right) == (a < b)
    assert (left == right) == (a == b)


def test_equal_numbers_and_instants_encode_alike() -> None:
    assert (
        encode_number(Decimal("1"))
        == encode_number(Decimal("1.0"))
        == encode_number(Decimal("1E0"))
    )
    morning = parse_instant("2026-01-01T01:00:00+01:00")
    assert morning == parse_instant("2026-01-01T00:00:00Z")
    assert parse_instant("2026-01-01") is None
    assert parse_instant("2026-01-01T00:00:00") is None  # an offset is required


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"Team": "string"}, "'Team'"),
        ({"team": "text"}, "'team'"),
        ({f"f{i}": "string" for i in range(21)}, "at most 20"),
        ({"a-b": "number"}, "'a-b'"),
    ],
)
def test_bad_declarations_fail_naming_the_field(declared: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IndexedFields(declared)


def test_filters_refuse_what_the_contract_refuses() -> None:
    fields = IndexedFields({"year": "number", "team": "string", "due": "date"})
    with pytest.raises(FieldNotIndexedError) as raised:
        parse_filter({"meta.colour": "red"}, fields)
    assert raised.value.indexed_fields == {"due": "date", "team": "string", "year": "number"}
    with pytest.raises(ValidationError):
        parse_filter({"meta.year.min": "1", "meta.due.min": "2026-01-01T00:00:00Z"}, fields)
    with pytest.raises(ValidationError):
        parse_filter({"meta.team.max": "x"}, fields)
    with pytest.raises(ValidationError):
        parse_filter({"meta.year": "NaN"}, fields)
    assert parse_filter({"meta.year": "1"}, fields) == parse_filter({"meta.year": "1.00"}, fields)


EDITOR = Principal(user_id=None, name="editor", role=Role.EDITOR)


def _upload(ports: object, metadata: dict[str, object]) -> str:
    view = documents.upload_document(
        ports,  # type: ignore[arg-type]
        EDITOR,
        UploadDocument(file_name="a.txt", content=b"hi", metadata=metadata),
    )
    return view.document.id.value


def test_a_field_declared_later_answers_409_until_reindexed() -> None:
    ports = in_memory_ports()
    old = _upload(ports, {"year": 2020})
    odd = _upload(ports, {"year": "twenty"})  # before the declaration: any type was fine
    fields = IndexedFields({"year": "number"})
    repository = ports.documents
    assert isinstance(repository, InMemoryDocumentRepository)
    repository.redeclare(fields)  # a deployment that declares the field
    declared = attrs.evolve(ports, settings=Settings(indexed_fields=fields))
    new = _upload(declared, {"year": 2021})  # writes index at once

    with pytest.raises(ConflictError, match="reindex"):
        documents.list_documents(declared, EDITOR, filters={"meta.year.min": "2000"})
    report = reindex(declared, batch_size=1)

    assert report.documents == 3
    assert report.unindexed == ((odd, "year"),)
    page = documents.list_documents(declared, EDITOR, filters={"meta.year.min": "2000"})
    assert [view.document.id.value for view in page.items] == [old, new]


def test_a_field_declared_on_an_empty_table_is_ready_at_once() -> None:
    ports = in_memory_ports(settings=Settings(indexed_fields=IndexedFields({"year": "number"})))
    doc = _upload(ports, {"year": 1})
    page = documents.list_documents(ports, EDITOR, filters={"meta.year": "1"})
    assert [view.document.id.value for view in page.items] == [doc]
