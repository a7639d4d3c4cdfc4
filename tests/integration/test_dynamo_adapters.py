"""Integration: the DynamoDB and EventBridge adapters on moto and botocore's Stubber.

Pins what the contract tests cannot see: stored item shapes, exact numbers, how conditional
writes fail, how many requests each operation costs, and how PutEvents failures are handled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given, reject
from hypothesis import strategies as st

from adapters._dynamo_items import document_from_item, document_to_item
from adapters.dynamodb import (
    DynamoDocumentRepository,
    DynamoIdempotencyStore,
    DynamoUserRepository,
    documents_table_spec,
    users_table_spec,
)
from adapters.eventbridge import EventBridgeEventBus
from adapters.memory import ManualClock
from kumocms import events as ev
from kumocms.errors import (
    DependencyError,
    DocumentNotFoundError,
    InvalidMetadataError,
    LastAdminError,
    VersionConflictError,
)
from kumocms.model import Document, RestoreInfo
from kumocms.ports import IdempotencyClaim
from kumocms.states import ArchiveState, RestoreTier
from kumocms.users import Role, hash_api_key
from tests.support.aws import RequestCounter, aws_client
from tests.support.documents import (
    DOCUMENTS_TABLE,
    T0,
    USERS_TABLE,
    api_key,
    bump,
    document_id,
    make_document,
    make_user,
    moto_tables,
    user_id,
)

DAY = timedelta(days=1)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with moto_tables() as client:
        yield client


@pytest.fixture
def counter(dynamodb: Any) -> RequestCounter:
    return RequestCounter().attach(dynamodb)


@pytest.fixture
def repo(dynamodb: Any) -> Iterator[DynamoDocumentRepository]:
    repository = DynamoDocumentRepository(dynamodb, DOCUMENTS_TABLE)
    yield repository
    repository.close()


def raw(client: Any, table: str, pk: str) -> dict[str, Any]:
    item: dict[str, Any] = client.get_item(TableName=table, Key={"pk": {"S": pk}}).get("Item")
    assert item is not None, pk
    return item


def seed(client: Any, documents: list[Document], *, shards: int) -> None:
    """Write many documents quickly (BatchWriteItem) with the adapter's own item shape."""
    for start in range(0, len(documents), 25):
        requests = [
            {"PutRequest": {"Item": document_to_item(d, shards=shards)}}
            for d in documents[start : start + 25]
        ]
        client.batch_write_item(RequestItems={DOCUMENTS_TABLE: requests})


def shard(text: str, shards: int = 16) -> str:
    return f"{int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % shards:02d}"


# ---- table specs -----------------------------------------------------------------------------


def test_table_specs_describe_the_designed_keys_and_indexes(dynamodb: Any) -> None:
    documents = dynamodb.describe_table(TableName=DOCUMENTS_TABLE)["Table"]
    assert documents["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    indexes = {
        index["IndexName"]: (
            [key["AttributeName"] for key in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in documents["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "by_created": (["list_pk", "sk"], "ALL"),
        "by_state": (["state_pk", "sk"], "ALL"),
        "by_pending_deadline": (["pending_pk", "pending_sk"], "ALL"),
        "by_field_value": (["fv_pk", "sk"], "KEYS_ONLY"),
        "by_field_range": (["fr_pk", "fr_sk"], "KEYS_ONLY"),
        "by_trash": (["trash_pk", "trash_sk"], "ALL"),
        "by_prune": (["prune_pk", "prune_sk"], "KEYS_ONLY"),
    }
    users = users_table_spec("x")
    assert [i["IndexName"] for i in users["GlobalSecondaryIndexes"]] == ["by_kind"]
    assert documents_table_spec("x")["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=DOCUMENTS_TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


# ---- item shapes -----------------------------------------------------------------------------


def test_pending_document_item_shape(dynamodb: Any, repo: DynamoDocumentRepository) -> None:
    deadline = T0 + DAY
    document = make_document(1, state=ArchiveState.PENDING, deadline=deadline)
    repo.add(document)
    ulid = document.id.value
    item = raw(dynamodb, DOCUMENTS_TABLE, f"DOC#{ulid}")
    nn = shard(ulid)
    assert item["pk"] == {"S": f"DOC#{ulid}"}
    assert item["sk"] == {"S": ulid}
    assert item["list_pk"] == {"S": f"ALL#{nn}"}
    assert item["state_pk"] == {"S": f"pending#{nn}"}
    assert item["pending_pk"] == {"S": f"PENDING#{nn}"}
    assert item["pending_sk"] == {"S": f"2026-01-02T00:00:00.000000Z#{ulid}"}
    assert item["version"] == {"N": "1"}
    assert item["expires_at"] == {"N": str(int((deadline + 7 * DAY).timestamp()))}
    assert item["state"] == {"S": "pending"}
    assert item["storage_class"] == {"S": "STANDARD"}
    assert item["created_at"] == {"S": "2026-01-01T00:00:01.000000Z"}
    assert item["sha256"] == {"NULL": True}
    assert item["metadata"] == {"M": {"n": {"N": "1"}}}
    pending = item["pending"]["M"]
    assert pending["mode"] == {"S": "put"}
    assert pending["expires_at"] == {"S": "2026-01-02T00:00:00.000000Z"}
    assert pending["declared"]["M"]["size"] == {"N": "10"}


def test_confirmed_document_drops_pending_keys_and_ttl(
    dynamodb: Any, repo: DynamoDocumentRepository
) -> None:
    document = make_document(1, state=ArchiveState.PENDING)
    repo.add(document)
    repo.save(
        bump(document, state=ArchiveState.ACTIVE, pending=None, revision=1), expected_version=1
    )
    item = raw(dynamodb, DOCUMENTS_TABLE, f"DOC#{document.id.value}")
    assert item["state_pk"] == {"S": f"active#{shard(document.id.value)}"}
    assert item["version"] == {"N": "2"}
    assert not {"pending_pk", "pending_sk", "expires_at"} & item.keys()
    replacing = make_document(2, state=ArchiveState.ACTIVE, deadline=T0 + DAY)
    repo.add(replacing)
    item = raw(dynamodb, DOCUMENTS_TABLE, f"DOC#{replacing.id.value}")
    assert "pending_pk" in item  # a pending replacement can expire too ...
    assert "expires_at" not in item  # ... but an active document never goes away by TTL


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (Decimal("0.1"), Decimal("0.1")),
        (Decimal("1e-7"), Decimal("1E-7")),
        (12345678901234567890, Decimal(12345678901234567890)),
        (Decimal("1E+125"), Decimal("1E+125")),
        (10**125, Decimal("1E+125")),
        (-0.5, Decimal("-0.5")),
        (9 * 10**37 + 1, Decimal(9 * 10**37 + 1)),  # 38 significant digits
    ],
)
def test_metadata_numbers_are_stored_exactly(
    dynamodb: Any, repo: DynamoDocumentRepository, given: Any, stored: Decimal
) -> None:
    document = make_document(1, metadata={"x": given, "list": [given], "map": {"y": given}})
    repo.add(document)
    item = raw(dynamodb, DOCUMENTS_TABLE, f"DOC#{document.id.value}")
    metadata = item["metadata"]["M"]
    assert Decimal(metadata["x"]["N"]) == stored
    assert Decimal(metadata["list"]["L"][0]["N"]) == stored
    assert Decimal(metadata["map"]["M"]["y"]["N"]) == stored
    back = repo.get(document.id)
    assert back == document
    assert back.metadata["x"] == given
    assert type(back.metadata["x"]) is type(document.metadata["x"])


def test_numbers_dynamodb_writes_out_in_full_are_read_exactly() -> None:
    # Real DynamoDB answers 1E+125 as 126 written-out digits (moto echoes what it was sent).
    client = aws_client("dynamodb")
    repo = DynamoDocumentRepository(client, DOCUMENTS_TABLE)
    document = make_document(1, metadata={"huge": 10**125, "tiny": Decimal("1E-130")})
    item = document_to_item(document, shards=16)
    item["metadata"]["M"]["huge"] = {"N": "1" + "0" * 125}
    item["metadata"]["M"]["tiny"] = {"N": "0." + "0" * 129 + "1"}
    with Stubber(client) as stub:
        stub.add_response("get_item", {"Item": item})
        assert repo.get(document.id) == document


_numbers = st.one_of(
    st.integers(-(10**38) + 1, 10**38 - 1),
    st.builds(lambda k, n: k * 10**n, st.integers(-99, 99), st.integers(0, 123)),
    st.builds(
        lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
        st.integers(-(10**38) + 1, 10**38 - 1),
        st.integers(-130, 87),
    ),
)
_json = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8) | _numbers,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
_moments = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - Hypothesis bounds are naive
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(
    metadata=st.dictionaries(st.text(min_size=1, max_size=6), _json, max_size=5),
    state=st.sampled_from(ArchiveState),
    deadline=st.none() | _moments,
    moment=_moments,
    version=st.integers(1, 10**6),
)
def test_any_document_round_trips_through_its_item(
    metadata: dict[str, Any],
    state: ArchiveState,
    deadline: datetime | None,
    moment: datetime,
    version: int,
) -> None:
    try:
        document = make_document(1, state=state, metadata=metadata, deadline=deadline)
    except InvalidMetadataError:
        reject()
    document = attrs.evolve(
        document,
        version=version,
        updated_at=moment,
        restore=RestoreInfo(
            tier=RestoreTier.BULK, days=3, permanent=True, requested_at=moment, ready_at=moment
        ),
        owner=user_id(7),
        sequencer="0055AED6DCD90281E5",
    )
    item = document_to_item(document, shards=16)
    assert document_from_item(item) == document


def test_user_key_and_counter_item_shapes(dynamodb: Any) -> None:
    users = DynamoUserRepository(dynamodb, USERS_TABLE)
    admin = make_user(1, role=Role.ADMIN)
    users.add(admin)
    ulid = admin.id.value
    item = raw(dynamodb, USERS_TABLE, f"USER#{ulid}")
    assert item["kind"] == {"S": "USER"}
    assert item["sk"] == {"S": ulid}
    assert item["role"] == {"S": "admin"}
    assert item["disabled"] == {"BOOL": False}
    assert item["key_hash"] == {"S": admin.key_hash}
    assert item["version"] == {"N": "1"}
    key = raw(dynamodb, USERS_TABLE, f"KEY#{admin.key_hash}")
    assert key["user_id"] == {"S": ulid}
    assert {k: key[k] for k in ("name", "role", "disabled", "version")} == {
        k: item[k] for k in ("name", "role", "disabled", "version")
    }
    assert "kind" not in key  # never listed as a user
    assert raw(dynamodb, USERS_TABLE, "META#ADMINS")["enabled_admins"] == {"N": "1"}


def test_idempotency_record_shape(dynamodb: Any) -> None:
    store = DynamoIdempotencyStore(dynamodb, DOCUMENTS_TABLE, clock=ManualClock(T0))
    store.claim("abc", fingerprint="fp", owner="request-1", expires_at=T0 + DAY)
    item = raw(dynamodb, DOCUMENTS_TABLE, "IDEM#abc")
    assert item["fingerprint"] == {"S": "fp"}
    assert item["owner"] == {"S": "request-1"}
    assert item["expires_at"] == {"N": str(int((T0 + DAY).timestamp()))}
    assert "outcome" not in item
    store.complete("abc", fingerprint="fp", outcome='{"status":201}', expires_at=T0 + DAY)
    item = raw(dynamodb, DOCUMENTS_TABLE, "IDEM#abc")
    assert item["outcome"] == {"S": '{"status":201}'}
    assert item["fingerprint"] == {"S": "fp"}


# ---- conditional writes ----------------------------------------------------------------------


def test_a_conflicting_save_needs_no_extra_read(
    dynamodb: Any, repo: DynamoDocumentRepository, counter: RequestCounter
) -> None:
    document = make_document(1, version=4)
    repo.add(document)
    with counter.measure(), pytest.raises(VersionConflictError) as caught:
        repo.save(bump(document), expected_version=3)
    assert counter.log == ["PutItem"]
    assert caught.value.actual == 4
    with counter.measure(), pytest.raises(DocumentNotFoundError):
        repo.remove(document_id(2), expected_version=1)
    assert counter.log == ["DeleteItem"]
    assert raw(dynamodb, DOCUMENTS_TABLE, f"DOC#{document.id.value}")["version"] == {"N": "4"}


def test_a_refused_user_transaction_changes_nothing(dynamodb: Any) -> None:
    users = DynamoUserRepository(dynamodb, USERS_TABLE)
    admin = make_user(1, role=Role.ADMIN)
    users.add(admin)
    rotated = admin.with_key(hash_api_key(api_key(1, 1)), T0).change(
        role=Role.READER, disabled=None, now=T0
    )
    with pytest.raises(LastAdminError):
        users.save(rotated, previous=admin)
    assert users.find_by_key_hash(admin.key_hash) == admin
    assert users.find_by_key_hash(rotated.key_hash) is None
    assert raw(dynamodb, USERS_TABLE, "META#ADMINS")["enabled_admins"] == {"N": "1"}


def test_a_transaction_conflict_is_a_version_conflict() -> None:
    client = aws_client("dynamodb")
    users = DynamoUserRepository(client, USERS_TABLE)
    user = make_user(1)
    with Stubber(client) as stub:
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            http_status_code=400,
            modeled_fields={
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]
            },
        )
        with pytest.raises(VersionConflictError) as caught:
            users.save(user.change(role=Role.READER, disabled=None, now=T0), previous=user)
    assert (caught.value.expected, caught.value.actual) == (1, None)


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "InternalServerError"])
def test_dynamodb_failures_become_dependency_errors(code: str) -> None:
    client = aws_client("dynamodb")
    repo = DynamoDocumentRepository(client, DOCUMENTS_TABLE)
    with Stubber(client) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        stub.add_client_error("put_item", service_error_code=code, http_status_code=400)
        with pytest.raises(DependencyError) as caught:
            repo.get(document_id(1))
        assert DOCUMENTS_TABLE not in str(caught.value)
        with pytest.raises(DependencyError):
            repo.save(make_document(1), expected_version=1)


def test_check_fails_without_a_table(dynamodb: Any, repo: DynamoDocumentRepository) -> None:
    repo.check()
    missing = DynamoDocumentRepository(dynamodb, "no-such-table")
    with pytest.raises(DependencyError):
        missing.check()
    with pytest.raises(DependencyError):
        missing.list(limit=5, cursor=None, state=None)
    missing.close()


# ---- request counts --------------------------------------------------------------------------


def test_single_document_operations_cost_one_request(
    repo: DynamoDocumentRepository, counter: RequestCounter
) -> None:
    document = make_document(1)
    with counter.measure():
        repo.add(document)
    assert counter.log == ["PutItem"]
    with counter.measure():
        repo.get(document.id)
    assert counter.log == ["GetItem"]
    with counter.measure():
        repo.save(bump(document), expected_version=1)
    assert counter.log == ["PutItem"]
    with counter.measure():
        repo.remove(document.id, expected_version=2)
    assert counter.log == ["DeleteItem"]
    with counter.measure():
        repo.check()
    assert counter.log == ["GetItem"]


def test_a_list_page_costs_one_query_per_shard(
    dynamodb: Any, repo: DynamoDocumentRepository, counter: RequestCounter
) -> None:
    seed(dynamodb, [make_document(n) for n in range(1, 41)], shards=16)
    with counter.measure():
        page = repo.list(limit=25, cursor=None, state=None)
    assert counter.calls == {"Query": 16}
    with counter.measure():
        repo.list(limit=25, cursor=page.next_cursor, state=None)
    assert counter.calls == {"Query": 16}
    with counter.measure():
        repo.list(limit=25, cursor=None, state=ArchiveState.ACTIVE)
    assert counter.calls == {"Query": 16}
    with counter.measure():
        repo.find_expired_uploads(T0, limit=10)
    assert counter.calls == {"Query": 16}


def test_a_list_page_costs_the_same_however_big_the_table(dynamodb: Any) -> None:
    repo = DynamoDocumentRepository(dynamodb, DOCUMENTS_TABLE, shards=4)
    counter = RequestCounter().attach(dynamodb)
    costs = []
    for size in (30, 300):
        existing = 0 if size == 30 else 30
        seed(dynamodb, [make_document(n) for n in range(existing + 1, size + 1)], shards=4)
        with counter.measure():
            first = repo.list(limit=20, cursor=None, state=None)
            repo.list(limit=20, cursor=first.next_cursor, state=None)
        costs.append(dict(counter.calls))
        assert [d.id for d in first.items] == [document_id(n) for n in range(size, size - 20, -1)]
    repo.close()
    assert costs == [{"Query": 8}, {"Query": 8}]


def test_large_items_page_through_the_1mb_limit(dynamodb: Any) -> None:
    repo = DynamoDocumentRepository(dynamodb, DOCUMENTS_TABLE, shards=1)
    for n in range(1, 23):
        repo.add(make_document(n, metadata={"blob": "x" * 60_000}))
    counter = RequestCounter().attach(dynamodb)
    with counter.measure():
        page = repo.list(limit=20, cursor=None, state=None)
    assert [d.id for d in page.items] == [document_id(n) for n in range(22, 2, -1)]
    assert page.next_cursor is not None
    assert counter.calls["Query"] == 2  # 21 items of 60 KB do not fit in one 1 MB answer
    rest = repo.list(limit=20, cursor=page.next_cursor, state=None)
    assert [d.id for d in rest.items] == [document_id(2), document_id(1)]


def test_user_operations_cost_one_request(dynamodb: Any, counter: RequestCounter) -> None:
    users = DynamoUserRepository(dynamodb, USERS_TABLE)
    admin = make_user(1, role=Role.ADMIN)
    with counter.measure():
        users.add(admin)
    assert counter.log == ["TransactWriteItems"]
    with counter.measure():
        assert users.find_by_key_hash(hash_api_key(api_key(1))) == admin
    assert counter.log == ["GetItem"]
    with counter.measure():
        assert users.count_enabled_admins() == 1
    assert counter.log == ["GetItem"]
    with counter.measure(), pytest.raises(LastAdminError):
        users.remove(admin)
    assert counter.log == ["TransactWriteItems"]
    with counter.measure():
        users.list(limit=10, cursor=None)
    assert counter.log == ["Query"]


def test_idempotency_claims_cost_one_request(dynamodb: Any, counter: RequestCounter) -> None:
    store = DynamoIdempotencyStore(dynamodb, DOCUMENTS_TABLE, clock=ManualClock(T0))
    with counter.measure():
        assert (
            store.claim("s", fingerprint="a", owner="r1", expires_at=T0 + DAY)
            is IdempotencyClaim.CLAIMED
        )
        assert (
            store.claim("s", fingerprint="b", owner="r2", expires_at=T0 + DAY)
            is IdempotencyClaim.REUSED
        )
    assert counter.log == ["PutItem", "PutItem"]


def test_publishing_25_events_takes_3_requests() -> None:
    from moto import mock_aws

    with mock_aws():
        client = aws_client("events")
        client.create_event_bus(Name="kumocms")
        counter = RequestCounter().attach(client)
        bus = EventBridgeEventBus(client, "kumocms")
        events = [
            ev.DocumentDeleted(occurred_at=T0, document_id=document_id(n), version=1)
            for n in range(25)
        ]
        with counter.measure():
            bus.publish(events)
        assert counter.calls == {"PutEvents": 3}
        with counter.measure():
            bus.publish([])
        assert counter.total == 0
        rejected = [
            ev.DocumentUploadRejected(
                occurred_at=T0, document_id=document_id(n), version=1, reason="r" * 60_000
            )
            for n in range(5)
        ]
        with counter.measure():
            bus.publish(rejected)  # 5 x 60 KB does not fit in one 256 KB request
        assert counter.calls == {"PutEvents": 2}


# ---- PutEvents failures ----------------------------------------------------------------------


def _entry(event: ev.DomainEvent) -> dict[str, Any]:
    return {
        "Source": "kumocms",
        "DetailType": event.name,
        "Detail": ANY,
        "Time": event.occurred_at,
        "EventBusName": "kumocms",
    }


def _two_events() -> list[ev.DomainEvent]:
    return [
        ev.DocumentDeleted(occurred_at=T0, document_id=document_id(1), version=1),
        ev.DocumentArchived(
            occurred_at=T0, document_id=document_id(2), version=3, storage_class="GLACIER"
        ),
    ]


FAILED = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}


def test_only_failed_entries_are_sent_again() -> None:
    client = aws_client("events")
    events = _two_events()
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"EventId": "1"}, FAILED]},
            {"Entries": [_entry(events[0]), _entry(events[1])]},
        )
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "2"}]},
            {"Entries": [_entry(events[1])]},
        )
        EventBridgeEventBus(client, "kumocms").publish(events)
        stub.assert_no_pending_responses()


def test_entries_that_keep_failing_raise_after_the_bound() -> None:
    client = aws_client("events")
    events = _two_events()
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [FAILED, {"EventId": "2"}]},
            {"Entries": [_entry(events[0]), _entry(events[1])]},
        )
        for _ in range(2):
            stub.add_response(
                "put_events",
                {"FailedEntryCount": 1, "Entries": [FAILED]},
                {"Entries": [_entry(events[0])]},
            )
        with pytest.raises(DependencyError, match="1 of 2"):
            EventBridgeEventBus(client, "kumocms").publish(events)
        stub.assert_no_pending_responses()


def test_throttling_becomes_a_dependency_error() -> None:
    client = aws_client("events")
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_events", service_error_code="ThrottlingException", http_status_code=400
        )
        with pytest.raises(DependencyError, match="throttled"):
            EventBridgeEventBus(client, "kumocms").publish(_two_events())
        stub.assert_no_pending_responses()
