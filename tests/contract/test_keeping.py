"""Contract: history, trash and retention in every DocumentRepository (fake and DynamoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import attrs
import pytest

from adapters.dynamodb import DynamoDocumentRepository
from adapters.memory import InMemoryDocumentRepository
from kumocms.errors import InvalidCursorError, VersionConflictError
from kumocms.history import HistoryEntry
from kumocms.ids import UserId
from kumocms.model import (
    Document,
    LegalHold,
    Revision,
    RevisionPolicy,
    TrashInfo,
)
from kumocms.ports import DocumentRepository
from kumocms.rules import metadata_to_plain
from kumocms.search import IndexedFields, parse_filter
from kumocms.states import StorageClass
from kumocms.users import Actor
from tests.support.documents import (
    DOCUMENTS_TABLE,
    HISTORY_TABLE,
    T0,
    bump,
    document_id,
    make_document,
    moto_tables,
)

POLICY = RevisionPolicy(max_revisions=2, keep_for=timedelta(days=1))
ALICE = Actor(user_id=UserId.parse("01J0000000000000000000A11C"), name="alice")
INGEST = Actor.of_system("ingest")
HOUR = timedelta(hours=1)


@pytest.fixture(params=["memory", "dynamodb"])
def repo(request: pytest.FixtureRequest) -> Iterator[DocumentRepository]:
    if request.param == "memory":
        yield InMemoryDocumentRepository(retention=POLICY)
        return
    with moto_tables() as client:
        dynamo = DynamoDocumentRepository(
            client, DOCUMENTS_TABLE, shards=3, history_table=HISTORY_TABLE, retention=POLICY
        )
        yield dynamo
        dynamo.close()


def entry(
    n: int, version: int, *, event: str = "metadata_updated", minutes: int = 0
) -> HistoryEntry:
    return HistoryEntry(
        document_id=document_id(n),
        event=event,
        at=T0 + timedelta(minutes=minutes),
        actor=ALICE if version % 2 else INGEST,
        version=version,
        details={"keys": ["a", "b"]},
    )


def revisions(document: Document, count: int) -> Document:
    made = tuple(
        Revision(
            number=i,
            key=i,
            version_id=f"v{i}",
            file_name="f",
            content_type="text/plain",
            size=10,
            sha256=None,
            storage_class=StorageClass.STANDARD,
            created_at=T0 + timedelta(hours=i),
            created_by=ALICE,
        )
        for i in range(1, count + 1)
    )
    return attrs.evolve(document, revisions=made, revision=count)


def trashed(document: Document, *, hours: int, held: bool = False) -> Document:
    info = TrashInfo(
        deleted_at=T0 + timedelta(hours=hours),
        deleted_by=ALICE,
        purge_after=T0 + timedelta(hours=hours + 24),
    )
    hold = LegalHold(reason="case", set_by=ALICE, set_at=T0) if held else None
    return bump(document, trash=info, legal_hold=hold)


# ---- history ---------------------------------------------------------------------------------


def test_history_is_written_with_the_change_and_read_newest_first(
    repo: DocumentRepository,
) -> None:
    document = make_document(1)
    repo.add(document, history=[entry(1, 1, event="uploaded")])
    second = bump(document)
    repo.save(second, expected_version=1, history=[entry(1, 2, minutes=1)])
    page = repo.history(document.id, now=T0, limit=10, cursor=None)
    assert [(e.event, e.version, e.actor) for e in page.items] == [
        ("metadata_updated", 2, INGEST),
        ("uploaded", 1, ALICE),
    ]
    assert metadata_to_plain(page.items[0].details) == {"keys": ["a", "b"]}
    assert page.next_cursor is None


def test_a_refused_change_writes_no_entry(repo: DocumentRepository) -> None:
    document = make_document(1)
    repo.add(document, history=[entry(1, 1)])
    with pytest.raises(VersionConflictError):
        repo.save(bump(bump(document)), expected_version=5, history=[entry(1, 3)])
    assert len(repo.history(document.id, now=T0, limit=10, cursor=None).items) == 1


def test_history_pages_with_a_cursor_bound_to_its_document(repo: DocumentRepository) -> None:
    document = make_document(1)
    repo.add(document, history=[entry(1, 1)])
    current = document
    for version in range(2, 8):
        after = bump(current)
        repo.save(
            after, expected_version=current.version, history=[entry(1, version, minutes=version)]
        )
        current = after
    seen: list[int] = []
    cursor = None
    while True:
        page = repo.history(document.id, now=T0, limit=3, cursor=cursor)
        seen += [e.version for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    first = repo.history(document.id, now=T0, limit=3, cursor=None)
    assert first.next_cursor is not None
    with pytest.raises(InvalidCursorError):
        repo.history(document_id(2), now=T0, limit=3, cursor=first.next_cursor)


def test_history_outlives_the_record_until_it_expires(repo: DocumentRepository) -> None:
    document = make_document(1)
    repo.add(document, history=[entry(1, 1)])
    expires = T0 + timedelta(days=400)
    gone = attrs.evolve(entry(1, 1, event="purged", minutes=5), expires_at=expires)
    repo.remove(document.id, expected_version=1, history=[gone])
    repo.expire_history(document.id, expires_at=expires)
    alive = repo.history(document.id, now=expires - HOUR, limit=10, cursor=None)
    assert [e.event for e in alive.items] == ["purged", "metadata_updated"]
    assert all(e.expires_at is not None for e in alive.items)
    assert repo.history(document.id, now=expires + HOUR, limit=10, cursor=None).items == ()


# ---- trash -----------------------------------------------------------------------------------


def test_an_empty_trash_is_an_empty_page(repo: DocumentRepository) -> None:
    repo.add(make_document(1))
    page = repo.list_trash(limit=10, cursor=None)
    assert (page.items, page.next_cursor) == ((), None)


def test_trashed_documents_leave_the_lists_for_the_trash(repo: DocumentRepository) -> None:
    for n in (1, 2, 3):
        repo.add(make_document(n))
    for n, hours in ((1, 5), (3, 2)):
        document = repo.get(document_id(n))
        repo.save(trashed(document, hours=hours), expected_version=document.version)
    listed = repo.list(limit=10, cursor=None, state=None)
    assert [d.id for d in listed.items] == [document_id(2)]
    first = repo.list_trash(limit=1, cursor=None)
    assert [d.id for d in first.items] == [document_id(1)]  # deleted last, listed first
    second = repo.list_trash(limit=1, cursor=first.next_cursor)
    assert [d.id for d in second.items] == [document_id(3)]
    assert second.next_cursor is None


def test_a_purge_under_way_leaves_the_trash_and_stays_due(repo: DocumentRepository) -> None:
    repo.add(make_document(1))
    document = trashed(repo.get(document_id(1)), hours=1)
    repo.save(document, expected_version=1)
    assert document.trash is not None
    purging = bump(document, trash=attrs.evolve(document.trash, purging=True))
    repo.save(purging, expected_version=document.version)
    assert repo.list_trash(limit=10, cursor=None).items == ()
    assert [d.id for d in repo.find_purgeable(T0 + timedelta(hours=1), limit=10)] == [document.id]


def test_the_trash_timer_finds_due_documents_and_skips_held_ones(
    repo: DocumentRepository,
) -> None:
    for n in (1, 2, 3):
        repo.add(make_document(n))
    for n, held in ((1, False), (2, True), (3, False)):
        document = repo.get(document_id(n))
        repo.save(trashed(document, hours=n, held=held), expected_version=document.version)
    due = repo.find_purgeable(T0 + timedelta(hours=26), limit=10)
    assert [d.id for d in due] == [document_id(1)]
    later = repo.find_purgeable(T0 + timedelta(hours=30), limit=10)
    assert [d.id for d in later] == [document_id(1), document_id(3)]


# ---- retention -------------------------------------------------------------------------------


def test_documents_with_prunable_revisions_are_found_when_they_become_due(
    repo: DocumentRepository,
) -> None:
    few = revisions(make_document(1), 2)  # within max_revisions: never due
    many = revisions(make_document(2), 4)  # revisions 1 and 2 beyond the newest two
    repo.add(few)
    repo.add(many)
    assert repo.find_prunable(T0 + timedelta(hours=24), limit=10) == []
    due = repo.find_prunable(T0 + timedelta(hours=25), limit=10)
    assert [d.id for d in due] == [many.id]
    assert POLICY.prunable(due[0], T0 + timedelta(hours=25)) == many.revisions[:1]
    held = bump(many, legal_hold=LegalHold(reason="case", set_by=ALICE, set_at=T0))
    repo.save(held, expected_version=many.version)
    assert repo.find_prunable(T0 + timedelta(days=30), limit=10) == []


@pytest.fixture(params=["memory", "dynamodb"])
def indexed(request: pytest.FixtureRequest) -> Iterator[DocumentRepository]:
    fields = IndexedFields({"team": "string"})
    if request.param == "memory":
        yield InMemoryDocumentRepository(fields)
        return
    with moto_tables() as client:
        dynamo = DynamoDocumentRepository(
            client, DOCUMENTS_TABLE, shards=3, history_table=HISTORY_TABLE, indexed_fields=fields
        )
        yield dynamo
        dynamo.close()


def test_trash_and_restore_keep_the_field_index_true(indexed: DocumentRepository) -> None:
    fields = IndexedFields({"team": "string"})
    query = parse_filter({"meta.team": "docs"}, fields)
    document = make_document(1, metadata={"team": "docs"})
    indexed.add(document)
    assert [d.id for d in indexed.search(query, limit=10, cursor=None).items] == [document.id]
    gone = trashed(document, hours=1)
    indexed.save(gone, expected_version=document.version)
    assert indexed.search(query, limit=10, cursor=None).items == ()
    back = bump(gone, trash=None)
    indexed.save(back, expected_version=gone.version)
    assert [d.id for d in indexed.search(query, limit=10, cursor=None).items] == [document.id]
