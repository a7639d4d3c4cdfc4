"""Contract: every MessageQueue (in-memory fake and SQS on moto) behaves the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from moto import mock_aws

from adapters.memory import InMemoryQueue, ManualClock
from adapters.sqs import SqsQueue
from kumocms.ports import MessageQueue, QueuedMessage
from tests.support.aws import aws_client
from tests.support.documents import T0


@pytest.fixture(params=["memory", "sqs"])
def queue(request: pytest.FixtureRequest) -> Iterator[MessageQueue]:
    if request.param == "memory":
        yield InMemoryQueue(ManualClock(T0))
        return
    with mock_aws():
        client = aws_client("sqs")
        url = client.create_queue(QueueName="kumocms-contract")["QueueUrl"]
        yield SqsQueue(client, url)


def receive_all(queue: MessageQueue) -> list[QueuedMessage]:
    taken: list[QueuedMessage] = []
    while batch := queue.receive(limit=10):
        taken.extend(batch)
    return taken


def test_a_sent_message_is_received_with_its_attempts_and_error(queue: MessageQueue) -> None:
    first = queue.send('{"detail": "é"}')
    second = queue.send("again", attempts=3, last_error="DependencyError")
    taken = {message.id: message for message in receive_all(queue)}
    assert set(taken) == {first, second}
    assert (taken[first].body, taken[first].attempts, taken[first].last_error) == (
        '{"detail": "é"}',
        0,
        None,
    )
    assert (taken[second].body, taken[second].attempts, taken[second].last_error) == (
        "again",
        3,
        "DependencyError",
    )


def test_a_taken_message_is_hidden_until_released(queue: MessageQueue) -> None:
    message_id = queue.send("work")
    [taken] = queue.receive(limit=10)
    assert taken.id == message_id
    assert queue.receive(limit=10) == ()
    queue.release(taken)
    [again] = queue.receive(limit=10)
    assert (again.id, again.body) == (message_id, "work")


def test_a_deleted_message_never_comes_back(queue: MessageQueue) -> None:
    queue.send("done")
    [taken] = queue.receive(limit=10)
    queue.delete(taken)
    assert receive_all(queue) == []


def test_a_receive_takes_at_most_its_limit(queue: MessageQueue) -> None:
    for n in range(12):
        queue.send(f"m{n}")
    first = queue.receive(limit=3)
    second = queue.receive(limit=50)
    assert 1 <= len(first) <= 3
    assert 1 <= len(second) <= 10
    rest = receive_all(queue)
    ids = [message.id for message in (*first, *second, *rest)]
    assert len(ids) == len(set(ids)) == 12


def test_a_delayed_message_is_not_visible_yet(queue: MessageQueue) -> None:
    queue.send("later", delay=timedelta(minutes=5))
    assert queue.receive(limit=10) == ()


@pytest.mark.parametrize("delay", [timedelta(seconds=-1), timedelta(minutes=15, seconds=1)])
def test_a_delay_outside_what_sqs_allows_is_refused(queue: MessageQueue, delay: timedelta) -> None:
    with pytest.raises(ValueError, match="delay"):
        queue.send("x", delay=delay)


# ---- the fake's clock ------------------------------------------------------------------------


def test_the_fake_brings_an_unhandled_message_back_after_the_visibility_timeout() -> None:
    clock = ManualClock(T0)
    queue = InMemoryQueue(clock, visibility_timeout=timedelta(seconds=30))
    queue.send("work", delay=timedelta(seconds=10))
    clock.advance(timedelta(seconds=10))
    [first] = queue.receive(limit=1)
    clock.advance(timedelta(seconds=30))
    [second] = queue.receive(limit=1)
    assert second.id == first.id
    queue.delete(first)  # a stale receipt: the message was delivered again since
    assert [m.id for m in queue.pending()] == [first.id]
    queue.delete(second)
    assert queue.pending() == ()
