"""Entrypoints layer: EventBridge S3 events (as AWS documents them, and as moto sends them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from entrypoints.observability import get_logger
from kumocms.errors import RetryLaterError
from kumocms.usecases.ingest import (
    ObjectCreated,
    Outcome,
    RestoreCompleted,
    RestoreExpired,
    RestoreInitiated,
    StorageEvent,
    handle_storage_event,
)

if TYPE_CHECKING:
    from kumocms.ports import Ports

log = get_logger("kumocms.ingest")

DETAIL_TYPES = (
    "Object Created",
    "Object Restore Initiated",
    "Object Restore Completed",
    "Object Restore Expired",
)
COPY_REASONS = frozenset({"CopyObject"})


class MalformedEventError(ValueError):
    """The message is not an EventBridge S3 event this service can read."""


def apply_message(ports: Ports, body: str, *, bucket: str) -> Outcome:
    """Apply one queued EventBridge S3 event (from the ingest queue or its DLQ).

    Raises:
        MalformedEventError: the body is not an event this service can read.
        KumoError: processing failed (retry later).
    """
    try:
        event = json.loads(body)
    except ValueError:
        raise MalformedEventError("the message body is not JSON") from None
    if not isinstance(event, Mapping):
        raise MalformedEventError("the message body is not an event")
    storage_event = parse_storage_event(event, bucket=bucket)
    if storage_event is None:
        return Outcome.IGNORED
    try:
        outcome = handle_storage_event(ports, storage_event)
    except RetryLaterError as early:
        # Expected while a request is still saving the record: not a failure, but retried.
        log.info(
            "storage_event_early",
            detail_type=event.get("detail-type"),
            key=storage_event.key,
            document_id=early.document_id,
            outcome="retry_later",
        )
        raise
    log.info(
        "storage_event",
        detail_type=event.get("detail-type"),
        key=storage_event.key,
        outcome=outcome.value,
    )
    return outcome


def parse_storage_event(event: Mapping[str, Any], *, bucket: str) -> StorageEvent | None:
    """The storage event in an EventBridge S3 event, or None when it is not for us.

    Keys arrive URL-encoded on AWS and raw from moto; our key alphabet makes decoding safe
    for both. Moto's variants (`eTag`, reason `ObjectCreated`, `time` in epoch seconds) are
    accepted.

    Raises:
        MalformedEventError: an S3 event without the fields AWS documents.
    """
    if event.get("source") != "aws.s3" or event.get("detail-type") not in DETAIL_TYPES:
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEventError("the event has no detail")
    bucket_name = (detail.get("bucket") or {}).get("name")
    if bucket_name != bucket:
        return None
    obj = detail.get("object")
    if not isinstance(obj, Mapping) or not isinstance(obj.get("key"), str):
        raise MalformedEventError("the event names no object key")
    key = unquote_plus(obj["key"])
    occurred_at = _time(event.get("time"))
    kind = event["detail-type"]
    if kind == "Object Created":
        size = obj.get("size")
        return ObjectCreated(
            key=key,
            occurred_at=occurred_at,
            size=size if isinstance(size, int) else None,
            sequencer=obj.get("sequencer") if isinstance(obj.get("sequencer"), str) else None,
            is_copy=detail.get("reason") in COPY_REASONS,
            version_id=obj.get("version-id") if isinstance(obj.get("version-id"), str) else None,
        )
    if kind == "Object Restore Initiated":
        return RestoreInitiated(key=key, occurred_at=occurred_at)
    if kind == "Object Restore Completed":
        expiry = detail.get("restore-expiry-time")
        return RestoreCompleted(
            key=key,
            occurred_at=occurred_at,
            expires_at=_time(expiry) if isinstance(expiry, str) else None,
        )
    return RestoreExpired(key=key, occurred_at=occurred_at)


def _time(value: object) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)  # moto sends epoch seconds
    if not isinstance(value, str):
        raise MalformedEventError("the event has no time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEventError("the event time is not ISO-8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
