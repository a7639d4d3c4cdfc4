"""End to end inside `mock_aws`: real adapters, real handlers, S3 -> EventBridge -> SQS -> ingest.

Decorator mode cannot serve presigned URLs over HTTP, so the test plays the client with boto3
(the local-stack tests use the real URLs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from entrypoints.bootstrap import build_runtime, fixed
from entrypoints.functions.authorizer import make_authorizer
from entrypoints.functions.ingest import make_ingest_handler
from entrypoints.http.api import make_http_handler
from entrypoints.http.routes import FUNCTIONS as HTTP_FUNCTIONS
from entrypoints.local.gateway import Gateway
from entrypoints.local.provision import Resources, provision
from entrypoints.local.pump import QueuePump
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import EnvSettings
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from kumocms.usecases.users import bootstrap_admin

REGION = "eu-west-1"
ADMIN = "kumo_end-to-end-admin-key-000000000000"


class Stack:
    def __init__(self, session: boto3.Session, resources: Resources) -> None:
        env = resources.environment()
        self.resources = resources
        self.session = session
        self.runtimes = {
            name: build_runtime(
                EnvSettings.from_environ(env, required=f.needs.required_settings()),
                f.needs,
                session,
            )
            for name, f in FUNCTIONS.items()
        }
        handlers = {n: make_http_handler(n, fixed(self.runtimes[n])) for n in HTTP_FUNCTIONS}
        self.gateway = Gateway(
            handlers,
            make_authorizer(fixed(self.runtimes["authorizer"])),
            region=REGION,
            cache_ttl_seconds=0,
        )
        sqs = session.client("sqs")
        arn = sqs.get_queue_attributes(
            QueueUrl=resources.ingest_queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.pump = QueuePump(
            sqs,
            resources.ingest_queue_url,
            make_ingest_handler(fixed(self.runtimes["ingest"])),
            queue_arn=arn,
            region=REGION,
        )
        bootstrap_admin(self.runtimes["users"].ports, name="admin", api_key=ADMIN)
        self.s3 = session.client("s3")

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = b"" if body is None else json.dumps(body).encode()
        all_headers = {
            "Authorization": f"Bearer {ADMIN}",
            "Content-Type": "application/json",
            **headers,
        }
        response = self.gateway.handle(method, path, headers=list(all_headers.items()), body=data)
        payload = json.loads(response.body) if response.body else None
        return response.status, payload, response.headers

    def key(self, document_id: str, revision: int = 1) -> str:
        return content_key(ContentRef(DocumentId.parse(document_id), revision))


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        yield Stack(session, provision(session))


def test_presigned_upload_to_download(stack: Stack) -> None:
    content = b"end to end " * 100
    status, doc, _ = stack.call(
        "POST",
        "/documents",
        {
            "file_name": "e2e.txt",
            "content_type": "text/plain",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "metadata": {"k": 1},
        },
    )
    assert status == 201
    assert doc["state"] == "pending"
    assert doc["upload"]["method"] == "PUT"
    headers = doc["upload"]["headers"]
    stack.s3.put_object(
        Bucket=stack.resources.bucket,
        Key=stack.key(doc["document_id"]),
        Body=content,
        ContentType=headers["Content-Type"],
    )
    assert stack.pump.drain() >= 1
    status, active, _ = stack.call("GET", f"/documents/{doc['document_id']}")
    assert status == 200
    assert active["state"] == "active"
    assert active["sha256"] == hashlib.sha256(content).hexdigest()
    assert active["download"]["url"].startswith("https://")
    sidecar = stack.s3.get_object(
        Bucket=stack.resources.bucket,
        Key=stack.key(doc["document_id"]).rsplit("/", 1)[0] + "/meta.json",
    )
    assert json.loads(sidecar["Body"].read()) == {"k": 1}


def test_archive_restore_replace_patch_delete(stack: Stack) -> None:
    import base64

    status, doc, _ = stack.call(
        "POST", "/documents", {"file_name": "a.txt", "content": base64.b64encode(b"v1").decode()}
    )
    doc_id = doc["document_id"]
    stack.pump.drain()
    status, archived, _ = stack.call("POST", f"/documents/{doc_id}/archive")
    assert (status, archived["state"], archived["storage_class"]) == (200, "archived", "GLACIER")
    stack.pump.drain()  # the self-copy event changes nothing
    assert stack.call("GET", f"/documents/{doc_id}")[1]["version"] == archived["version"]
    status, _, headers = stack.call("POST", f"/documents/{doc_id}/restore")
    assert status == 202
    assert headers["Retry-After"]
    s3_object = stack.s3.head_object(Bucket=stack.resources.bucket, Key=stack.key(doc_id))
    assert s3_object["StorageClass"] == "GLACIER"
    # moto restores at once and sends no completion event: deliver the documented one.
    completed = {
        "version": "0",
        "id": "x",
        "detail-type": "Object Restore Completed",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "version": "0",
            "bucket": {"name": stack.resources.bucket},
            "object": {"key": stack.key(doc_id), "size": 2},
            "restore-expiry-time": "2099-01-01T00:00:00Z",
            "source-storage-class": "GLACIER",
        },
    }
    stack.session.client("sqs").send_message(
        QueueUrl=stack.resources.ingest_queue_url, MessageBody=json.dumps(completed)
    )
    stack.pump.drain()
    status, restored, _ = stack.call("GET", f"/documents/{doc_id}")
    assert restored["state"] == "restored"
    status, _, _ = stack.call("GET", f"/documents/{doc_id}/content")
    assert status == 302
    status, permanent, _ = stack.call("POST", f"/documents/{doc_id}/restore", {"permanent": True})
    assert (status, permanent["state"]) == (200, "active")
    stack.pump.drain()
    status, replaced, _ = stack.call(
        "PUT",
        f"/documents/{doc_id}",
        {"file_name": "b.txt", "content": base64.b64encode(b"v2").decode()},
        **{"If-Match": f'"{permanent["version"]}"'},
    )
    assert (status, replaced["file_name"]) == (200, "b.txt")
    stack.pump.drain()
    status, patched, _ = stack.call("PATCH", f"/documents/{doc_id}", {"x": [1, 2]})
    assert patched["metadata"] == {"x": [1, 2]}
    stack.pump.drain()
    assert stack.call("DELETE", f"/documents/{doc_id}")[0] == 204
    stack.pump.drain()
    assert stack.call("GET", f"/documents/{doc_id}")[0] == 404
    listing = stack.s3.list_objects_v2(Bucket=stack.resources.bucket)
    assert listing.get("KeyCount", 0) == 3  # in the trash: both revisions and the sidecar
    status, revisions, _ = stack.call("GET", "/trash")
    assert [item["document_id"] for item in revisions["items"]] == [doc_id]
    assert stack.call("DELETE", f"/trash/{doc_id}")[0] == 204
    stack.pump.drain()
    versions = stack.s3.list_object_versions(Bucket=stack.resources.bucket)
    assert versions.get("Versions", []) == []  # purged: every version, by its id
    assert versions.get("DeleteMarkers", []) == []
    status, history, _ = stack.call("GET", f"/documents/{doc_id}/history")
    assert status == 200
    assert history["items"][0]["event"] == "purged"
