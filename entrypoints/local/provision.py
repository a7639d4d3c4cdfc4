"""Entrypoints layer: create, on an AWS emulator, the resources the Terraform module creates.

Bucket (versioning, Object Lock without a default retention, EventBridge notifications, CORS,
lifecycle), the documents, users and history tables with their indexes, TTL and point-in-time
recovery, the domain-event bus, the ingest queue with its DLQ and
the parking queue, the transfer queue with its DLQ (each queue's retention as in the module), and
the rule that routes this bucket's events from the default bus to the ingest queue. A test
compares what this creates with the Terraform module's definitions.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from adapters.dynamodb import (
    TTL_ATTRIBUTE,
    documents_table_spec,
    history_table_spec,
    users_table_spec,
)
from entrypoints.storage_events import DETAIL_TYPES

INGEST_VISIBILITY_SECONDS = 30
"""Short locally so failed records come back quickly (AWS: at least 6x the function timeout)."""
MAX_RECEIVE_COUNT = 5
"""As the Terraform module's `ingest_max_receive_count` default."""
NONCURRENT_VERSION_DAYS = 7
DAY_SECONDS = 86_400
QUEUE_RETENTION_SECONDS = {
    "ingest": 4 * DAY_SECONDS,
    "ingest-dlq": 14 * DAY_SECONDS,
    "parking": 14 * DAY_SECONDS,
    "transfer": 14 * DAY_SECONDS,
    "transfer-dlq": 14 * DAY_SECONDS,
}
"""Each queue's `message_retention_seconds` in the module (events.tf, transfer.tf), by name
suffix: what failed waits the SQS maximum of 14 days for someone to look."""
ABORT_MULTIPART_DAYS = 7
TTL_TABLES = ("documents", "history")
"""The tables whose items expire by TTL_ATTRIBUTE, by name suffix (as in dynamodb.tf)."""


@attrs.frozen(kw_only=True)
class Resources:
    """Names and addresses of everything provisioned."""

    region: str
    bucket: str
    documents_table: str
    users_table: str
    event_bus: str
    ingest_queue_url: str
    ingest_dlq_url: str
    parking_queue_url: str
    s3_rule: str
    transfer_queue_url: str = ""
    transfer_dlq_url: str = ""
    history_table: str = ""

    def environment(self) -> dict[str, str]:
        """The environment variables the Lambda functions read."""
        return {
            "AWS_REGION": self.region,
            "S3_BUCKET": self.bucket,
            "DOCUMENTS_TABLE": self.documents_table,
            "USERS_TABLE": self.users_table,
            "HISTORY_TABLE": self.history_table,
            "EVENT_BUS_NAME": self.event_bus,
            "INGEST_QUEUE_URL": self.ingest_queue_url,
            "INGEST_DLQ_URL": self.ingest_dlq_url,
            "PARKING_QUEUE_URL": self.parking_queue_url,
            "TRANSFER_QUEUE_URL": self.transfer_queue_url,
            "TRANSFER_DLQ_URL": self.transfer_dlq_url,
        }


TRANSFER_VISIBILITY_SECONDS = 6 * 900
TRANSFER_MAX_RECEIVE_COUNT = 3


def s3_event_pattern(bucket: str) -> dict[str, Any]:
    """The rule pattern: this bucket's object and restore events."""
    return {
        "source": ["aws.s3"],
        "detail-type": list(DETAIL_TYPES),
        "detail": {"bucket": {"name": [bucket]}},
    }


def lifecycle_rules(noncurrent_days: int = NONCURRENT_VERSION_DAYS) -> list[dict[str, Any]]:
    """Abort stale multipart uploads, expire noncurrent versions and lone delete markers."""
    return [
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
        },
        {
            "ID": "expire-noncurrent-versions",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
    ]


def provision(
    session: Any,
    *,
    prefix: str = "kumocms",
    endpoint_url: str | None = None,
    visibility_timeout: int = INGEST_VISIBILITY_SECONDS,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> Resources:
    """Create every resource on a fresh emulator and return their names."""
    region = session.region_name
    clients = {
        name: session.client(name, endpoint_url=endpoint_url)
        for name in ("s3", "dynamodb", "events", "sqs")
    }
    s3, dynamodb, events, sqs = (clients[n] for n in ("s3", "dynamodb", "events", "sqs"))
    bucket = f"{prefix}-documents"
    location = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    # Object Lock (§11 legal holds) as the module creates new buckets, with no default retention
    # (it would make S3 require Content-MD5 on presigned uploads).
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, **location)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["GET", "PUT", "POST"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle_rules()}
    )
    documents_table = f"{prefix}-documents"
    users_table = f"{prefix}-users"
    history_table = f"{prefix}-history"
    for spec in (
        documents_table_spec(documents_table),
        users_table_spec(users_table),
        history_table_spec(history_table),
    ):
        dynamodb.create_table(**spec)
        dynamodb.update_continuous_backups(
            TableName=spec["TableName"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    for table in TTL_TABLES:
        dynamodb.update_time_to_live(
            TableName=f"{prefix}-{table}",
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    bus = prefix
    events.create_event_bus(Name=bus)
    parking_url = sqs.create_queue(QueueName=f"{prefix}-parking", Attributes=_retention("parking"))[
        "QueueUrl"
    ]
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-ingest-dlq", Attributes=_retention("ingest-dlq")
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    ingest_url = sqs.create_queue(
        QueueName=f"{prefix}-ingest",
        Attributes={
            **_retention("ingest"),
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]
    ingest_arn = _queue_arn(sqs, ingest_url)
    rule = f"{prefix}-s3-events"
    rule_arn = events.put_rule(
        Name=rule, EventPattern=json.dumps(s3_event_pattern(bucket)), State="ENABLED"
    )["RuleArn"]
    sqs.set_queue_attributes(
        QueueUrl=ingest_url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": ingest_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                        }
                    ],
                }
            )
        },
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "ingest-queue", "Arn": ingest_arn}])
    # The transfer worker's queue (transfer.tf): 6x the function's 900 s timeout, its own DLQ.
    transfer_dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-transfer-dlq",
        Attributes=_retention("transfer-dlq"),
    )["QueueUrl"]
    transfer_url = sqs.create_queue(
        QueueName=f"{prefix}-transfer",
        Attributes={
            "VisibilityTimeout": str(TRANSFER_VISIBILITY_SECONDS),
            **_retention("transfer"),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": _queue_arn(sqs, transfer_dlq_url),
                    "maxReceiveCount": str(TRANSFER_MAX_RECEIVE_COUNT),
                }
            ),
        },
    )["QueueUrl"]
    return Resources(
        region=region,
        bucket=bucket,
        documents_table=documents_table,
        users_table=users_table,
        history_table=history_table,
        event_bus=bus,
        ingest_queue_url=ingest_url,
        ingest_dlq_url=dlq_url,
        parking_queue_url=parking_url,
        s3_rule=rule,
        transfer_queue_url=transfer_url,
        transfer_dlq_url=transfer_dlq_url,
    )


def _retention(queue: str) -> dict[str, str]:
    return {"MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS[queue])}


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
