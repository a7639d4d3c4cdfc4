"""Contract: every DocumentRepository (in-memory fake and DynamoDB on moto) behaves the same."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.cursor import encode_cursor
from adapters.dynamodb import DynamoDocumentRepository
from adapters.memory import InMemoryDocumentRepository
from kumocms.errors import (
    AlreadyExistsError,
    DocumentNotFoundError,
    InvalidCursorError,
    VersionConflictError,
)
from kumocms.ids import DocumentId
from kumocms.model import Document
from kumocms.ports import DocumentRepository
from kumocms.states import ArchiveState
from tests.support.documents import (
    DOCUMENTS_TABLE,
    T0,
    bump,
    document_id,
    empty_table,
    make_document,
    moto_tables,
)


@pytest.fixture(params=["memory", "dynamodb"])
def repo(request: pytest.FixtureRequest) -> Iterator[DocumentRepository]:
    if request.param == "memory":
        yield InMemoryDocumentRepository()
        return
    with moto_tables() as client:
        dynamo = DynamoDocumentRepository(client, DOCUMENTS_TABLE, shards=4)
        yield dynamo
        dynamo.close()


def ids(documents: Any) -> list[str]:
    return [d.id.value for d in documents]


def all_pages(
    repo: DocumentRepository, *, limit: int, state: ArchiveState | None = None
) -> list[list[Document]]:
    pages: list[list[Document]] = []
    cursor = None
    while True:
        page = repo.list(limit=limit, cursor=cursor, state=state)
        pages.append(list(page.items))
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 50


# ---- single documents ------------------------------------------------------------------------


def test_get_missing_document(repo: DocumentRepository) -> None:
    with pytest.raises(DocumentNotFoundError):
        repo.get(document_id(1))


def test_add_then_get_returns_an_equal_document(repo: DocumentRepository) -> None:
    metadata = {
        "tenth": Decimal("0.1"),
        "tiny": Decimal("1E-7"),
        "big": 12345678901234567890,
        "huge": 10**125,
        "half": -0.5,
        "nested": {"list": [1, "two", None, True, False, {}, []], "ключ": "значение"},
        "empty": {},
        "none": None,
    }
    document = make_document(1, state=ArchiveState.PENDING, metadata=metadata)
    repo.add(document)
    stored = repo.get(document.id)
    assert stored == document
    assert stored.metadata["huge"] == 10**125
    assert stored.metadata["tenth"] == Decimal("0.1")


def test_deeply_nested_metadata_round_trips(repo: DocumentRepository) -> None:
    value: object = "leaf"
    for depth in range(15):
        value = {f"level{depth}": value} if depth % 2 else [value]
    document = make_document(1, metadata={"deep": value})
    repo.add(document)
    assert repo.get(document.id) == document


def test_add_twice_is_refused(repo: DocumentRepository) -> None:
    document = make_document(1)
    repo.add(document)
    with pytest.raises(AlreadyExistsError):
        repo.add(bump(document))
    assert repo.get(document.id) == document


def test_save_with_the_current_version(repo: DocumentRepository) -> None:
    document = make_document(1, state=ArchiveState.PENDING)
    repo.add(document)
    active = bump(document, state=ArchiveState.ACTIVE, pending=None, revision=1)
    repo.save(active, expected_version=1)
    assert repo.get(document.id) == active


def test_save_with_a_stale_version_reports_the_actual_one(repo: DocumentRepository) -> None:
    document = make_document(1)
    repo.add(document)
    second = bump(document, file_name="second.txt")
    repo.save(second, expected_version=1)
    with pytest.raises(VersionConflictError) as caught:
        repo.save(bump(document, file_name="lost.txt"), expected_version=1)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert repo.get(document.id) == second


def test_a_write_repeated_after_it_landed_changes_nothing(repo: DocumentRepository) -> None:
    # botocore repeats a write whose answer was lost; the repeat must not look like a conflict.
    document = make_document(1)
    repo.add(document)
    repo.add(document)
    second = bump(document, file_name="second.txt")
    repo.save(second, expected_version=1)
    repo.save(second, expected_version=1)
    assert repo.get(document.id) == second


def test_save_of_a_missing_document(repo: DocumentRepository) -> None:
    with pytest.raises(DocumentNotFoundError):
        repo.save(bump(make_document(1)), expected_version=1)


def test_remove_with_the_current_version(repo: DocumentRepository) -> None:
    document = make_document(1)
    repo.add(document)
    repo.remove(document.id, expected_version=1)
    with pytest.raises(DocumentNotFoundError):
        repo.get(document.id)
    with pytest.raises(DocumentNotFoundError):
        repo.remove(document.id, expected_version=1)


def test_remove_with_a_stale_version(repo: DocumentRepository) -> None:
    document = make_document(1, version=3)
    repo.add(document)
    with pytest.raises(VersionConflictError) as caught:
        repo.remove(document.id, expected_version=2)
    assert (caught.value.expected, caught.value.actual) == (2, 3)
    assert repo.get(document.id) == document


def test_check_passes(repo: DocumentRepository) -> None:
    repo.check()


# ---- listings --------------------------------------------------------------------------------


def test_empty_listing(repo: DocumentRepository) -> None:
    page = repo.list(limit=10, cursor=None, state=None)
    assert page.items == ()
    assert page.next_cursor is None


def test_list_newest_first_across_pages(repo: DocumentRepository) -> None:
    for n in range(1, 12):
        repo.add(make_document(n))
    pages = all_pages(repo, limit=4)
    assert [len(page) for page in pages] == [4, 4, 3]
    assert [d.id for page in pages for d in page] == [document_id(n) for n in range(11, 0, -1)]


def test_last_full_page_has_no_cursor(repo: DocumentRepository) -> None:
    for n in range(1, 7):
        repo.add(make_document(n))
    pages = all_pages(repo, limit=3)
    assert [len(page) for page in pages] == [3, 3]
    single = repo.list(limit=6, cursor=None, state=None)
    assert len(single.items) == 6
    assert single.next_cursor is None


def test_list_with_a_state_filter(repo: DocumentRepository) -> None:
    states = [ArchiveState.ACTIVE, ArchiveState.ARCHIVED, ArchiveState.PENDING]
    for n in range(1, 16):
        repo.add(make_document(n, state=states[n % 3]))
    archived = all_pages(repo, limit=2, state=ArchiveState.ARCHIVED)
    assert [len(page) for page in archived] == [2, 2, 1]
    assert [d.id for page in archived for d in page] == [document_id(n) for n in (13, 10, 7, 4, 1)]
    assert all(d.state is ArchiveState.ARCHIVED for page in archived for d in page)
    everything = all_pages(repo, limit=100)
    assert len(everything) == 1
    assert len(everything[0]) == 15
    restoring = repo.list(limit=5, cursor=None, state=ArchiveState.RESTORING)
    assert (restoring.items, restoring.next_cursor) == ((), None)


def test_a_state_change_moves_the_document_between_listings(repo: DocumentRepository) -> None:
    document = make_document(1)
    repo.add(document)
    repo.save(bump(document, state=ArchiveState.ARCHIVED), expected_version=1)
    assert repo.list(limit=5, cursor=None, state=ArchiveState.ACTIVE).items == ()
    archived = repo.list(limit=5, cursor=None, state=ArchiveState.ARCHIVED)
    assert ids(archived.items) == [document.id.value]


def test_removed_documents_leave_the_listing(repo: DocumentRepository) -> None:
    for n in range(1, 4):
        repo.add(make_document(n))
    repo.remove(document_id(2), expected_version=1)
    assert ids(repo.list(limit=10, cursor=None, state=None).items) == [
        document_id(3).value,
        document_id(1).value,
    ]


def _tamper(cursor: str, **changes: object) -> str:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw.update(changes)
    text = json.dumps(raw).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage!",
        "e30",  # {}
        base64.urlsafe_b64encode(b"[1,2,3]").decode(),
        base64.urlsafe_b64encode(b'{"v":2,"a":"01JZ0000000000000000000000","s":"documents"}')
        .decode()
        .rstrip("="),
        "x" * 300,
    ],
)
def test_garbage_cursors_are_refused(repo: DocumentRepository, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        repo.list(limit=5, cursor=cursor, state=None)


def test_tampered_and_foreign_cursors_are_refused(repo: DocumentRepository) -> None:
    for n in range(1, 5):
        repo.add(make_document(n))
    cursor = repo.list(limit=2, cursor=None, state=None).next_cursor
    assert cursor is not None
    for changes in ({"a": "not-a-ulid"}, {"a": "81JZ0000000000000000000000"}, {"v": 0}):
        with pytest.raises(InvalidCursorError):
            repo.list(limit=2, cursor=_tamper(cursor, **changes), state=None)
    with pytest.raises(InvalidCursorError):  # rescoped by hand to another listing
        repo.list(limit=2, cursor=_tamper(cursor, s="documents:archived"), state=None)
    with pytest.raises(InvalidCursorError):
        repo.list(limit=2, cursor=cursor[:-3], state=None)
    with pytest.raises(InvalidCursorError):  # made for the unfiltered listing
        repo.list(limit=2, cursor=cursor, state=ArchiveState.ACTIVE)
    with pytest.raises(InvalidCursorError):  # a user listing's cursor
        repo.list(limit=2, cursor=encode_cursor(document_id(3), scope="users"), state=None)


# ---- reconciliation queries ------------------------------------------------------------------


def test_find_expired_uploads_oldest_deadline_first(repo: DocumentRepository) -> None:
    now = T0 + timedelta(days=1)
    repo.add(make_document(1, state=ArchiveState.PENDING, deadline=now - timedelta(hours=1)))
    repo.add(make_document(2, state=ArchiveState.PENDING, deadline=now - timedelta(hours=3)))
    repo.add(make_document(3, state=ArchiveState.PENDING, deadline=now + timedelta(seconds=1)))
    repo.add(make_document(4, state=ArchiveState.PENDING, deadline=now))
    # a replacement upload that never arrived is expired too
    repo.add(make_document(5, state=ArchiveState.ACTIVE, deadline=now - timedelta(hours=2)))
    repo.add(make_document(6, state=ArchiveState.ACTIVE))
    repo.add(make_document(7, state=ArchiveState.PENDING, deadline=now - timedelta(hours=1)))
    expired = repo.find_expired_uploads(now, limit=10)
    assert ids(expired) == [document_id(n).value for n in (2, 5, 1, 7, 4)]
    assert ids(repo.find_expired_uploads(now, limit=2)) == [document_id(n).value for n in (2, 5)]
    assert repo.find_expired_uploads(T0, limit=10) == []


def test_a_confirmed_upload_is_no_longer_expired(repo: DocumentRepository) -> None:
    now = T0 + timedelta(days=1)
    document = make_document(1, state=ArchiveState.PENDING, deadline=now - timedelta(hours=1))
    repo.add(document)
    confirmed = bump(document, state=ArchiveState.ACTIVE, pending=None, revision=1)
    repo.save(confirmed, expected_version=1)
    assert repo.find_expired_uploads(now, limit=10) == []


def test_find_in_state(repo: DocumentRepository) -> None:
    for n in range(1, 10):
        state = ArchiveState.RESTORING if n % 2 else ArchiveState.ARCHIVED
        repo.add(make_document(n, state=state))
    restoring = repo.find_in_state(ArchiveState.RESTORING, limit=10)
    assert ids(restoring) == [document_id(n).value for n in (1, 3, 5, 7, 9)]
    assert len(repo.find_in_state(ArchiveState.ARCHIVED, limit=3)) == 3
    assert repo.find_in_state(ArchiveState.RESTORED, limit=3) == []


# ---- the fake and DynamoDB agree on random operation sequences -------------------------------

_POOL = 6
_STATES = [ArchiveState.ACTIVE, ArchiveState.ARCHIVED, ArchiveState.RESTORING]

_operation = st.one_of(
    st.tuples(st.just("add"), st.integers(1, _POOL), st.sampled_from(_STATES)),
    st.tuples(st.just("save"), st.integers(1, _POOL), st.sampled_from(_STATES), st.booleans()),
    st.tuples(st.just("remove"), st.integers(1, _POOL), st.booleans()),
    st.tuples(st.just("get"), st.integers(1, _POOL)),
    st.tuples(
        st.just("list"), st.integers(1, 4), st.sampled_from([None, *_STATES]), st.integers(0, 3)
    ),
)


def _apply(repo: DocumentRepository, operation: tuple[Any, ...]) -> object:
    """Run one operation; return what can be observed (a value or the error and its data)."""
    try:
        return _run(repo, operation)
    except VersionConflictError as error:
        return ("conflict", error.expected, error.actual)
    except (DocumentNotFoundError, AlreadyExistsError) as error:
        return type(error).__name__


def _run(repo: DocumentRepository, operation: tuple[Any, ...]) -> object:
    kind, *args = operation
    if kind == "add":
        n, state = args
        repo.add(make_document(n, state=state))
        return "added"
    if kind in {"save", "remove"}:
        n = args[0]
        try:
            current = repo.get(document_id(n))
        except DocumentNotFoundError:
            current = make_document(n)
        expected = current.version if args[-1] else current.version + 1
        if kind == "save":
            repo.save(bump(current, state=args[1]), expected_version=expected)
        else:
            repo.remove(DocumentId(current.id.value), expected_version=expected)
        return kind
    if kind == "get":
        return repo.get(document_id(args[0]))
    limit, state, pages = args
    seen: list[list[str]] = []
    cursor = None
    for _ in range(pages + 1):
        page = repo.list(limit=limit, cursor=cursor, state=state)
        seen.append([f"{d.id.value}:{d.version}:{d.state.value}" for d in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen, cursor is None


def test_random_operation_sequences_agree() -> None:
    with moto_tables() as client:
        dynamo = DynamoDocumentRepository(client, DOCUMENTS_TABLE, shards=3)

        @settings(max_examples=25, deadline=None)
        @given(operations=st.lists(_operation, max_size=25))
        def run(operations: list[tuple[Any, ...]]) -> None:
            empty_table(client, DOCUMENTS_TABLE)
            fake = InMemoryDocumentRepository()
            for operation in operations:
                assert _apply(dynamo, operation) == _apply(fake, operation), operation

        try:
            run()
        finally:
            dynamo.close()
