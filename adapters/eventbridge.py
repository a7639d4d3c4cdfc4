"""Adapters layer: the EventBridge event bus that publishes domain events to subscribers.

Each event becomes one PutEvents entry: `Source` (default `kumocms`), `DetailType` the event's
name, `Time` when it occurred, and `Detail` the JSON of its fields plus `schema_version` (ids as
text, datetimes ISO-8601 UTC, enums by value). Entries go out in requests of at most 10 entries
and 256 KB; entries EventBridge reports as failed are sent again, a bounded number of times,
and what still fails is raised, never dropped.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import cattrs

from adapters.aws import aws_errors
from kumocms.errors import DependencyError
from kumocms.events import DomainEvent
from kumocms.ids import DocumentId, UserId
from kumocms.jsonvalue import dumps_json

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES_PER_REQUEST = 10
MAX_REQUEST_BYTES = 256 * 1024
TIME_ENTRY_BYTES = 14
"""What a `Time` field adds to an entry's size, as AWS counts it."""
DEFAULT_ATTEMPTS = 3


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _build_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, _iso)
    converter.register_unstructure_hook(DocumentId, str)
    converter.register_unstructure_hook(UserId, str)
    converter.register_unstructure_hook(enum.Enum, lambda member: member.value)
    return converter


_converter = _build_converter()


def event_detail(event: DomainEvent) -> str:
    """The `Detail` JSON of an event: its fields and `schema_version`."""
    detail = _converter.unstructure(event, type(event))
    assert isinstance(detail, dict)
    detail["schema_version"] = event.schema_version
    return dumps_json(detail)


def entry_size(entry: PutEventsRequestEntryTypeDef) -> int:
    """An entry's size as EventBridge counts it against the 256 KB request limit."""
    size = TIME_ENTRY_BYTES if "Time" in entry else 0
    for field in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(field, "")).encode("utf-8"))
    return size + sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", ()))


class EventBridgeEventBus:
    """Publishes domain events to an EventBridge bus with PutEvents."""

    def __init__(
        self,
        client: EventBridgeClient,
        bus_name: str,
        *,
        source: str = "kumocms",
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = client
        self._bus = bus_name
        self._source = source
        self._attempts = max_attempts

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Publish every event or raise DependencyError; an empty list makes no request."""
        entries = [self._entry(event) for event in events]
        for batch in _batches(entries):
            self._send(batch)

    def _entry(self, event: DomainEvent) -> PutEventsRequestEntryTypeDef:
        return {
            "Source": self._source,
            "DetailType": event.name,
            "Detail": event_detail(event),
            "Time": event.occurred_at,
            "EventBusName": self._bus,
        }

    def _send(self, batch: builtins.list[PutEventsRequestEntryTypeDef]) -> None:
        # botocore retries throttled and failed requests; this loop only re-sends the entries
        # EventBridge accepted the request for but did not deliver (FailedEntryCount).
        unsent = batch
        for _ in range(self._attempts):
            with aws_errors("EventBridge PutEvents"):
                response = self._client.put_events(Entries=unsent)
            if response.get("FailedEntryCount", 0) == 0:
                return
            results = response.get("Entries", [])
            if len(results) == len(unsent):
                unsent = [
                    entry
                    for entry, result in zip(unsent, results, strict=True)
                    if "ErrorCode" in result or "EventId" not in result
                ]
            if not unsent:  # pragma: no cover - a count without failed entries
                return
        raise DependencyError(
            f"EventBridge PutEvents failed for {len(unsent)} of {len(batch)} events"
        )


def _batches(
    entries: Sequence[PutEventsRequestEntryTypeDef],
) -> Iterator[builtins.list[PutEventsRequestEntryTypeDef]]:
    batch: builtins.list[PutEventsRequestEntryTypeDef] = []
    size = 0
    for entry in entries:
        entry_bytes = entry_size(entry)
        if batch and (
            len(batch) == MAX_ENTRIES_PER_REQUEST or size + entry_bytes > MAX_REQUEST_BYTES
        ):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_bytes
    if batch:
        yield batch
