"""Event fixtures written from AWS's documented shapes (and moto's variants)."""

from __future__ import annotations

import json
import uuid
from typing import Any

BUCKET = "kumocms-test"


def s3_event(
    detail_type: str,
    key: str,
    *,
    bucket: str = BUCKET,
    time: str = "2026-01-01T00:00:00Z",
    size: int = 5,
    sequencer: str | None = "0055AED6DCD90281E5",
    reason: str = "PutObject",
    etag_field: str = "etag",
    expiry: str | None = None,
) -> dict[str, Any]:
    """An EventBridge S3 event as AWS documents it (`etag`, `sequencer`, `reason`)."""
    obj: dict[str, Any] = {
        "key": key,
        "size": size,
        etag_field: "b1946ac92492d2347c6235b4d2611184",
        "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    }
    if sequencer is not None and detail_type == "Object Created":
        obj["sequencer"] = sequencer
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
    }
    if detail_type == "Object Created":
        detail["reason"] = reason
        detail["source-ip-address"] = "1.2.3.4"
    if detail_type in ("Object Restore Initiated", "Object Restore Completed"):
        detail["source-storage-class"] = "GLACIER"
    if expiry is not None:
        detail["restore-expiry-time"] = expiry
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "111122223333",
        "time": time,
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": detail,
    }


def sqs_record(body: dict[str, Any] | str, *, message_id: str | None = None) -> dict[str, Any]:
    """One SQS record of a Lambda event source mapping batch."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:kumocms-ingest",
        "awsRegion": "eu-west-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    """An SQS event for the ingest function."""
    return {"Records": list(records)}
