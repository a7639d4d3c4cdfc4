"""Benchmarks: the events Lambda hands the handlers — API Gateway proxy events, SQS batches.

Proxy events are built the way API Gateway REST (and `entrypoints.local.gateway`) builds them:
headers and multi-value headers, the authorizer's context, JSON bodies as text (only
multipart/form-data is a binary media type). S3 events follow AWS's documented EventBridge shape.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from ulid import ULID

STAGE = "prod"
CALLER = {"user_id": str(ULID()), "name": "bench", "role": "editor"}
"""What the REQUEST authorizer passes on (its context values are strings)."""


class LambdaContext:
    """The parts of Lambda's context object the handlers read."""

    function_name = "bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty."""
        return 900_000


CONTEXT = LambdaContext()


def proxy_event(
    method: str,
    resource: str,
    path: str,
    *,
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    body: object = None,
    caller: Mapping[str, str] = CALLER,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for an authorized caller (JSON body, if any)."""
    headers = {
        "Authorization": "Bearer kumo_bench-key-not-checked-by-the-handlers",
        "Accept": "application/json",
        "Host": "api.example.com",
        "User-Agent": "bench/1.0",
        "X-Forwarded-For": "203.0.113.7",
    }
    raw = b"" if body is None else json.dumps(body).encode("utf-8")
    if raw:
        headers["Content-Type"] = "application/json"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": (
            {name: [value] for name, value in query.items()} if query else None
        ),
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "203.0.113.7"},
            "authorizer": {**caller, "principalId": caller["user_id"]},
        },
        # JSON is not a binary media type: API Gateway passes it as text.
        "body": raw.decode("utf-8") if raw else None,
        "isBase64Encoded": False,
    }


def object_created(bucket: str, key: str, *, size: int, sequencer: str) -> dict[str, Any]:
    """An EventBridge `Object Created` event from S3 (a presigned PUT arrived)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "sequencer": sequencer,
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "203.0.113.7",
            "reason": "PutObject",
        },
    }


def sqs_batch(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS event source mapping batch (ReportBatchItemFailures) of EventBridge events."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:kumocms-ingest",
                "awsRegion": "eu-west-1",
            }
            for body in bodies
        ]
    }
