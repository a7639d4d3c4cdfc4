"""Contract: fields declared later become searchable through reindex, on the fake and DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from adapters.dynamodb import DynamoDocumentRepository
from adapters.memory import InMemoryDocumentRepository
from kumocms.ports import DocumentRepository
from kumocms.search import FieldType, IndexedFields, parse_filter
from tests.support.documents import DOCUMENTS_TABLE, make_document, moto_tables

FIELDS = IndexedFields({"year": "number"})
Redeploy = Callable[[IndexedFields], DocumentRepository]


@pytest.fixture(params=["memory", "dynamodb"])
def world(request: pytest.FixtureRequest) -> Iterator[tuple[DocumentRepository, Redeploy]]:
    """A repository without declared fields, and how to declare fields over the same table."""
    if request.param == "memory":
        fake = InMemoryDocumentRepository()

        def redeclare(fields: IndexedFields) -> DocumentRepository:
            fake.redeclare(fields)
            return fake

        yield fake, redeclare
        return
    with moto_tables() as client:
        made: list[DynamoDocumentRepository] = [
            DynamoDocumentRepository(client, DOCUMENTS_TABLE, shards=4)
        ]

        def redeploy(fields: IndexedFields) -> DocumentRepository:
            made.append(
                DynamoDocumentRepository(client, DOCUMENTS_TABLE, shards=4, indexed_fields=fields)
            )
            return made[-1]

        yield made[0], redeploy
        for repository in made:
            repository.close()


def _found(repo: DocumentRepository, **params: str) -> list[str]:
    page = repo.search(parse_filter(params, FIELDS), limit=100, cursor=None)
    return [d.id.value for d in page.items]


def test_a_field_declared_on_an_empty_table_is_ready_at_once(
    world: tuple[DocumentRepository, Redeploy],
) -> None:
    _, redeploy = world
    repo = redeploy(FIELDS)
    assert repo.index_ready("year", FieldType.NUMBER)
    repo.mark_ready(FIELDS)  # what the first upload does
    repo.add(make_document(1, metadata={"year": 2020}))
    assert repo.index_ready("year", FieldType.NUMBER)
    assert not repo.index_ready("year", FieldType.STRING)  # another type is another index
    assert _found(repo, **{"meta.year": "2020"}) == [make_document(1).id.value]


def test_documents_stored_before_the_declaration_are_indexed_by_reindex(
    world: tuple[DocumentRepository, Redeploy],
) -> None:
    before, redeploy = world
    stored = [make_document(n, metadata={"year": 2000 + n}) for n in range(1, 6)]
    odd = make_document(6, metadata={"year": "six"})
    for document in (*stored, odd):
        before.add(document)
    repo = redeploy(FIELDS)
    assert not repo.index_ready("year", FieldType.NUMBER)
    written_after = make_document(7, metadata={"year": Decimal(2003)})
    repo.add(written_after)  # writes keep the index current meanwhile

    documents = 0
    unindexed: list[tuple[str, str]] = []
    cursor = None
    for _ in range(50):
        batch = repo.reindex_batch(cursor=cursor, limit=2)
        documents += batch.documents
        unindexed += batch.unindexed
        cursor = batch.next_cursor
        if cursor is None:
            break
    repo.mark_ready(FIELDS)

    assert documents == 7
    assert unindexed == [(odd.id.value, "year")]
    assert repo.index_ready("year", FieldType.NUMBER)
    assert _found(repo, **{"meta.year.min": "2003"}) == [
        written_after.id.value,  # 2003 twice: newest first
        stored[2].id.value,
        stored[3].id.value,
        stored[4].id.value,
    ]
