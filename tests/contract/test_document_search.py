"""Contract: `search` (§10) on the fake and on DynamoDB (moto) answers like a brute-force filter.

Paging to the end returns exactly the documents `query.matches`, each once, in the §10 order
(newest first; with a range by that field ascending, then newest first), whatever `limit`.
Documents patched between pages never come back unless they still match, and every document
left alone comes back exactly once. DynamoDB's index entries follow every write, and a page
costs `shards` Queries and one BatchGetItem whatever the table holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ulid import ULID

from adapters.dynamodb import DynamoDocumentRepository
from adapters.memory import InMemoryDocumentRepository
from kumocms.ids import DocumentId, UserId
from kumocms.model import Document
from kumocms.ports import DocumentRepository
from kumocms.rules import normalize_metadata
from kumocms.search import (
    DocumentFilter,
    FieldRange,
    FieldType,
    IndexedFields,
    encode,
    index_entries,
    parse_instant,
    range_position,
)
from kumocms.states import ArchiveState
from tests.support.documents import DOCUMENTS_TABLE, T0, bump, empty_table, moto_tables

FIELDS = IndexedFields(
    {"amount": "number", "due": "date", "flag": "boolean", "tier": "string", "unused": "number"}
)
SHARDS = 3
OWNERS = [UserId(str(ULID.from_datetime(T0 - timedelta(days=n)))) for n in (1, 2)]
TYPES = ["text/plain", "application/pdf"]
STATES = [ArchiveState.ACTIVE, ArchiveState.ARCHIVED, ArchiveState.PENDING]

amounts = st.sampled_from([Decimal("-2.5"), Decimal("-1"), 0, Decimal("0.5"), 1, 3, 120])
dues = st.sampled_from(
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T01:00:00+01:00",  # the same instant as the line above
        "2026-01-02T12:30:00.250+02:00",
        "2025-12-31T23:59:59Z",
    ]
)
metadata = st.fixed_dictionaries(
    {},
    optional={
        "amount": st.one_of(amounts, st.just("not a number")),  # wrong type: not indexed
        "due": dues,
        "flag": st.booleans(),
        "tier": st.sampled_from(["gold", "silver"]),
        "other": st.integers(0, 3),
    },
)


def make(n: int, meta: dict[str, Any], *, state: ArchiveState, kind: str, owner: int) -> Document:
    """The n-th document; its id's time is within a second of its `created_at`, as in real use."""
    created = T0 + timedelta(seconds=n, milliseconds=(n * 137) % 1000)
    millis = int(created.timestamp() * 1000) + (n * 53) % 400
    raw = millis.to_bytes(6, "big") + n.to_bytes(10, "big")
    return Document(
        id=DocumentId.from_ulid(ULID.from_bytes(raw)),
        file_name=f"f{n}.txt",
        content_type=kind,
        size=1,
        sha256=None,
        metadata=normalize_metadata(meta),
        state=state,
        created_at=created,
        updated_at=created,
        owner=OWNERS[owner],
    )


corpus_entry = st.tuples(
    metadata, st.sampled_from(STATES), st.sampled_from(TYPES), st.integers(0, 1)
)
corpora = st.lists(corpus_entry, max_size=14).map(
    lambda entries: [
        make(n, meta, state=state, kind=kind, owner=owner)
        for n, (meta, state, kind, owner) in enumerate(entries)
    ]
)


@st.composite
def filters(draw: st.DrawFn) -> DocumentFilter:
    equals: dict[str, str] = {}
    if draw(st.booleans()):
        equals["tier"] = draw(st.sampled_from(["gold", "silver"]))
    if draw(st.booleans()):
        equals["flag"] = encode(FieldType.BOOLEAN, draw(st.booleans()))
    if draw(st.integers(0, 4)) == 0:
        equals["amount"] = encode(FieldType.NUMBER, Decimal(draw(amounts)))
    ranged = None
    choice = draw(st.sampled_from(["none", "amount", "due"]))
    if choice == "amount":
        low, high = draw(st.one_of(st.none(), amounts)), draw(st.one_of(st.none(), amounts))
        ranged = FieldRange(
            name="amount",
            low=None if low is None else encode(FieldType.NUMBER, Decimal(low)),
            high=None if high is None else encode(FieldType.NUMBER, Decimal(high)),
        )
    elif choice == "due":
        low, high = draw(st.one_of(st.none(), dues)), draw(st.one_of(st.none(), dues))
        ranged = FieldRange(
            name="due",
            low=None if low is None else _date(low),
            high=None if high is None else _date(high),
        )
    seconds = st.one_of(st.none(), st.integers(-1, 15))
    after, before = draw(seconds), draw(seconds)
    return DocumentFilter(
        equals=equals,
        range=ranged,
        state=draw(st.one_of(st.none(), st.sampled_from(STATES))),
        content_type=draw(st.one_of(st.none(), st.sampled_from(TYPES))),
        created_by=draw(st.one_of(st.none(), st.sampled_from(OWNERS))),
        created_after=None if after is None else T0 + timedelta(seconds=after, milliseconds=300),
        created_before=None if before is None else T0 + timedelta(seconds=before),
    )


def _date(text: str) -> str:
    instant = parse_instant(text)
    assert instant is not None
    return encode(FieldType.DATE, instant)


def expected(documents: list[Document], query: DocumentFilter) -> list[str]:
    """The brute-force answer in the §10 order."""
    found = [d for d in documents if query.matches(d, FIELDS)]
    if query.range is None:
        return [d.id.value for d in sorted(found, key=lambda d: d.id.value, reverse=True)]
    name = query.range.name
    found.sort(key=lambda d: range_position(index_entries(d, FIELDS)[name], d.id.value))
    return [d.id.value for d in found]


def pages(repo: DocumentRepository, query: DocumentFilter, limits: Iterator[int]) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(200):
        page = repo.search(query, limit=next(limits), cursor=cursor)
        seen.extend(d.id.value for d in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


@pytest.fixture
def dynamo() -> Iterator[tuple[Any, DynamoDocumentRepository]]:
    with moto_tables() as client:
        repo = DynamoDocumentRepository(
            client, DOCUMENTS_TABLE, shards=SHARDS, indexed_fields=FIELDS
        )
        yield client, repo
        repo.close()


def test_paging_to_the_end_equals_the_brute_force_answer(
    dynamo: tuple[Any, DynamoDocumentRepository],
) -> None:
    client, repo = dynamo

    @settings(max_examples=25, deadline=None)
    @given(documents=corpora, queries=st.lists(filters(), min_size=1, max_size=4), data=st.data())
    def run(documents: list[Document], queries: list[DocumentFilter], data: st.DataObject) -> None:
        empty_table(client, DOCUMENTS_TABLE)
        fake = InMemoryDocumentRepository(FIELDS)
        for document in documents:
            fake.add(document)
            repo.add(document)
        for query in queries:
            want = expected(documents, query)
            limits = iter(data.draw(st.lists(st.integers(1, 5), min_size=200, max_size=200)))
            assert pages(repo, query, limits) == want, query
            assert pages(fake, query, iter([3] * 200)) == want, query

    run()


def _patched(document: Document, meta: dict[str, Any]) -> Document:
    return bump(document, metadata=normalize_metadata(meta))


def test_patches_between_pages_never_return_a_non_match(
    dynamo: tuple[Any, DynamoDocumentRepository],
) -> None:
    client, repo = dynamo

    @settings(max_examples=25, deadline=None)
    @given(
        documents=corpora.filter(lambda d: len(d) >= 3),
        query=filters(),
        patches=st.lists(st.tuples(st.integers(0, 13), metadata), min_size=1, max_size=4),
        limit=st.integers(1, 4),
    )
    def run(
        documents: list[Document],
        query: DocumentFilter,
        patches: list[tuple[int, dict[str, Any]]],
        limit: int,
    ) -> None:
        empty_table(client, DOCUMENTS_TABLE)
        fake = InMemoryDocumentRepository(FIELDS)
        for document in documents:
            fake.add(document)
            repo.add(document)
        for backend in (repo, fake):
            current = {d.id: d for d in documents}
            touched: set[DocumentId] = set()
            seen: list[str] = []
            cursor = None
            remaining = list(patches)
            for _ in range(100):
                page = backend.search(query, limit=limit, cursor=cursor)
                for found in page.items:
                    assert found == current[found.id]
                    assert query.matches(found, FIELDS)
                seen.extend(d.id.value for d in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
                if remaining:
                    index, meta = remaining.pop()
                    old = list(current.values())[index % len(current)]
                    new = _patched(old, meta)
                    backend.save(new, expected_version=old.version)
                    current[new.id] = new
                    touched.add(new.id)
            assert cursor is None
            untouched = [
                d.id.value for d in documents if d.id not in touched and query.matches(d, FIELDS)
            ]
            counts = Counter(seen)
            for value in untouched:
                assert counts[value] == 1, value
            assert all(counts[d.id.value] <= 1 for d in documents if d.id not in touched)
        # The patched corpus still answers like the brute force from a fresh start.
        final = [repo.get(d.id) for d in documents]
        assert pages(repo, query, iter([2] * 200)) == expected(final, query)

    run()


# ---- index entries follow every write ------------------------------------------------------


def _entries(client: Any) -> set[str]:
    scan = client.scan(TableName=DOCUMENTS_TABLE)
    return {item["pk"]["S"] for item in scan["Items"] if item["pk"]["S"].startswith("IDX#")}


def test_entries_follow_saves_and_removes(dynamo: tuple[Any, DynamoDocumentRepository]) -> None:
    client, repo = dynamo
    doc = make(1, {"amount": 3, "tier": "gold"}, state=ArchiveState.ACTIVE, kind=TYPES[0], owner=0)
    repo.add(doc)
    assert _entries(client) == {f"IDX#{doc.id.value}#amount", f"IDX#{doc.id.value}#tier"}
    gold = DocumentFilter(equals={"tier": "gold"})
    assert [d.id for d in repo.search(gold, limit=10, cursor=None).items] == [doc.id]

    saved = _patched(doc, {"amount": 3})  # tier removed
    repo.save(saved, expected_version=doc.version)
    assert _entries(client) == {f"IDX#{doc.id.value}#amount"}
    assert repo.search(gold, limit=10, cursor=None).items == ()
    three = DocumentFilter(range=FieldRange(name="amount", low=encode_n(3), high=encode_n(3)))
    assert repo.search(three, limit=10, cursor=None).items == (saved,)

    repo.remove(saved.id, expected_version=saved.version)
    assert _entries(client) == set()
    assert repo.search(three, limit=10, cursor=None).items == ()


def encode_n(value: int) -> str:
    return encode(FieldType.NUMBER, Decimal(value))


def test_failed_writes_change_no_entry_and_keep_their_errors(
    dynamo: tuple[Any, DynamoDocumentRepository],
) -> None:
    from kumocms.errors import AlreadyExistsError, DocumentNotFoundError, VersionConflictError

    client, repo = dynamo
    doc = make(1, {"tier": "gold"}, state=ArchiveState.ACTIVE, kind=TYPES[0], owner=0)
    repo.add(doc)
    repo.add(doc)  # a retry of the same write is a success
    with pytest.raises(AlreadyExistsError):
        repo.add(attrs.evolve(doc, metadata={"tier": "silver"}))
    with pytest.raises(VersionConflictError):
        repo.save(_patched(doc, {"tier": "silver"}), expected_version=doc.version + 5)
    with pytest.raises(VersionConflictError):
        repo.remove(doc.id, expected_version=doc.version + 5)
    missing = make(2, {"tier": "gold"}, state=ArchiveState.ACTIVE, kind=TYPES[0], owner=0)
    with pytest.raises(DocumentNotFoundError):
        repo.save(bump(missing), expected_version=missing.version)
    with pytest.raises(DocumentNotFoundError):
        repo.remove(missing.id, expected_version=missing.version)
    assert _entries(client) == {f"IDX#{doc.id.value}#tier"}
    saved = _patched(doc, {"tier": "silver"})
    repo.save(saved, expected_version=doc.version)
    repo.save(saved, expected_version=doc.version)  # the retry after a lost answer
    assert repo.get(doc.id) == saved


# ---- cost ---------------------------------------------------------------------------------


def test_a_page_costs_shards_queries_and_one_batch_get_whatever_the_size() -> None:
    with moto_tables() as client:
        repo = DynamoDocumentRepository(client, DOCUMENTS_TABLE, shards=4, indexed_fields=FIELDS)
        calls: Counter[str] = Counter()

        def count(model: Any, **_: Any) -> None:
            calls[model.name] += 1

        client.meta.events.register("before-call.dynamodb", count)
        queries = [
            DocumentFilter(equals={"flag": "true"}),
            DocumentFilter(range=FieldRange(name="amount", low=encode_n(10))),
            DocumentFilter(equals={"flag": "true"}, content_type="application/pdf"),
            DocumentFilter(state=ArchiveState.ACTIVE, created_by=OWNERS[1]),
        ]
        costs: list[list[tuple[int, int]]] = []
        added = 0
        for size in (40, 400):
            while added < size:
                repo.add(
                    make(
                        added,
                        {"flag": True, "amount": added},
                        state=ArchiveState.ACTIVE,
                        kind=TYPES[added % 2],
                        owner=added % 2,
                    )
                )
                added += 1
            row = []
            for query in queries:
                calls.clear()
                page = repo.search(query, limit=10, cursor=None)
                assert page.next_cursor is not None
                calls.clear()
                repo.search(query, limit=10, cursor=page.next_cursor)
                row.append((calls["Query"], calls["BatchGetItem"]))
            costs.append(row)
        repo.close()
        assert costs[0] == costs[1] == [(4, 1)] * len(queries)


def test_an_empty_interval_costs_nothing(dynamo: tuple[Any, DynamoDocumentRepository]) -> None:
    _, repo = dynamo
    query = DocumentFilter(
        created_after=datetime(2027, 1, 1, tzinfo=UTC),
        created_before=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert repo.search(query, limit=5, cursor=None).items == ()
