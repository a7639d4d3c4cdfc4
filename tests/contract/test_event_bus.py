"""Contract: every EventBus (recording fake and EventBridge on moto) delivers the same events.

On the moto side published events are read back the way a subscriber sees them: through an
EventBridge rule on the bus into an SQS queue. The fake's recorded events are rendered the way
the EventBridge adapter documents it (detail-type, source, detail with `schema_version`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from moto import mock_aws

from adapters.eventbridge import EventBridgeEventBus
from adapters.memory import RecordingEventBus
from kumocms import events as ev
from kumocms.ids import DocumentId, UserId
from kumocms.ports import EventBus
from tests.support.aws import aws_client
from tests.support.documents import T0, document_id, user_id

BUS = "kumocms"
Received = dict[str, Any]


def _render(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, DocumentId | UserId):
        return value.value
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _as_subscriber_sees(event: ev.DomainEvent) -> Received:
    detail = attrs.asdict(event, value_serializer=lambda _i, _a, v: _render(v))
    detail["schema_version"] = event.schema_version
    return {"detail-type": event.name, "source": "kumocms", "detail": detail}


def _parse_times(detail: dict[str, Any]) -> dict[str, Any]:
    parsed = dict(detail)
    for name in ("occurred_at", "expires_at", "requested_at"):
        if isinstance(parsed.get(name), str):
            parsed[name] = datetime.fromisoformat(parsed[name])
            assert parsed[name].utcoffset() == timedelta(0)
    return parsed


@pytest.fixture(params=["memory", "eventbridge"])
def bus(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[EventBus, Callable[[], list[Received]]]]:
    if request.param == "memory":
        recording = RecordingEventBus()
        yield recording, lambda: [_as_subscriber_sees(e) for e in recording.published]
        return
    with mock_aws():
        events, sqs = aws_client("events"), aws_client("sqs")
        events.create_event_bus(Name=BUS)
        queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="everything", EventBusName=BUS, EventPattern=json.dumps({"source": ["kumocms"]})
        )
        events.put_targets(Rule="everything", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])

        def read() -> list[Received]:
            received: list[Received] = []
            while True:
                messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
                if not messages:
                    return received
                for message in messages:
                    body = json.loads(message["Body"])
                    received.append(
                        {
                            "detail-type": body["detail-type"],
                            "source": body["source"],
                            "detail": _parse_times(body["detail"]),
                        }
                    )
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

        yield EventBridgeEventBus(events, BUS), read


def _key(received: Received) -> str:
    return json.dumps(received, sort_keys=True, default=str)


def test_nothing_published_nothing_received(bus: tuple[EventBus, Any]) -> None:
    publisher, read = bus
    publisher.publish([])
    assert read() == []


def test_published_events_arrive_with_type_source_and_detail(bus: tuple[EventBus, Any]) -> None:
    publisher, read = bus
    moment = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
    publisher.publish(
        [
            ev.DocumentUploaded(
                occurred_at=moment, document_id=document_id(1), version=2, size=5, sha256=None
            ),
            ev.DocumentRestored(
                occurred_at=moment,
                document_id=document_id(2),
                version=7,
                expires_at=moment + timedelta(days=1),
            ),
            ev.UserChanged(occurred_at=moment, user_id=user_id(3), role="admin", disabled=True),
        ]
    )
    received = sorted(read(), key=_key)
    expected = [
        {
            "detail-type": "DocumentUploaded",
            "source": "kumocms",
            "detail": {
                "occurred_at": moment,
                "document_id": document_id(1).value,
                "version": 2,
                "size": 5,
                "sha256": None,
                "schema_version": 1,
            },
        },
        {
            "detail-type": "DocumentRestored",
            "source": "kumocms",
            "detail": {
                "occurred_at": moment,
                "document_id": document_id(2).value,
                "version": 7,
                "expires_at": moment + timedelta(days=1),
                "schema_version": 1,
            },
        },
        {
            "detail-type": "UserChanged",
            "source": "kumocms",
            "detail": {
                "occurred_at": moment,
                "user_id": user_id(3).value,
                "role": "admin",
                "disabled": True,
                "schema_version": 1,
            },
        },
    ]
    assert received == sorted(expected, key=_key)


def test_many_events_all_arrive(bus: tuple[EventBus, Any]) -> None:
    publisher, read = bus
    published = [
        ev.DocumentDeleted(occurred_at=T0, document_id=document_id(n), version=n)
        for n in range(1, 26)
    ]
    publisher.publish(published)
    received = read()
    assert len(received) == 25
    assert sorted(r["detail"]["version"] for r in received) == list(range(1, 26))
    assert {r["detail-type"] for r in received} == {"DocumentDeleted"}
