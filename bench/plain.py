"""Benchmarks: the baselines — plain boto3 doing what each handler does, and nothing more.

A baseline is what a careful developer would write without this codebase: it reads the event,
makes the same AWS requests with the same parameters (the bench checks the request lists
match), and answers with the same JSON. It has no layers, no validation beyond what the
requests need, no logging and no metrics — so the ratio of ours to it is our overhead.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import heapq
import itertools
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from ulid import ULID

CLIENT_OPTIONS: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 3,
    "read_timeout": 20,
    "tcp_keepalive": True,
}
"""What `adapters.aws.client_config()` sets, written out (checked by check_same_config)."""
S3_OPTIONS: dict[str, Any] = {
    "s3": {"addressing_style": "path", "us_east_1_regional_endpoint": "regional"},
    "signature_version": "s3v4",
    "request_checksum_calculation": "when_required",
    "response_checksum_validation": "when_required",
}
"""What `client_config(s3=True, path_style=True)` adds for S3 on an emulator."""
SHARDS = 16
PRESIGN_SECONDS = 3600
PENDING_HOURS = 24

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def check_same_config() -> None:
    """The baselines' botocore Config is exactly `adapters.aws.client_config`'s.

    Raises:
        AssertionError: an option differs (a ratio would then compare different clients).
    """
    from adapters.aws import client_config  # noqa: PLC0415

    for s3 in (False, True):
        ours, theirs = client_config(s3=s3, path_style=True), config(s3=s3)
        for option in Config.OPTION_DEFAULTS:
            if getattr(ours, option) != getattr(theirs, option):
                raise AssertionError(
                    f"the baseline's Config differs in {option}: "
                    f"{getattr(theirs, option)!r} != {getattr(ours, option)!r}"
                )


def config(*, s3: bool = False) -> Config:
    """A fresh botocore Config with the baseline's options (Config rewrites what it is given)."""
    options = copy.deepcopy({**CLIENT_OPTIONS, **(S3_OPTIONS if s3 else {})})
    return Config(**options)


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """The API's timestamp format."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stored(moment: datetime) -> str:
    """The stored timestamp format (fixed width)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_key(document_id: str, revision: int) -> str:
    """Where a revision lives (the hash prefix spreads S3 partitions)."""
    prefix = hashlib.sha256(document_id.encode("ascii")).hexdigest()[:4]
    return f"{prefix}/{document_id.lower()}/r{revision}"


def sidecar_key(document_id: str) -> str:
    """Where the metadata mirror lives."""
    return content_key(document_id, 1).rsplit("/", 1)[0] + "/meta.json"


def shard(document_id: str) -> str:
    """The index shard of a document."""
    return f"{int(hashlib.sha256(document_id.encode('ascii')).hexdigest()[:8], 16) % SHARDS:02d}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def to_item(plain: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values as a DynamoDB item."""
    return {name: _serializer.serialize(value) for name, value in plain.items()}


def representation(doc: Mapping[str, Any], **links: Any) -> dict[str, Any]:
    """The document JSON the API answers with."""
    return {
        "document_id": doc["sk"],
        "file_name": doc["file_name"],
        "content_type": doc["content_type"],
        "size": doc["size"],
        "sha256": doc.get("sha256"),
        "state": doc["state"],
        "storage_class": doc["storage_class"],
        "version": doc["version"],
        "metadata": doc.get("metadata") or {},
        "created_at": doc["created_at"][:23] + "Z",
        "updated_at": doc["updated_at"][:23] + "Z",
        "restore": doc.get("restore"),
        "download": links.get("download"),
        "upload": links.get("upload"),
    }


def respond(status: int, body: Any, **headers: str) -> dict[str, Any]:
    """An API Gateway proxy result."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", **headers},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def request_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a proxy event (`{}` when there is none)."""
    raw = event.get("body")
    if not raw:
        return {}
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw)
    body = json.loads(raw)
    assert isinstance(body, dict)
    return body


def caller_may_write(event: Mapping[str, Any]) -> None:
    """The authorizer vouched for an editor or admin."""
    role = event["requestContext"]["authorizer"]["role"]
    if role not in ("editor", "admin"):
        raise PermissionError(role)


def _caller(event: Mapping[str, Any]) -> dict[str, Any]:
    authorizer = event["requestContext"]["authorizer"]
    return {"user_id": authorizer["user_id"], "name": authorizer.get("name")}


class Plain:
    """The baseline handlers over one set of plain boto3 clients."""

    def __init__(self, session: Any, *, endpoint: str, environment: Mapping[str, str]) -> None:
        self.dynamodb = session.client("dynamodb", config=config(), endpoint_url=endpoint)
        self.s3 = session.client("s3", config=config(s3=True), endpoint_url=endpoint)
        self.events = session.client("events", config=config(), endpoint_url=endpoint)
        self.table = environment["DOCUMENTS_TABLE"]
        self.history = environment["HISTORY_TABLE"]
        self.bucket = environment["S3_BUCKET"]
        self.bus = environment["EVENT_BUS_NAME"]
        self._pool = ThreadPoolExecutor(max_workers=SHARDS)

    # ---- helpers ------------------------------------------------------------------------

    def _get(self, document_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": f"DOC#{document_id}"}}, ConsistentRead=True
        )["Item"]
        return from_item(item)

    def _entry(
        self, doc: Mapping[str, Any], event: str, actor: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The change's audit entry, written in the same transaction as the record (§11)."""
        at = now()
        return {
            "Put": {
                "TableName": self.history,
                "Item": to_item(
                    {
                        "pk": doc["sk"],
                        "sk": f"{stored(at)}#{doc['version']:012d}#000",
                        "event": event,
                        "at": stored(at),
                        "actor": dict(actor),
                        "version": doc["version"],
                        "details": {},
                        "sequence": 0,
                    }
                ),
            }
        }

    def _save(
        self, doc: dict[str, Any], expected: int, event: str, actor: Mapping[str, Any]
    ) -> None:
        put = {
            "TableName": self.table,
            "Item": to_item(doc),
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": {"N": str(expected)}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        self.dynamodb.transact_write_items(
            TransactItems=[{"Put": put}, self._entry(doc, event, actor)]
        )

    def _publish(self, name: str, at: datetime, **detail: Any) -> None:
        detail = {"occurred_at": at.isoformat().replace("+00:00", "Z"), **detail}
        detail["schema_version"] = 1
        self.events.put_events(
            Entries=[
                {
                    "Source": "kumocms",
                    "DetailType": name,
                    "Detail": json.dumps(detail),
                    "Time": at,
                    "EventBusName": self.bus,
                }
            ]
        )

    def _download(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        url = self.s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": content_key(doc["sk"], doc["revision"]),
                "ResponseContentDisposition": f'attachment; filename="{doc["file_name"]}"',
                "ResponseContentType": doc["content_type"],
            },
            ExpiresIn=PRESIGN_SECONDS,
        )
        return {"url": url, "expires_at": stamp(now() + timedelta(seconds=PRESIGN_SECONDS))}

    def _change(self, doc: dict[str, Any], at: datetime, **changes: Any) -> int:
        expected = doc["version"]
        doc.update(changes, version=expected + 1, updated_at=stored(at))
        doc["state_pk"] = f"{doc['state']}#{shard(doc['sk'])}"
        return int(expected)

    # ---- the use cases ------------------------------------------------------------------

    def get_document(self, event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
        """GET /documents/{id}: one GetItem, one presign."""
        document_id = event["pathParameters"]["id"]
        doc = self._get(document_id)
        body = representation(doc, download=self._download(doc))
        return respond(200, body, ETag=f'"{doc["version"]}"')

    def upload_presigned(self, event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
        """POST /documents without content: presign a PUT, PutItem, sidecar, PutEvents."""
        caller_may_write(event)
        fields = request_body(event)
        at = now()
        document_id = str(ULID())
        key = content_key(document_id, 1)
        checksum = base64.b64encode(bytes.fromhex(fields["sha256"])).decode("ascii")
        url = self.s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": fields["content_type"],
                "ContentLength": fields["size"],
                "ChecksumSHA256": checksum,
            },
            ExpiresIn=PRESIGN_SECONDS,
        )
        deadline = at + timedelta(hours=PENDING_HOURS)
        part = shard(document_id)
        doc = {
            "pk": f"DOC#{document_id}",
            "sk": document_id,
            "list_pk": f"ALL#{part}",
            "state_pk": f"pending#{part}",
            "pending_pk": f"PENDING#{part}",
            "pending_sk": f"{stored(deadline)}#{document_id}",
            "expires_at": int(deadline.timestamp()) + 7 * 86400,
            "file_name": fields["file_name"],
            "content_type": fields["content_type"],
            "size": fields["size"],
            "sha256": fields["sha256"],
            "metadata": fields.get("metadata") or {},
            "state": "pending",
            "storage_class": "STANDARD",
            "version": 1,
            "created_at": stored(at),
            "updated_at": stored(at),
            "pending": {
                "revision": 1,
                "mode": "put",
                "expires_at": stored(deadline),
                "declared": {
                    "file_name": fields["file_name"],
                    "content_type": fields["content_type"],
                    "size": fields["size"],
                    "sha256": fields["sha256"],
                },
                "multipart_id": None,
                "part_size": None,
            },
            "restore": None,
            "revision": None,
            "sequencer": None,
            "stale_revision": None,
            "owner": event["requestContext"]["authorizer"]["user_id"],
        }
        # Like ours: the sidecar first, so a failed write never leaves a record behind.
        sidecar = json.dumps(doc["metadata"], separators=(",", ":")).encode("utf-8")
        self.s3.put_object(
            Bucket=self.bucket,
            Key=sidecar_key(document_id),
            Body=sidecar,
            ContentType="application/json",
            ChecksumSHA256=base64.b64encode(hashlib.sha256(sidecar).digest()).decode("ascii"),
            ChecksumAlgorithm="SHA256",
        )
        put = {
            "TableName": self.table,
            "Item": to_item(doc),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": "pk"},
        }
        self.dynamodb.transact_write_items(
            TransactItems=[{"Put": put}, self._entry(doc, "uploaded", _caller(event))]
        )
        self._publish(
            "DocumentUploadStarted",
            at,
            document_id=document_id,
            version=1,
            size=fields["size"],
            mode="put",
        )
        upload = {
            "method": "PUT",
            "url": url,
            "headers": {"Content-Type": fields["content_type"], "x-amz-checksum-sha256": checksum},
            "expires_at": stamp(at + timedelta(seconds=PRESIGN_SECONDS)),
        }
        body = representation(doc, upload=upload)
        return respond(201, body, ETag='"1"', Location=f"/prod/documents/{document_id}")

    def list_page(self, event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
        """GET /documents?limit=N: one Query per shard (concurrently), merged newest first."""
        limit = int((event.get("queryStringParameters") or {}).get("limit", 50))

        def query(part: int) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = self.dynamodb.query(
                TableName=self.table,
                IndexName="by_created",
                KeyConditionExpression="#p = :p",
                ExpressionAttributeNames={"#p": "list_pk"},
                ExpressionAttributeValues={":p": {"S": f"ALL#{part:02d}"}},
                ScanIndexForward=False,
                Limit=limit + 1,
            ).get("Items", [])
            return items

        found = list(self._pool.map(query, range(SHARDS)))
        merged = list(
            itertools.islice(
                heapq.merge(*found, key=lambda item: item["sk"]["S"], reverse=True), limit + 1
            )
        )
        page = [from_item(item) for item in merged[:limit]]
        cursor = None
        if len(merged) > limit:
            raw = json.dumps({"v": 1, "a": page[-1]["sk"], "s": "documents"})
            cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        return respond(200, {"items": [representation(d) for d in page], "next_cursor": cursor})

    def archive(self, event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
        """POST /documents/{id}/archive: read, HEAD, self-copy to GLACIER, save, publish."""
        caller_may_write(event)
        storage_class = request_body(event).get("storage_class", "GLACIER")
        doc = self._get(event["pathParameters"]["id"])
        key = content_key(doc["sk"], doc["revision"])
        head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        if head.get("StorageClass", "STANDARD") != storage_class:
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                StorageClass=storage_class,
                MetadataDirective="COPY",
            )
        at = now()
        expected = self._change(doc, at, state="archived", storage_class=storage_class)
        self._save(doc, expected, "archived", _caller(event))
        self._publish(
            "DocumentArchived",
            at,
            document_id=doc["sk"],
            version=doc["version"],
            storage_class=storage_class,
        )
        return respond(200, representation(doc), ETag=f'"{doc["version"]}"')

    def restore(self, event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
        """POST /documents/{id}/restore: read, HEAD, RestoreObject, save, publish."""
        caller_may_write(event)
        fields = request_body(event)
        days, tier = fields.get("days", 1), fields.get("tier", "Standard")
        doc = self._get(event["pathParameters"]["id"])
        key = content_key(doc["sk"], doc["revision"])
        head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        if 'ongoing-request="true"' not in head.get("Restore", ""):
            self.s3.restore_object(
                Bucket=self.bucket,
                Key=key,
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
            )
        at = now()
        restore = {
            "tier": tier,
            "days": days,
            "permanent": False,
            "requested_at": stored(at),
            "ready_at": None,
            "expires_at": None,
        }
        expected = self._change(doc, at, state="restoring", restore=restore)
        self._save(doc, expected, "restore_requested", _caller(event))
        self._publish("DocumentRestoreRequested", at, document_id=doc["sk"], version=doc["version"])
        return respond(
            202,
            representation(doc),
            ETag=f'"{doc["version"]}"',
            Location=f"/prod/documents/{doc['sk']}",
            **{"Retry-After": "1800"},
        )

    def confirm_upload(self, record: Mapping[str, Any]) -> None:
        """One ingest record: read, HEAD (sha256 from S3), confirm, save, publish."""
        event = json.loads(record["body"])
        key = event["detail"]["object"]["key"]
        document_id = key.split("/")[1].upper()
        doc = self._get(document_id)
        head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        sha256 = base64.b64decode(head["ChecksumSHA256"]).hex()
        pending = doc["pending"]
        for name in ("pending_pk", "pending_sk", "expires_at"):
            doc.pop(name, None)
        if head["ContentLength"] != pending["declared"]["size"] or sha256 != doc["sha256"]:
            raise ValueError("rejected")
        at = now()
        expected = self._change(
            doc,
            at,
            state="active",
            revision=pending["revision"],
            pending=None,
            stale_revision=doc.get("revision"),
            sequencer=event["detail"]["object"]["sequencer"],
        )
        self._save(doc, expected, "upload_confirmed", {"system": "ingest"})
        self._publish(
            "DocumentUploaded",
            at,
            document_id=document_id,
            version=doc["version"],
            size=head["ContentLength"],
            sha256=sha256,
        )

    def ingest(self, event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
        """The SQS batch: each record on its own, failures reported."""
        failures = []
        for record in event["Records"]:
            try:
                self.confirm_upload(record)
            except Exception:  # noqa: BLE001 - reported, as ours does
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}
