"""Infrastructure drift: each function's IAM role grants exactly the AWS actions its code needs.

Every function runs realistic scenarios on moto with the real adapters (tests/infra/aws_world.py)
while a botocore hook records each API call and each presigned URL its clients make. The
operations are turned into (IAM action, resource) pairs with the explicit table below and
compared with terraform/modules/kumocms/permissions.json, which iam.tf builds the roles from: a
call the role does not allow fails the test, and so does a grant no scenario needed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws

from adapters.s3 import S3BlobStore
from adapters.system import SystemClock
from entrypoints.manifest import FUNCTIONS
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.states import StorageClass
from tests.infra.aws_world import NAMES, REGION, Call, MiB, Recorder, World, die, ulid_for
from tests.infra.module_files import permissions_file

Grant = tuple[str, str]
"""(IAM action, symbolic resource of permissions.json)."""

# ---- operations -> IAM actions ---------------------------------------------------------------

OBJECTS, BUCKET = "bucket_objects", "bucket"
S3_ACTIONS: Mapping[str, tuple[Grant, ...]] = {
    "PutObject": (("s3:PutObject", OBJECTS),),
    # GetObject and HeadObject answer 404 for a missing key only with s3:ListBucket on the
    # bucket (403 otherwise); the adapters rely on telling "absent" from "forbidden".
    "GetObject": (("s3:GetObject", OBJECTS), ("s3:ListBucket", BUCKET)),
    "HeadObject": (("s3:GetObject", OBJECTS), ("s3:ListBucket", BUCKET)),
    "HeadBucket": (("s3:ListBucket", BUCKET),),
    # A copy with TaggingDirective=REPLACE and no `Tagging` writes an empty tag set: S3 asks
    # for s3:PutObjectTagging only for the tags a request sends (x-amz-tagging, counted
    # below), and REPLACE spares the source's s3:GetObject(Version)Tagging that COPY of a
    # tagged source would need. moto checks no policy, so this rests on the CopyObject docs.
    "CopyObject": (("s3:GetObject", OBJECTS), ("s3:PutObject", OBJECTS)),
    "DeleteObject": (("s3:DeleteObject", OBJECTS),),
    "DeleteObjects": (),  # authorised per key: see _s3_grants
    "ListObjectVersions": (("s3:ListBucketVersions", BUCKET),),
    "PutObjectTagging": (("s3:PutObjectTagging", OBJECTS),),
    "GetObjectTagging": (("s3:GetObjectTagging", OBJECTS),),
    # Object Lock has no per-version action: a VersionId changes nothing here.
    "GetObjectLegalHold": (("s3:GetObjectLegalHold", OBJECTS),),
    "PutObjectLegalHold": (("s3:PutObjectLegalHold", OBJECTS),),
    "RestoreObject": (("s3:RestoreObject", OBJECTS),),
    "CreateMultipartUpload": (("s3:PutObject", OBJECTS),),
    "UploadPart": (("s3:PutObject", OBJECTS),),
    "UploadPartCopy": (("s3:GetObject", OBJECTS), ("s3:PutObject", OBJECTS)),
    "CompleteMultipartUpload": (("s3:PutObject", OBJECTS),),
    "AbortMultipartUpload": (("s3:AbortMultipartUpload", OBJECTS),),
    "ListParts": (("s3:ListMultipartUploadParts", OBJECTS),),
}
PRESIGNED_ACTIONS: Mapping[str, tuple[Grant, ...]] = {
    # A presigned URL or POST policy carries the signer's authority: the function's role
    # must allow what the client will do with it.
    "GetObject": (("s3:GetObject", OBJECTS),),
    "PutObject": (("s3:PutObject", OBJECTS),),  # presigned PUT and the POST form alike
    "UploadPart": (("s3:PutObject", OBJECTS),),
}
DYNAMODB_ITEM_ACTIONS = {
    "GetItem": "dynamodb:GetItem",
    "PutItem": "dynamodb:PutItem",
    "UpdateItem": "dynamodb:UpdateItem",
    "DeleteItem": "dynamodb:DeleteItem",
}
TRANSACTION_ACTIONS = {
    # TransactWriteItems is authorised item by item.
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
SQS_ACTIONS = {
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "SendMessage": "sqs:SendMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
}
EVENT_SOURCE_MAPPING: tuple[Grant, ...] = (
    # Lambda's SQS poller reads the ingest queue with the ingest function's role; the
    # function's code never calls SQS itself, so no scenario can record these.
    ("sqs:ReceiveMessage", "ingest_queue"),
    ("sqs:DeleteMessage", "ingest_queue"),
    ("sqs:GetQueueAttributes", "ingest_queue"),
    ("sqs:ChangeMessageVisibility", "ingest_queue"),
)


def _table(name: str) -> str:
    return {
        NAMES["DOCUMENTS_TABLE"]: "documents_table",
        NAMES["USERS_TABLE"]: "users_table",
        NAMES["HISTORY_TABLE"]: "history_table",
    }[name]


def grants_of(call: Call, world: World) -> set[Grant]:
    """The IAM actions one recorded call needs, on the permissions.json resource names."""
    grants = {
        "s3": _s3_grants,
        "dynamodb": _dynamodb_grants,
        "events": _events_grants,
        "sqs": _sqs_grants,
    }.get(call.service, lambda _call, _world: None)(call, world)
    if grants is None:
        raise AssertionError(f"no IAM mapping for {call.service} {call.operation}: add it")
    return grants


def _s3_grants(call: Call, _world: World) -> set[Grant]:
    table = PRESIGNED_ACTIONS if call.presigned else S3_ACTIONS
    if call.operation not in table:
        raise AssertionError(f"no IAM mapping for S3 {call.operation}: add it to the table")
    if not call.presigned:
        assert call.params["Bucket"] == NAMES["S3_BUCKET"], call
    grants = set(table[call.operation])
    # Naming a version needs the *Version actions (a copy's pinned source, an exact delete).
    source = call.params.get("CopySource")
    if (isinstance(source, Mapping) and source.get("VersionId")) or (
        isinstance(source, str) and "versionId=" in source
    ):
        grants.add(("s3:GetObjectVersion", OBJECTS))
    if call.params.get("Tagging") and call.operation in ("CopyObject", "PutObject"):
        grants.add(("s3:PutObjectTagging", OBJECTS))
    if call.params.get("VersionId"):
        versioned = {
            "DeleteObject": "s3:DeleteObjectVersion",
            "PutObjectTagging": "s3:PutObjectVersionTagging",
            "GetObjectTagging": "s3:GetObjectVersionTagging",
        }.get(call.operation)
        if versioned is not None:
            grants = {(versioned, OBJECTS)}
    if call.operation == "DeleteObjects":
        # DeleteObjects is authorised key by key: an entry naming a VersionId deletes that
        # version (s3:DeleteObjectVersion), one without only adds a delete marker.
        grants = {
            ("s3:DeleteObjectVersion" if entry.get("VersionId") else "s3:DeleteObject", OBJECTS)
            for entry in call.params["Delete"]["Objects"]
        }
    if call.presigned and "versionId=" in call.params.get("url", ""):
        # A download link naming a version: GetObject?versionId= is s3:GetObjectVersion.
        grants = {("s3:GetObjectVersion", OBJECTS)}
    return grants


def _dynamodb_grants(call: Call, _world: World) -> set[Grant] | None:
    params = call.params
    if call.operation == "TransactWriteItems":
        grants = set()
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            grants.add((TRANSACTION_ACTIONS[kind], _table(body["TableName"])))
        return grants
    if call.operation == "Query":
        resource = _table(params["TableName"])
        if "IndexName" in params:
            resource = f"{resource}/index/{params['IndexName']}"
        return {("dynamodb:Query", resource)}
    if call.operation in DYNAMODB_ITEM_ACTIONS:
        return {(DYNAMODB_ITEM_ACTIONS[call.operation], _table(params["TableName"]))}
    if call.operation == "BatchGetItem":
        return {("dynamodb:BatchGetItem", _table(name)) for name in params["RequestItems"]}
    if call.operation == "BatchWriteItem":
        # Authorised as its own action, whatever the requests inside (Put or Delete).
        return {("dynamodb:BatchWriteItem", _table(name)) for name in params["RequestItems"]}
    if call.operation == "Scan":
        return {("dynamodb:Scan", _table(params["TableName"]))}
    return None


def _events_grants(call: Call, _world: World) -> set[Grant] | None:
    if call.operation != "PutEvents":
        return None
    buses = {entry.get("EventBusName", "default") for entry in call.params["Entries"]}
    assert buses == {NAMES["EVENT_BUS_NAME"]}, buses
    return {("events:PutEvents", "event_bus")}


def _sqs_grants(call: Call, world: World) -> set[Grant] | None:
    if call.operation not in SQS_ACTIONS:
        return None
    queue = {
        world.queues["ingest"]: "ingest_queue",
        world.queues["ingest-dlq"]: "ingest_dlq",
        world.queues["parking"]: "parking_queue",
        world.queues["transfer"]: "transfer_queue",
        world.queues["transfer-dlq"]: "transfer_dlq",
    }[call.params["QueueUrl"]]
    return {(SQS_ACTIONS[call.operation], queue)}


def granted(function: str) -> set[Grant]:
    """What permissions.json lets the function's role do."""
    return {
        (action, resource)
        for statement in permissions_file()["functions"][function]
        for action in statement["actions"]
        for resource in statement["resources"]
    }


# ---- scenarios -------------------------------------------------------------------------------

SMALL = b"hello world"
BIG = 7 * MiB  # above the world's 6 MiB multipart threshold: two parts of 5 MiB and 2 MiB


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _upload(world: World, content: bytes = SMALL, **fields: Any) -> dict[str, Any]:
    body = {
        "file_name": "notes.txt",
        "content_type": "text/plain",
        "content": base64.b64encode(content).decode(),
        "metadata": {"project": "kumo", "year": 2026},
        **fields,
    }
    return world.doc(world.http("POST", "/documents", key="editor", json_body=body, expect=201))


def _presigned(world: World, size: int, *, sha256: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"file_name": "big.bin", "size": size, "metadata": {}}
    if sha256 is not None:
        body["sha256"] = sha256
    return world.doc(world.http("POST", "/documents", key="editor", json_body=body, expect=201))


def _key_of(upload: Mapping[str, Any]) -> str:
    if upload["method"] == "POST":
        return str(upload["fields"]["key"])
    url = upload["url"] if upload["method"] == "PUT" else upload["parts"][0]["url"]
    path = str(urlsplit(url).path)
    return path.lstrip("/").removeprefix(NAMES["S3_BUCKET"] + "/")


def _upload_parts(world: World, upload: Mapping[str, Any], size: int) -> list[dict[str, Any]]:
    """What a client does with presigned part URLs (the uploads are not a function's calls)."""
    key = _key_of(upload)
    upload_id = parse_qs(urlsplit(upload["parts"][0]["url"]).query)["uploadId"][0]
    part_size = int(upload["part_size"])
    parts = []
    for part in upload["parts"]:
        number = int(part["part_number"])
        length = min(part_size, size - (number - 1) * part_size)
        etag = world.s3.upload_part(
            Bucket=NAMES["S3_BUCKET"],
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=b"p" * length,
        )["ETag"]
        parts.append({"part_number": number, "etag": etag})
    return parts


def _content_key(document: Mapping[str, Any], revision: int) -> str:
    return content_key(ContentRef(DocumentId.parse(document["document_id"]), revision))


def _restored(world: World, document: Mapping[str, Any], consumer: str) -> None:
    """S3 finishing a restore (moto emits no Object Restore Completed event itself)."""
    expiry = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    world.send_storage_event(
        "Object Restore Completed",
        _content_key(document, 1),
        **{"restore-expiry-time": expiry, "source-storage-class": "GLACIER"},
    )
    world.drain(consumer)


def users_scenario(world: World) -> None:
    """Every /users route, idempotent replays, the last-admin rule and a failing dependency."""
    admin_id = world.doc(world.http("GET", "/me"))["user_id"]
    new_editor = {"name": "editor", "role": "editor"}
    replayed = {"Idempotency-Key": "create-editor"}
    editor = world.doc(
        world.http("POST", "/users", json_body=new_editor, headers=replayed, expect=201)
    )
    world.http("POST", "/users", json_body=new_editor, headers=replayed, expect=201)
    world.keys["editor"] = editor["api_key"]
    reader = world.doc(
        world.http("POST", "/users", json_body={"name": "reader", "role": "reader"}, expect=201)
    )
    world.keys["reader"] = reader["api_key"]
    second = world.doc(
        world.http("POST", "/users", json_body={"name": "second", "role": "admin"}, expect=201)
    )["user_id"]
    world.http("GET", "/users")
    world.http("GET", f"/users/{second}")
    world.http("PATCH", f"/users/{second}", json_body={"role": "editor"})
    world.http("PATCH", f"/users/{second}", json_body={"role": "admin"})
    world.http("POST", f"/users/{second}/keys", expect=201)
    world.http("DELETE", f"/users/{second}", expect=204)
    world.http("PATCH", f"/users/{admin_id}", json_body={"disabled": True}, expect=409)
    # DynamoDB fails the write: 503, and the request's Idempotency-Key claim is released.
    world.outages.add("TransactWriteItems")
    world.http(
        "POST",
        "/users",
        json_body={"name": "late", "role": "reader"},
        headers={"Idempotency-Key": "table-down"},
        expect=503,
    )
    world.outages.clear()


def meta_scenario(world: World) -> None:
    """Health (shallow and deep), the OpenAPI document and the caller."""
    world.http("GET", "/healthcheck", key=None)
    world.http("GET", "/healthcheck", key=None, query={"deep": "true"})
    world.http("GET", "/docs", key=None)
    world.http("GET", "/me", key="reader")


def documents_scenario(world: World, consumer: str) -> None:
    """Uploads of every kind, reads, patches, replaces, deletes, archive and restore."""
    # Direct upload, replayed with its Idempotency-Key; then read it every way.
    key = {"Idempotency-Key": "first-upload"}
    body = {
        "file_name": "a.txt",
        "content_type": "text/plain",
        "content": base64.b64encode(SMALL).decode(),
    }
    first = world.doc(
        world.http("POST", "/documents", key="editor", json_body=body, headers=key, expect=201)
    )
    world.http("POST", "/documents", key="editor", json_body=body, headers=key, expect=201)
    world.drain(consumer)
    doc_id = first["document_id"]
    world.http("GET", "/documents", key="reader")
    world.http("GET", "/documents", key="reader", query={"state": "active", "limit": "1"})
    # Searches (§10): an equality, a range, and plain filters on the listing.
    world.http("GET", "/documents", key="reader", query={"meta.project": "kumo"})
    world.http("GET", "/documents", key="reader", query={"meta.year.min": "2000"})
    world.http("GET", "/documents", key="reader", query={"content_type": "text/plain"})
    world.http("GET", f"/documents/{doc_id}", key="reader")
    world.http("GET", f"/documents/{doc_id}/content", key="reader")
    world.http("GET", f"/documents/{doc_id}/content", key="reader", query={"redirect": "false"})
    # A record saved before records named their object version: its link names none.
    world.admin.client("dynamodb").update_item(
        TableName=NAMES["DOCUMENTS_TABLE"],
        Key={"pk": {"S": f"DOC#{doc_id}"}},
        UpdateExpression="REMOVE content_version",
    )
    world.http("GET", f"/documents/{doc_id}/content", key="reader")
    # Metadata: patched (the sidecar event is verified), a stale If-Match, a corrupted sidecar.
    world.http(
        "PATCH",
        f"/documents/{doc_id}",
        key="editor",
        json_body={"project": "kumo"},
        headers={"If-Match": '"1"'},
    )
    world.drain(consumer)
    world.http(
        "PATCH",
        f"/documents/{doc_id}",
        key="editor",
        json_body={"x": 1},
        headers={"If-Match": '"1"'},
        expect=412,
    )
    world.upload_object(sidecar_key(DocumentId.parse(doc_id)), b'{"tampered": true}')
    world.drain(consumer)
    # Direct replace: the old revision's own event finds it stale.
    world.http(
        "PUT",
        f"/documents/{doc_id}",
        key="editor",
        json_body={"file_name": "a2.txt", "content": base64.b64encode(b"new content").decode()},
    )
    world.drain(consumer)

    # Presigned PUT (declared sha256), POST (none: ingest hashes it) and a wrong size.
    put = _presigned(world, len(SMALL), sha256=_sha256(SMALL))
    world.upload_object(_key_of(put["upload"]), SMALL, checksum=True)
    post = _presigned(world, len(SMALL))
    assert post["upload"]["method"] == "POST"
    world.upload_object(_key_of(post["upload"]), SMALL)
    rejected = _presigned(world, len(SMALL))
    world.upload_object(_key_of(rejected["upload"]), SMALL + b"!")
    world.drain(consumer)

    # Multipart: fresh part URLs, the parts, completion.
    multi = _presigned(world, BIG)
    assert multi["upload"]["method"] == "MULTIPART"
    world.http(
        "POST",
        f"/documents/{multi['document_id']}/uploads/parts",
        key="editor",
        json_body={"part_numbers": [1, 2]},
    )
    parts = _upload_parts(world, multi["upload"], BIG)
    world.http(
        "POST",
        f"/documents/{multi['document_id']}/uploads/complete",
        key="editor",
        json_body={"parts": parts},
    )
    world.drain(consumer)

    # Replacements given up: a pending single-object replace and a multipart one, deleted.
    for size in (len(SMALL), BIG):
        doomed = _upload(world)
        world.http(
            "PUT",
            f"/documents/{doomed['document_id']}",
            key="editor",
            json_body={"file_name": "n.bin", "size": size},
            expect=202,
        )
        world.http("DELETE", f"/documents/{doomed['document_id']}", key="editor", expect=204)
    world.drain(consumer)

    # Archive, restore, read while restoring, completion, then a permanent restore.
    archived = _upload(world)
    path = f"/documents/{archived['document_id']}"
    world.drain(consumer)
    world.http("POST", f"{path}/archive", key="editor", json_body={"storage_class": "GLACIER"})
    world.drain(consumer)
    world.http("GET", f"{path}/content", key="reader", expect=409)
    world.http("POST", f"{path}/restore", key="editor", json_body={"days": 1}, expect=202)
    world.drain(consumer)
    world.http("GET", f"{path}/content", key="reader", expect=(202, 302))
    _restored(world, archived, consumer)
    world.http("POST", f"{path}/restore", key="editor", json_body={"permanent": True})
    world.drain(consumer)

    # A permanent restore requested while archived: ingest copies it back on completion.
    permanent = _upload(world)
    world.http("POST", f"/documents/{permanent['document_id']}/archive", key="editor")
    world.http(
        "POST",
        f"/documents/{permanent['document_id']}/restore",
        key="editor",
        json_body={"permanent": True},
        expect=202,
    )
    world.drain(consumer)
    _restored(world, permanent, consumer)

    # A restored copy S3 reports expired.
    expiring = _upload(world)
    world.http("POST", f"/documents/{expiring['document_id']}/archive", key="editor")
    world.http("POST", f"/documents/{expiring['document_id']}/restore", key="editor", expect=202)
    world.drain(consumer)
    _restored(world, expiring, consumer)
    world.send_storage_event("Object Restore Expired", _content_key(expiring, 1))
    world.drain(consumer)

    # An object whose document is long gone, and one that is not ours.
    gone = DocumentId.parse(ulid_for(datetime.now(UTC) - timedelta(days=3)))
    world.upload_object(content_key(ContentRef(gone, 1)), SMALL)
    world.upload_object("exports/report.csv", SMALL)
    world.drain(consumer)
    world.http("DELETE", path, key="editor", expect=204)
    world.drain(consumer)


def reconcile_scenario(world: World, consumer: str) -> None:
    """Drift for reconciliation two days later: lost uploads, abandoned replaces, restores."""
    _presigned(world, len(SMALL), sha256=_sha256(SMALL))  # never uploaded
    _presigned(world, BIG)  # a multipart upload never completed
    replaced = _upload(world)
    world.http(
        "PUT",
        f"/documents/{replaced['document_id']}",
        key="editor",
        json_body={"file_name": "r.bin", "size": 5},
        expect=202,
    )  # never uploaded
    world.drain(consumer)
    arrived = _presigned(world, len(SMALL), sha256=_sha256(SMALL))
    world.upload_object(_key_of(arrived["upload"]), SMALL, checksum=True)
    world.sqs.purge_queue(QueueUrl=world.queues["ingest"])  # its event was lost
    restoring = _upload(world)
    world.http("POST", f"/documents/{restoring['document_id']}/archive", key="editor")
    world.http("POST", f"/documents/{restoring['document_id']}/restore", key="editor", expect=202)
    # A permanent restore whose completion event was lost: reconcile copies it back itself.
    permanent = _upload(world)
    world.http("POST", f"/documents/{permanent['document_id']}/archive", key="editor")
    world.http(
        "POST",
        f"/documents/{permanent['document_id']}/restore",
        key="editor",
        json_body={"permanent": True},
        expect=202,
    )
    restored = _upload(world)
    world.http("POST", f"/documents/{restored['document_id']}/archive", key="editor")
    world.http("POST", f"/documents/{restored['document_id']}/restore", key="editor", expect=202)
    world.drain(consumer)
    _restored(world, restored, consumer)
    report = world.reconcile_later(timedelta(days=2))
    assert report["uploads_expired"] == 2, report
    assert report["replacements_abandoned"] == 1, report
    assert report["uploads_confirmed"] == 1, report
    assert report["restores_completed"] >= 2, report
    assert report["restores_expired"] >= 1, report


def _big_active(world: World) -> dict[str, Any]:
    """A document above the world's sync_copy_limit (a completed multipart upload)."""
    multi = _presigned(world, BIG)
    parts = _upload_parts(world, multi["upload"], BIG)
    return world.doc(
        world.http(
            "POST",
            f"/documents/{multi['document_id']}/uploads/complete",
            key="editor",
            json_body={"parts": parts},
        )
    )


def transfer_scenario(world: World, consumer: str) -> None:
    """Large archives and permanent restores through the transfer worker, and their failures."""
    # Archive: 202 archiving, the worker copies and commits; then a large permanent restore.
    archived = _big_active(world)
    path = f"/documents/{archived['document_id']}"
    reply = world.http("POST", f"{path}/archive", key="editor", expect=202)
    assert world.doc(reply)["state"] == "archiving"
    world.drain_transfers()
    world.drain(consumer)
    assert world.doc(world.http("GET", path, key="reader"))["state"] == "archived"
    world.http("POST", f"{path}/restore", key="editor", expect=202)
    _restored(world, archived, consumer)
    world.http("POST", f"{path}/restore", key="editor", json_body={"permanent": True}, expect=202)
    world.drain_transfers()
    assert world.doc(world.http("GET", path, key="reader"))["state"] == "active"
    # A permanent restore asked for while restoring: the event processor starts the copy.
    permanent = _big_active(world)
    path = f"/documents/{permanent['document_id']}"
    world.http("POST", f"{path}/archive", key="editor", expect=202)
    world.drain_transfers()
    world.http("POST", f"{path}/restore", key="editor", expect=202)
    world.http("POST", f"{path}/restore", key="editor", json_body={"permanent": True})
    _restored(world, permanent, consumer)
    world.drain_transfers()
    assert world.doc(world.http("GET", path, key="reader"))["state"] == "active"
    # Deleted while archiving: the copy is cancelled.
    cancelled = _big_active(world)
    world.http("POST", f"/documents/{cancelled['document_id']}/archive", key="editor", expect=202)
    world.http("DELETE", f"/documents/{cancelled['document_id']}", key="editor", expect=204)
    world.drain_transfers()
    # S3 failing: the worker sends the order again with a delay (it is lost here, so the
    # copy stalls); a copy whose worker never ran; both are rolled back by reconcile, which
    # also starts the worker's copy for a permanent restore whose completion was lost.
    failing = _big_active(world)
    world.http("POST", f"/documents/{failing['document_id']}/archive", key="editor", expect=202)
    world.outages.add("UploadPartCopy")
    try:
        world.drain_transfers()
    finally:
        world.outages.discard("UploadPartCopy")
    stalled = _big_active(world)
    world.http("POST", f"/documents/{stalled['document_id']}/archive", key="editor", expect=202)
    world.sqs.purge_queue(QueueUrl=world.queues["transfer"])
    # An order whose worker kept dying: SQS moved it to the transfer DLQ, where reconcile
    # finds it (and rolls the copy back at once, stalled or not).
    dead = _big_active(world)
    world.http("POST", f"/documents/{dead['document_id']}/archive", key="editor", expect=202)
    order = world.sqs.receive_message(QueueUrl=world.queues["transfer"])["Messages"][0]
    world.sqs.send_message(QueueUrl=world.queues["transfer-dlq"], MessageBody=order["Body"])
    world.sqs.delete_message(
        QueueUrl=world.queues["transfer"], ReceiptHandle=order["ReceiptHandle"]
    )
    # A worker that dies right after CompleteMultipartUpload: the redelivered order
    # recognises its own completion (ListParts) and commits, or (the document deleted
    # meanwhile) deletes it by VersionId; an order that then reached the DLQ makes reconcile
    # find the unrecorded completion and delete it by VersionId.
    for fate in ("redelivered", "deleted", "dead-lettered"):
        dying = _big_active(world)
        world.http("POST", f"/documents/{dying['document_id']}/archive", key="editor", expect=202)
        order = world.sqs.receive_message(QueueUrl=world.queues["transfer"])["Messages"][0]
        world.sqs.send_message(QueueUrl=world.queues["transfer"], MessageBody=order["Body"])
        world.sqs.delete_message(
            QueueUrl=world.queues["transfer"], ReceiptHandle=order["ReceiptHandle"]
        )
        world.after_call["CompleteMultipartUpload"] = die
        world.drain_transfers(limit=1, empty=False)
        path = f"/documents/{dying['document_id']}"
        if fate == "deleted":
            world.http("DELETE", path, key="editor", expect=204)
        if fate in ("redelivered", "deleted"):
            world.sqs.send_message(QueueUrl=world.queues["transfer"], MessageBody=order["Body"])
            world.drain_transfers()
        if fate == "redelivered":
            assert world.doc(world.http("GET", path, key="reader"))["state"] == "archived"
        elif fate == "dead-lettered":
            dead_after_completion = dying
            world.sqs.send_message(QueueUrl=world.queues["transfer-dlq"], MessageBody=order["Body"])
    # Deleted while the worker completes: the commit is refused and the version it made is
    # deleted by VersionId.
    raced = _big_active(world)
    path = f"/documents/{raced['document_id']}"
    world.http("POST", f"{path}/archive", key="editor", expect=202)
    world.after_call["CompleteMultipartUpload"] = lambda: world.http(
        "DELETE", path, key="editor", expect=204
    )
    world.drain_transfers()
    # The content rewritten while its copy waits (a leaked upload URL): the worker's own
    # check finds the copy still open (ListParts) and rolls it back.
    rewritten = _big_active(world)
    world.http("POST", f"/documents/{rewritten['document_id']}/archive", key="editor", expect=202)
    world.upload_object(_content_key(rewritten, 1), b"other bytes")
    world.drain_transfers()
    lost = _big_active(world)
    path = f"/documents/{lost['document_id']}"
    world.http("POST", f"{path}/archive", key="editor", expect=202)
    world.drain_transfers()
    world.http("POST", f"{path}/restore", key="editor", expect=202)
    world.http("POST", f"{path}/restore", key="editor", json_body={"permanent": True})
    report = world.reconcile_later(timedelta(days=2))
    assert report["copies_failed"] >= 3, report
    for document in (failing, stalled, dead, dead_after_completion):
        state = world.doc(world.http("GET", f"/documents/{document['document_id']}", key="reader"))
        assert state["state"] == "active", state
    head = world.s3.head_object(
        Bucket=NAMES["S3_BUCKET"], Key=_content_key(dead_after_completion, 1)
    )
    assert head.get("StorageClass", "STANDARD") == "STANDARD", head


def nothing_lost_scenario(world: World, consumer: str) -> None:
    """§11: revisions, history, legal holds and the trash, down to reconcile's purge and prune.

    The world keeps one revision and the trash for no time (MAX_REVISIONS, REVISION_DAYS,
    TRASH_DAYS), so the reconcile run at the end purges and prunes what this leaves.
    """
    # A presigned replace the event processor confirms (it tags the superseded revision);
    # the revisions listed and read; the first one restored within the request.
    kept = _upload(world)
    path = f"/documents/{kept['document_id']}"
    world.drain(consumer)
    replace = world.doc(
        world.http(
            "PUT",
            path,
            key="editor",
            json_body={"file_name": "k.txt", "size": len(SMALL)},
            expect=202,
        )
    )
    world.upload_object(_key_of(replace["upload"]), SMALL)
    world.drain(consumer)
    revisions = world.doc(world.http("GET", f"{path}/revisions", key="reader"))["items"]
    assert [r["revision"] for r in revisions] == [2, 1], revisions
    world.http("GET", f"{path}/revisions/1/content", key="reader", query={"redirect": "false"})
    world.http("POST", f"{path}/revisions/1/restore", key="editor")
    world.drain(consumer)
    world.http("GET", f"{path}/history", key="reader")

    # A revision above sync_copy_limit restored by the transfer worker (202).
    big = _big_active(world)
    path = f"/documents/{big['document_id']}"
    world.http(
        "PUT",
        path,
        key="editor",
        json_body={"file_name": "b.txt", "content": base64.b64encode(SMALL).decode()},
    )
    world.drain(consumer)
    world.http("POST", f"{path}/revisions/1/restore", key="editor", expect=202)
    world.drain_transfers()
    world.drain(consumer)
    assert world.doc(world.http("GET", path, key="reader"))["state"] == "active"

    # A legal hold: in force at once, placed on every version by the worker, then released.
    hold = {"enabled": True, "reason": "litigation"}
    world.http("PUT", f"{path}/legal-hold", json_body=hold)
    world.http("DELETE", path, key="editor", expect=409)
    world.drain_transfers()
    held = world.doc(world.http("GET", path, key="reader"))["legal_hold"]
    assert held is not None, held
    assert held["applied"], held
    world.http("PUT", f"{path}/legal-hold", json_body={"enabled": False})
    world.drain_transfers()

    # The trash: deleted, listed, its history read, restored; deleted again and purged by an
    # admin, whose history outlives it.
    trashed = _upload(world)
    path = f"/documents/{trashed['document_id']}"
    world.drain(consumer)
    world.http("DELETE", path, key="editor", expect=204)
    world.http("GET", path, key="reader", expect=404)
    world.http("GET", "/trash", key="editor")
    world.http("GET", f"{path}/history", key="editor")
    world.http("POST", f"/trash/{trashed['document_id']}/restore", key="editor")
    world.http("DELETE", path, key="editor", expect=204)
    world.http("DELETE", f"/trash/{trashed['document_id']}", expect=204)
    world.http("GET", f"{path}/history")
    # A pending first upload deleted: aborted (its history expires), not trashed.
    pending = _presigned(world, len(SMALL))
    world.http("DELETE", f"/documents/{pending['document_id']}", key="editor", expect=204)
    # Left for reconcile: a trashed document to purge, and the revisions made above to prune.
    doomed = _upload(world)
    world.drain(consumer)
    world.http("DELETE", f"/documents/{doomed['document_id']}", key="editor", expect=204)
    world.drain(consumer)
    # A replace whose object arrived but whose event was lost: reconcile confirms it, and
    # tags the revision it superseded.
    late = _upload(world)
    world.drain(consumer)
    replace = world.doc(
        world.http(
            "PUT",
            f"/documents/{late['document_id']}",
            key="editor",
            json_body={"file_name": "l.txt", "size": len(SMALL)},
            expect=202,
        )
    )
    world.upload_object(_key_of(replace["upload"]), SMALL)
    world.lose_storage_events()
    report = world.reconcile_later(timedelta(days=2))
    assert report["uploads_confirmed"] >= 1, report
    assert report["documents_purged"] >= 1, report
    assert report["revisions_pruned"] >= 2, report
    world.http("GET", f"/documents/{doomed['document_id']}/history")


def dead_letter_scenario(world: World) -> None:
    """Messages dlq_retry cannot process: re-queued once per run, parked after the limit."""
    dlq = world.queues["ingest-dlq"]
    world.sqs.send_message(QueueUrl=dlq, MessageBody="not an event")
    world.sqs.send_message(
        QueueUrl=dlq,
        MessageBody="not an event either",
        MessageAttributes={"kumocms-retries": {"DataType": "Number", "StringValue": "1"}},
    )
    tally = world.dlq_retry({}, None)
    assert tally["requeued"] == 1, tally
    assert tally["parked"] == 1, tally


def malformed_record_scenario(world: World) -> None:
    """A record ingest cannot read is reported, not swallowed."""
    world.sqs.send_message(QueueUrl=world.queues["ingest"], MessageBody="{not json")
    before = world.ingest_failures
    world.drain("ingest")
    assert world.ingest_failures == before + 1


def run_world(consumer: str) -> dict[str, list[Call]]:
    """Every scenario in one fresh world; the S3 events go to `consumer`."""
    with mock_aws():
        world = World()
        world.bootstrap_admin()
        users_scenario(world)
        meta_scenario(world)
        documents_scenario(world, consumer)
        reconcile_scenario(world, consumer)
        if consumer == "ingest":
            malformed_record_scenario(world)
        else:
            dead_letter_scenario(world)
        transfer_scenario(world, consumer)
        nothing_lost_scenario(world, consumer)
        recorded = {name: list(recorder.calls) for name, recorder in world.recorders.items()}
        grants = {name: _grants(calls, world) for name, calls in recorded.items()}
    return {"calls": recorded, "grants": grants}  # type: ignore[dict-item]


def _grants(calls: list[Call], world: World) -> set[Grant]:
    found: set[Grant] = set()
    for call in calls:
        found |= grants_of(call, world)
    return found


def large_object_copy() -> set[Grant]:
    """What the managed multipart copy of an object over 5 GB needs (success and failure).

    `S3BlobStore` switches from CopyObject to s3transfer's multipart copy above
    `multipart_copy_threshold`; here the threshold is 1 byte so moto can show the calls, and
    an injected failure of UploadPartCopy shows the abort that follows.
    """
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        recorder = Recorder()
        recorder.attach(session)
        setup: Any = boto3.client("s3", region_name=REGION)
        setup.create_bucket(
            Bucket=NAMES["S3_BUCKET"], CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        client = session.client("s3")
        store = S3BlobStore(
            client, NAMES["S3_BUCKET"], clock=SystemClock(), multipart_copy_threshold=1
        )
        refs = [ContentRef(DocumentId.parse(ulid_for(datetime.now(UTC))), n) for n in (1, 2)]
        for ref in refs:
            setup.put_object(Bucket=NAMES["S3_BUCKET"], Key=content_key(ref), Body=SMALL)
        store.archive(refs[0], StorageClass.GLACIER)

        def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            error = {"Error": {"Code": "InternalError", "Message": "injected"}}
            return AWSResponse("https://s3", 500, HTTPHeaders(), None), error

        handler: Any = fail  # answers in botocore's place
        client.meta.events.register("before-call.s3.UploadPartCopy", handler)
        with pytest.raises(Exception, match="multipart copy"):
            store.archive(refs[1], StorageClass.GLACIER)
        operations = {call.operation for call in recorder.calls}
        assert {"UploadPartCopy", "AbortMultipartUpload"} <= operations, operations
        grants: set[Grant] = set()
        for call in recorder.calls:
            grants |= set(S3_ACTIONS[call.operation])
        return grants


# ---- the comparison --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worlds() -> list[dict[str, Any]]:
    """Both worlds: the S3 events consumed by ingest, then re-driven from the DLQ."""
    return [run_world("ingest"), run_world("dlq_retry")]


@pytest.fixture(scope="module")
def observed(worlds: list[dict[str, Any]]) -> dict[str, set[Grant]]:
    """The grants each function needed, over both worlds."""
    large_copy = large_object_copy()
    needed: dict[str, set[Grant]] = {}
    for name in FUNCTIONS:
        calls = [call for world in worlds for call in world["calls"][name]]
        needed[name] = set().union(*(world["grants"][name] for world in worlds))
        if any(call.operation == "CopyObject" for call in calls):
            # The same code copies objects over 5 GB with a multipart copy instead.
            needed[name] |= large_copy
    needed["ingest"] |= set(EVENT_SOURCE_MAPPING)
    # The transfer queue's poller, likewise (the function itself sends hand-overs there).
    needed["transfer"] |= {(action, "transfer_queue") for action, _ in EVENT_SOURCE_MAPPING}
    return needed


def _explain(function: str, needed: set[Grant], allowed: set[Grant]) -> str:
    lines = [f"permissions.json and the calls of {function} differ:"]
    lines += [f"  called but not granted: {a} on {r}" for a, r in sorted(needed - allowed)]
    lines += [f"  granted but never called: {a} on {r}" for a, r in sorted(allowed - needed)]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_role_grants_exactly_what_the_function_calls(
    function: str, observed: dict[str, set[Grant]]
) -> None:
    allowed = granted(function)
    assert observed[function] == allowed, _explain(function, observed[function], allowed)


@pytest.mark.slow
def test_every_function_was_exercised(observed: dict[str, set[Grant]]) -> None:
    assert all(observed[name] for name in FUNCTIONS), {
        name: len(grants) for name, grants in observed.items()
    }


def test_every_function_role_may_write_its_logs_and_use_a_key_only_when_given() -> None:
    common = permissions_file()["every_function"]
    assert common["logs"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert common["kms_key"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert set(common["xray_tracing"]) == {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}


def test_only_the_transfer_worker_may_place_or_lift_legal_holds() -> None:
    # §11: a principal with delete rights alone cannot lift a hold; the worker places them.
    holders = {
        function
        for function in FUNCTIONS
        if ("s3:PutObjectLegalHold", OBJECTS) in granted(function)
    }
    assert holders == {"transfer"}, holders


def _item_keys(call: Call) -> Iterator[tuple[str, str, str]]:
    """(IAM action, table, partition key) of every item a DynamoDB call writes or reads."""
    if call.service != "dynamodb":
        return
    items: list[tuple[str, Mapping[str, Any]]] = []
    if call.operation == "TransactWriteItems":
        for entry in call.params["TransactItems"]:
            ((kind, body),) = entry.items()
            items.append((TRANSACTION_ACTIONS[kind], body))
    elif call.operation in DYNAMODB_ITEM_ACTIONS:
        items.append((DYNAMODB_ITEM_ACTIONS[call.operation], call.params))
    for action, body in items:
        key = body.get("Item") or body.get("Key") or {}
        yield action, _table(body["TableName"]), key["pk"]["S"]


@pytest.mark.slow
def test_leading_key_conditions_hold_for_every_recorded_call(
    worlds: list[dict[str, Any]],
) -> None:
    checked = 0
    for function, statement in iter_statements():
        for condition in statement.get("conditions", []):
            assert condition["variable"] == "dynamodb:LeadingKeys", condition
            for world in worlds:
                for call in world["calls"][function]:
                    for action, table, key in _item_keys(call):
                        if action in statement["actions"] and table in statement["resources"]:
                            assert any(fnmatch(key, value) for value in condition["values"]), (
                                function,
                                call.operation,
                                key,
                            )
                            checked += 1
    assert checked, "no recorded call was subject to a condition"


def iter_statements() -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(function, statement) for every statement of permissions.json."""
    for function, statements in permissions_file()["functions"].items():
        for statement in statements:
            yield function, statement


def test_statements_are_sorted_and_unique() -> None:
    for function, statement in iter_statements():
        assert statement["actions"] == sorted(set(statement["actions"])), (function, statement)
    json.dumps(permissions_file())  # plain JSON, readable by iam.tf's jsondecode
