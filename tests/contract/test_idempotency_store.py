"""Contract: every IdempotencyStore (in-memory fake and DynamoDB on moto) behaves the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from adapters.dynamodb import DynamoIdempotencyStore
from adapters.memory import InMemoryIdempotencyStore, ManualClock
from kumocms.ports import IdempotencyClaim, IdempotencyStore, Remembered
from tests.support.documents import DOCUMENTS_TABLE, T0, moto_tables

SCOPE = "3b1f0c5e" * 8
DAY = timedelta(hours=24)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[IdempotencyStore]:
    if request.param == "memory":
        yield InMemoryIdempotencyStore(clock)
        return
    with moto_tables() as client:
        yield DynamoIdempotencyStore(client, DOCUMENTS_TABLE, clock=clock)


OUTCOME = '{"status":201,"body":{"document_id":"01J00000000000000000000000"}}\n\u00e9'
"""Opaque to the store: any text, kept exactly."""


def complete(store: IdempotencyStore, fingerprint: str = "fp-1") -> None:
    store.complete(SCOPE, fingerprint=fingerprint, outcome=OUTCOME, expires_at=T0 + DAY)


def test_a_new_scope_is_claimed(store: IdempotencyStore) -> None:
    assert (
        store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY)
        is IdempotencyClaim.CLAIMED
    )


def test_a_claimed_scope_is_in_flight_or_reused(store: IdempotencyStore) -> None:
    store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY)
    assert store.claim(SCOPE, fingerprint="fp-1", owner="someone-else", expires_at=T0 + DAY) is (
        IdempotencyClaim.IN_FLIGHT
    )
    # the same request again (its first claim landed but the answer was lost) still owns it
    assert store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY) is (
        IdempotencyClaim.CLAIMED
    )
    assert store.claim(SCOPE, fingerprint="fp-2", owner="o-fp-2", expires_at=T0 + DAY) is (
        IdempotencyClaim.REUSED
    )
    assert store.claim(
        "other" + SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY
    ) is (IdempotencyClaim.CLAIMED)


def test_a_completed_scope_replays_the_response(store: IdempotencyStore) -> None:
    store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY)
    complete(store)
    assert store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY) == (
        Remembered(fingerprint="fp-1", outcome=OUTCOME)
    )
    # the caller compares fingerprints: a different request sees the stored one
    replay = store.claim(SCOPE, fingerprint="fp-2", owner="o-fp-2", expires_at=T0 + DAY)
    assert isinstance(replay, Remembered)
    assert replay.fingerprint == "fp-1"


def test_a_released_scope_can_be_claimed_again(store: IdempotencyStore) -> None:
    store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY)
    store.release(SCOPE)
    assert store.claim(SCOPE, fingerprint="fp-2", owner="o-fp-2", expires_at=T0 + DAY) is (
        IdempotencyClaim.CLAIMED
    )
    store.release("never-claimed")


def test_an_expired_record_is_free(store: IdempotencyStore, clock: ManualClock) -> None:
    store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY)
    complete(store)
    clock.advance(DAY - timedelta(seconds=1))
    assert isinstance(
        store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=T0 + DAY), Remembered
    )
    clock.advance(timedelta(seconds=1))  # expiry reached
    later = clock.now() + DAY
    assert (
        store.claim(SCOPE, fingerprint="fp-1", owner="o-fp-1", expires_at=later)
        is IdempotencyClaim.CLAIMED
    )
    assert (
        store.claim(SCOPE, fingerprint="fp-1", owner="another-request", expires_at=later)
        is IdempotencyClaim.IN_FLIGHT
    )


def test_an_abandoned_claim_lapses(store: IdempotencyStore, clock: ManualClock) -> None:
    lease = timedelta(minutes=5)
    store.claim(SCOPE, fingerprint="fp-1", owner="crashed", expires_at=clock.now() + lease)
    clock.advance(lease)
    assert (
        store.claim(SCOPE, fingerprint="fp-1", owner="retry", expires_at=clock.now() + lease)
        is IdempotencyClaim.CLAIMED
    )
