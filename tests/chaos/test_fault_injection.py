"""Fault injection: documents driven through their lives while AWS misbehaves.

A share of every AWS request the handlers make fails (throttling, 5xx, read timeouts) through a
botocore hook. Clients retry like real clients (same Idempotency-Key on POSTs); the ingest queue
redrives failed records and its DLQ is re-driven by the DLQ-retry handler; reconciliation runs.
Then every document is compared with an independent model of what its history implies, no
content or metadata may be lost, and only the deliberately poisonous messages may be parked.

`CHAOS_DOCUMENTS` (default 200) and `CHAOS_FAULT_RATE` (default 0.15) size the run;
`nox -s chaos` runs it bigger.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.retries import standard
from moto import mock_aws

from entrypoints.bootstrap import build_runtime, fixed
from entrypoints.functions.authorizer import make_authorizer
from entrypoints.functions.dlq_retry import make_dlq_retry_handler
from entrypoints.functions.ingest import make_ingest_handler
from entrypoints.functions.reconcile import make_reconcile_handler
from entrypoints.http.api import make_http_handler
from entrypoints.http.routes import FUNCTIONS as HTTP_FUNCTIONS
from entrypoints.local import glacier
from entrypoints.local.gateway import Gateway, LambdaContext
from entrypoints.local.provision import provision
from entrypoints.local.pump import QueuePump
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import EnvSettings
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from kumocms.usecases.users import bootstrap_admin
from tests.support.faults import FaultInjector

pytestmark = pytest.mark.slow
REGION = "eu-west-1"
ADMIN = "kumo_chaos-admin-key-00000000000000000"
DOCUMENTS = int(os.environ.get("CHAOS_DOCUMENTS", "200"))
FAULT_RATE = float(os.environ.get("CHAOS_FAULT_RATE", "0.15"))
SEED = int(os.environ.get("CHAOS_SEED", "20261128"))
POISON = 3


@dataclass
class Doc:
    """What the model expects of one document."""

    id: str
    state: str
    content: bytes | None
    metadata: dict[str, Any] = field(default_factory=dict)
    pending: bytes | None = None  # content the client still has to upload
    pending_key: str | None = None
    gone: bool = False


class Harness:
    def __init__(self) -> None:
        glacier.install(0.0)
        setup = boto3.Session(region_name=REGION)  # provisioning and the clients' own uploads
        self.resources = provision(setup, visibility_timeout=1, max_receive_count=3)
        env = {
            **self.resources.environment(),
            "DLQ_MAX_RETRIES": "8",
            "DLQ_RETRY_DELAY_SECONDS": "0",
            "PENDING_UPLOAD_TTL_SECONDS": "3600",
            "ORPHAN_GRACE_SECONDS": "2",
        }
        session = boto3.Session(region_name=REGION)  # what the functions use: faults injected
        self.faults = FaultInjector(FAULT_RATE, seed=SEED).attach(session)
        self.runtimes = {}
        for name, function in FUNCTIONS.items():
            settings = EnvSettings.from_environ(env, required=function.needs.required_settings())
            self.runtimes[name] = build_runtime(settings, function.needs, session)
        handlers = {n: make_http_handler(n, fixed(self.runtimes[n])) for n in HTTP_FUNCTIONS}
        self.gateway = Gateway(
            handlers,
            make_authorizer(fixed(self.runtimes["authorizer"])),
            region=REGION,
            cache_ttl_seconds=300,
        )
        sqs = setup.client("sqs")
        arn = sqs.get_queue_attributes(
            QueueUrl=self.resources.ingest_queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sqs = sqs
        self.pump = QueuePump(
            sqs,
            self.resources.ingest_queue_url,
            make_ingest_handler(fixed(self.runtimes["ingest"])),
            queue_arn=arn,
            region=REGION,
        )
        self.dlq_retry = make_dlq_retry_handler(fixed(self.runtimes["dlq_retry"]))
        self.reconcile = make_reconcile_handler(fixed(self.runtimes["reconcile"]))
        self.s3 = setup.client("s3")  # the client side: uploads are not our code
        with self.faults.paused():
            bootstrap_admin(self.runtimes["users"].ports, name="admin", api_key=ADMIN)
        self.client_retries = 0

    # ---- a client that retries like a real one --------------------------------------------

    def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = None, **headers: str
    ) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        all_headers = {
            "Authorization": f"Bearer {ADMIN}",
            "Content-Type": "application/json",
            **headers,
        }
        for attempt in range(40):
            response = self.gateway.handle(
                method, path, headers=list(all_headers.items()), body=data
            )
            if response.status < 500:
                payload = json.loads(response.body) if response.body else None
                return response.status, payload
            assert response.status in (502, 503), response.body
            self.client_retries += 1
            del attempt
        raise AssertionError(f"{method} {path} kept failing")

    def background(self, rounds: int = 1) -> None:
        for _ in range(rounds):
            glacier.release_due()
            self.pump.drain(max_batches=20)
            self.dlq_retry({}, LambdaContext("dlq_retry"))

    def settle(self, docs: list[Doc], *, timeout: float = 120) -> None:
        """Stop injecting, let every retry path finish, bounded."""
        deadline = time.monotonic() + timeout
        with self.faults.paused():
            while time.monotonic() < deadline:
                glacier.release_due()
                self.pump.drain()
                self.dlq_retry({}, LambdaContext("dlq_retry"))
                self.reconcile({}, LambdaContext("reconcile"))
                if self._quiet() and not self._behind(docs):
                    return
                time.sleep(0.5)
            queues = {
                url.rsplit("/", 1)[1]: self.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["All"]
                )["Attributes"]
                for url in (self.resources.ingest_queue_url, self.resources.ingest_dlq_url)
            }
            behind = self._behind(docs)
        raise AssertionError(f"the system did not settle: {queues} {behind[:10]}")

    def _behind(self, docs: list[Doc]) -> list[tuple[str, str, str]]:
        """Documents still on their way (pending or restoring) to the model's state."""
        behind = []
        for doc in docs:
            if doc.gone:
                continue
            state = self.call("GET", f"/documents/{doc.id}")[1]["state"]
            if state != doc.state and state in ("pending", "restoring"):
                behind.append((doc.id, state, doc.state))
        return behind

    def _quiet(self) -> bool:
        for url in (self.resources.ingest_queue_url, self.resources.ingest_dlq_url):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            if any(value != "0" for value in attributes.values()):
                return False
        return glacier.pending() == 0


@pytest.fixture
def harness() -> Iterator[Harness]:
    original = standard.ExponentialBackoff.delay_amount
    # botocore's retry decisions stay its own; only the sleeping between attempts is skipped
    # so a few thousand injected faults take seconds rather than hours.
    standard.ExponentialBackoff.delay_amount = lambda self, context: 0  # type: ignore[method-assign]
    try:
        with mock_aws():
            yield Harness()
    finally:
        standard.ExponentialBackoff.delay_amount = original  # type: ignore[method-assign]
        glacier.uninstall()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_documents_survive_injected_faults(
    harness: Harness, progress: Callable[[str], None]
) -> None:
    rng = random.Random(SEED)
    docs: list[Doc] = []

    def upload(index: int) -> None:
        content = f"document {index} ".encode() * rng.randint(1, 40)
        metadata = {"n": index, "tag": rng.choice(["a", "b", "c"])}
        if rng.random() < 0.5:
            status, body = harness.call(
                "POST",
                "/documents",
                {"file_name": f"d{index}.txt", "content": _b64(content), "metadata": metadata},
                **{"Idempotency-Key": f"upload-{index}"},
            )
            assert status == 201, body
            docs.append(Doc(body["document_id"], "active", content, metadata))
        else:
            status, body = harness.call(
                "POST",
                "/documents",
                {
                    "file_name": f"d{index}.bin",
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "metadata": metadata,
                },
                **{"Idempotency-Key": f"upload-{index}"},
            )
            assert status == 201, body
            key = content_key(ContentRef(DocumentId.parse(body["document_id"]), 1))
            docs.append(
                Doc(
                    body["document_id"], "pending", None, metadata, pending=content, pending_key=key
                )
            )

    def client_uploads(doc: Doc) -> None:
        assert doc.pending is not None
        assert doc.pending_key is not None
        harness.s3.put_object(
            Bucket=harness.resources.bucket, Key=doc.pending_key, Body=doc.pending
        )
        if doc.state == "pending":
            doc.state = "active"
        doc.content, doc.pending, doc.pending_key = doc.pending, None, None

    def act(doc: Doc) -> None:
        """One random operation the model knows the outcome of."""
        path = f"/documents/{doc.id}"
        choice = rng.random()
        if doc.state == "active" and choice < 0.2:
            status, body = harness.call("POST", f"{path}/archive")
            if status == 409:  # an earlier attempt archived it, then failed to answer
                assert harness.call("GET", path)[1]["state"] == "archived"
            else:
                assert status == 200, body
            doc.state = "archived"
        elif doc.state == "archived" and choice < 0.5:
            status, body = harness.call("POST", f"{path}/restore", {"days": 1})
            assert status in (200, 202), body
            doc.state = "restoring"
        elif doc.state == "active" and choice < 0.4:
            new = f"replacement of {doc.id} ".encode() * rng.randint(1, 20)
            status, body = harness.call("PUT", path, {"file_name": "r.txt", "content": _b64(new)})
            assert status == 200, body
            doc.content = new
        elif doc.state == "active" and choice < 0.5 and doc.pending is None:
            new = f"presigned replacement {doc.id}".encode()
            status, body = harness.call("PUT", path, {"file_name": "p.txt", "size": len(new)})
            assert status == 202, body
            doc.pending = new
            doc.pending_key = content_key(ContentRef(DocumentId.parse(doc.id), body["version"]))
        elif doc.state != "rejected" and choice < 0.7:
            patch = {"tag": rng.choice(["x", "y", None]), "round": rng.randint(0, 9)}
            status, body = harness.call("PATCH", path, patch)
            assert status == 200, body
            for key, value in patch.items():
                if value is None:
                    doc.metadata.pop(key, None)
                else:
                    doc.metadata[key] = value
        elif choice > 0.95:
            status, body = harness.call("DELETE", path)
            assert status in (204, 404), body  # 404: an earlier attempt deleted it
            doc.gone = True

    progress(f"chaos: uploading {DOCUMENTS} documents at fault rate {FAULT_RATE}")
    for index in range(DOCUMENTS):
        upload(index)
        if index % 20 == 0:
            harness.background()
        if index and index % 50 == 0:
            progress(f"chaos: {index}/{DOCUMENTS} uploaded")
    for doc in docs:
        if doc.pending is not None and rng.random() < 0.9:
            client_uploads(doc)
    harness.background(rounds=3)
    for round_number in range(4):
        progress(f"chaos: round {round_number + 1}/4 of random operations")
        for doc in docs:
            if not doc.gone and doc.pending is None:
                act(doc)
            elif doc.pending is not None and rng.random() < 0.5:
                client_uploads(doc)
        harness.background(rounds=2)
        for doc in docs:
            if doc.state == "restoring":
                doc.state = "restored"
    # Messages no retry can fix (an event that is not for us is ignored, not poison).
    poison = [
        "[1, 2, 3]",
        "{broken json",
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "time": "2026-01-01T00:00:00Z",
            "detail": {"bucket": {"name": harness.resources.bucket}},
        },
    ]
    for message in poison[:POISON]:
        harness.sqs.send_message(
            QueueUrl=harness.resources.ingest_queue_url,
            MessageBody=message if isinstance(message, str) else json.dumps(message),
        )
    progress("chaos: settling (queues drained, DLQ re-driven, reconcile)")
    harness.settle(docs)
    progress("chaos: comparing every document with the model")

    # ---- compare with the model ---------------------------------------------------------------
    for doc in docs:
        status, body = harness.call("GET", f"/documents/{doc.id}")
        if doc.gone:
            assert status == 404, (doc, body)
            continue
        assert status == 200, body
        expected_state = doc.state if doc.pending is None or doc.state != "pending" else "pending"
        assert body["state"] == expected_state, (doc.id, body["state"], doc.state)
        assert body["metadata"] == doc.metadata, (doc.id, body["metadata"], doc.metadata)
        if doc.content is not None and body["state"] in ("active", "restored"):
            link = harness.call("GET", f"/documents/{doc.id}/content", redirect="false")
            key = content_key(ContentRef(DocumentId.parse(doc.id), _revision(harness, doc.id)))
            stored = harness.s3.get_object(Bucket=harness.resources.bucket, Key=key)
            assert stored["Body"].read() == doc.content, doc.id
            assert body["sha256"] == hashlib.sha256(doc.content).hexdigest()
            assert link[0] in (200, 302)
    parked = harness.sqs.get_queue_attributes(
        QueueUrl=harness.resources.parking_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(parked["ApproximateNumberOfMessages"]) == POISON
    assert sum(harness.faults.injected.values()) > DOCUMENTS  # the faults really happened
    print(
        f"\nchaos: {len(docs)} documents, {harness.faults.requests} AWS requests, "
        f"{dict(harness.faults.injected)} injected, {harness.client_retries} client retries"
    )


def _revision(harness: Harness, document_id: str) -> int:
    stored = harness.runtimes["documents_read"].ports.documents.get(DocumentId.parse(document_id))
    assert stored.revision is not None
    return stored.revision
