"""Fault injection: documents driven through their lives while AWS misbehaves.

A share of every AWS request the handlers make fails (throttling, 5xx, read timeouts) through a
botocore hook. Clients retry like real clients (same Idempotency-Key on POSTs); the ingest queue
redrives failed records and its DLQ is re-driven by the DLQ-retry handler; reconciliation runs.
Then every document is compared with an independent model of what its history implies, no
content or metadata may be lost, and only the deliberately poisonous messages may be parked.

Large documents (above `SYNC_COPY_LIMIT`, here 5 MiB) are archived and permanently restored by
the transfer worker, fed by its queue like an event source mapping, under the same faults. Some
of its invocations run short of time (they hand over), some die mid-copy (after an
UploadPartCopy, or right after CompleteMultipartUpload, before the worker records it) with an
exception no handler catches, so SQS delivers the order again; some copies are doomed (every
delivery dies, so the order ends in the transfer DLQ, where reconcile finds it and rolls the
copy back; or S3 keeps failing until the worker gives up). Each copy must end committed or
rolled back to the state it started from, a rollback with its `DocumentCopyFailed` on the
bus (events are seen through an SQS queue behind an EventBridge rule on the KumoCMS bus),
bytes intact, the current object version the recorded one in the recorded class, and no
multipart upload left open that our code was told about.

An injected throttle or 5xx answer reaches the emulator first (see `tests.support.faults`): the
request is done and its answer lost. Retries then deliver an event twice (compared as distinct
events) or create a multipart upload nobody knows of (left to the abort-incomplete lifecycle
rule, at most one per lost answer). Moto answers a RestoreObject on a restore still running
with 200 where S3 answers 409 RestoreAlreadyInProgress; the harness makes it answer as S3 does.

`CHAOS_DOCUMENTS` (default 200; 120 with `CI` set, to keep the suite's time), `CHAOS_FAULT_RATE` (default 0.15), `CHAOS_BIG_DOCUMENTS`
(default 4), `CHAOS_BIG_LAPS` (default 3) and `CHAOS_SEED` size the run; `nox -s chaos` runs
it bigger. `CHAOS_CRASH_AFTER_COMPLETE`: `any` (default: a worker may die right after completing, on
any delivery, the last one included, whose copy reconcile then rolls back), `redelivered`
(only when SQS will deliver the order again), `off`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import boto3
import pytest
from botocore.retries import standard
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.exceptions import S3ClientError
from moto.s3.models import S3Backend, s3_backends

from entrypoints.bootstrap import build_runtime, fixed
from entrypoints.functions.authorizer import make_authorizer
from entrypoints.functions.dlq_retry import make_dlq_retry_handler
from entrypoints.functions.ingest import make_ingest_handler
from entrypoints.functions.reconcile import make_reconcile_handler
from entrypoints.functions.transfer import make_transfer_handler
from entrypoints.http.api import make_http_handler
from entrypoints.http.routes import FUNCTIONS as HTTP_FUNCTIONS
from entrypoints.local import glacier
from entrypoints.local.gateway import Gateway, LambdaContext
from entrypoints.local.provision import TRANSFER_MAX_RECEIVE_COUNT, provision
from entrypoints.local.pump import QueuePump
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import EnvSettings
from kumocms.errors import DependencyError
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from kumocms.settings import MiB
from kumocms.usecases.users import bootstrap_admin
from tests.support.faults import FaultInjector

pytestmark = pytest.mark.slow
REGION = "eu-west-1"
ADMIN = "kumo_chaos-admin-key-00000000000000000"
DOCUMENTS = int(os.environ.get("CHAOS_DOCUMENTS", "120" if os.environ.get("CI") else "200"))
FAULT_RATE = float(os.environ.get("CHAOS_FAULT_RATE", "0.15"))
SEED = int(os.environ.get("CHAOS_SEED", "20261128"))
POISON = 3
BIG_DOCUMENTS = int(os.environ.get("CHAOS_BIG_DOCUMENTS", "4"))
BIG_LAPS = int(os.environ.get("CHAOS_BIG_LAPS", "3"))
BIG_SIZES = (6 * MiB, 16 * MiB)
"""Two to four parts of 5 MiB: one or two batches of the worker."""
CRASH_AFTER_COMPLETE = os.environ.get("CHAOS_CRASH_AFTER_COMPLETE", "any")
COPY_ENVIRONMENT = {
    "SYNC_COPY_LIMIT": str(5 * MiB),  # larger objects go through the transfer worker
    "COPY_PART_SIZE": str(5 * MiB),  # S3's smallest part: two to four parts per copy
    "COPY_CONCURRENCY": "2",  # so a copy takes more than one batch (and can hand over)
    "COPY_STALL_SECONDS": "2",  # reconcile rolls back a copy that stopped (its order in the DLQ)
}
TRANSFER_VISIBILITY_SECONDS = 1
"""The transfer queue's visibility timeout here (AWS: 6x the function's 900 s): an order the
handler reported failed comes back after a second; a dead worker's order, at once."""
COPY_EVENTS = (
    "DocumentCopyStarted",
    "DocumentCopyFailed",
    "DocumentCopyCancelled",
    "DocumentArchived",
    "DocumentMadePermanent",
)


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
    trashed: bool = False
    held: bool = False
    purged: bool = False
    written: set[bytes] = field(default_factory=set)
    """Every content the document ever had: each kept revision must be one of them."""


@dataclass
class BigDoc(Doc):
    """A document the transfer worker copies: what its copies' outcomes imply."""

    storage_class: str = "STANDARD"
    uploaded_version: str = ""
    rollbacks: int = 0
    commits: Counter[str] = field(default_factory=Counter)
    """Per success event (DocumentArchived, DocumentMadePermanent), copies committed."""


@dataclass(frozen=True)
class Copy:
    """An operation whose end the worker decides: `target`, or a rollback to `fallback`."""

    target: str
    storage_class: str
    fallback: str | None = None
    """The state a rollback returns to; None when nothing is copied (a temporary restore)."""
    event: str | None = None
    fate: str | None = None


class WorkerCrash(BaseException):
    """The transfer Lambda dies (out of memory, killed): no handler catches this."""


@dataclass
class Invocation:
    """How one transfer invocation goes: its time budget and where (if anywhere) it dies."""

    seconds: float = 900.0
    spend: float = 0.0
    """Seconds of the budget each look at the remaining time uses up (a slow S3, compressed)."""
    crash_after_parts: int | None = None
    crash_after_complete: bool = False

    def context(self) -> LambdaContext:
        return CountdownContext(self.seconds, self.spend)


class CountdownContext(LambdaContext):
    """A Lambda context whose remaining time runs down by `spend` seconds per look."""

    def __init__(self, seconds: float, spend: float) -> None:
        super().__init__("transfer", seconds)
        self._left = seconds
        self._spend = spend

    def get_remaining_time_in_millis(self) -> int:
        left, self._left = self._left, max(0.0, self._left - self._spend)
        return int(left * 1000)


class ChaosBlobs:
    """The transfer function's blob store: kills invocations where their plan says.

    `doomed` maps a document id to its copy's fate: `dlq` (every delivery dies after its first
    part, so the order ends in the transfer DLQ) or `exhausted` (every part copy fails as S3
    would after botocore's retries, until the worker gives up).
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._plan = Invocation()
        self._parts = 0
        self._died = False
        self.doomed: dict[str, str] = {}
        self.crashes: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def arm(self, plan: Invocation) -> None:
        with self._lock:
            self._plan, self._parts, self._died = plan, 0, False

    def copy_part(self, ref: ContentRef, **kwargs: Any) -> Any:
        fate = self.doomed.get(ref.document_id.value)
        if fate == "exhausted":
            raise DependencyError("S3 UploadPartCopy failed (injected: it keeps failing)")
        copied = self._inner.copy_part(ref, **kwargs)
        with self._lock:
            self._parts += 1
            limit = 1 if fate == "dlq" else self._plan.crash_after_parts
            if limit is None or self._parts < limit:
                return copied
            if not self._died:  # the other threads of a dead invocation die with it
                self._died = True
                self.crashes["after_part" if fate is None else "doomed"] += 1
        raise WorkerCrash(f"died after UploadPartCopy {copied.number}")

    def complete_copy(self, ref: ContentRef, **kwargs: Any) -> str:
        version = self._inner.complete_copy(ref, **kwargs)
        if self._plan.crash_after_complete:
            self.crashes["after_complete"] += 1
            raise WorkerCrash("died after CompleteMultipartUpload, before recording it")
        return version  # type: ignore[no-any-return]


class InstantRetries:
    """The worker's queue without retry delays (compressed time, like botocore's backoff)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.sent: Counter[str] = Counter()

    def send(
        self,
        body: str,
        *,
        attempts: int = 0,
        last_error: str | None = None,
        delay: timedelta = timedelta(0),
    ) -> str:
        self.sent["retry" if attempts else "handover"] += 1
        del delay
        return self._inner.send(body, attempts=attempts, last_error=last_error)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class UploadWatch:
    """Which multipart uploads the functions were told about, and how many creations failed.

    A CreateMultipartUpload whose answer was lost (an injected 5xx or throttle: the emulator
    did act) leaves an upload nobody knows the id of; botocore's retry makes another. Only
    the bucket's abort-incomplete-uploads lifecycle rule can clean that one up.
    """

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.lost_answers = 0

    def attach(self, session: Any) -> UploadWatch:
        session.events.register("after-call.s3.CreateMultipartUpload", self._after)
        return self

    def _after(self, http_response: Any, parsed: Mapping[str, Any], **kwargs: Any) -> None:
        attempts = kwargs.get("context", {}).get("retries", {}).get("attempt", 1)
        if http_response.status_code == 200 and parsed.get("UploadId"):
            self.known.add(parsed["UploadId"])
            self.lost_answers += attempts - 1
        else:
            self.lost_answers += attempts


def in_flight(body: Mapping[str, Any]) -> bool:
    """Whether a document (its representation) still waits for storage or the worker."""
    if body["state"] in ("pending", "archiving", "restoring"):
        return True
    restore = body.get("restore") or {}
    return body["state"] == "restored" and bool(restore.get("permanent"))


class Harness:
    def __init__(self, **environment: str) -> None:
        glacier.install(0.0)
        setup = boto3.Session(region_name=REGION)  # provisioning and the clients' own uploads
        self.resources = provision(setup, visibility_timeout=1, max_receive_count=3)
        env = {
            **self.resources.environment(),
            "DLQ_MAX_RETRIES": "8",
            "DLQ_RETRY_DELAY_SECONDS": "0",
            "PENDING_UPLOAD_TTL_SECONDS": "3600",
            "ORPHAN_GRACE_SECONDS": "2",
            **COPY_ENVIRONMENT,
            **environment,
        }
        session = boto3.Session(region_name=REGION)  # what the functions use: faults injected
        self.faults = FaultInjector(FAULT_RATE, seed=SEED).attach(session)
        self.uploads = UploadWatch().attach(session)
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
        self.chaos = random.Random(SEED + 2)  # the worker's fate, apart from the workload
        self._wire_transfer()
        self._record_events(setup)

    # ---- the transfer worker, fed by its queue -----------------------------------------

    def _wire_transfer(self) -> None:
        """The transfer function on its queue (batch size 1), with crashes and short budgets."""
        runtime = self.runtimes["transfer"]
        self.blobs = ChaosBlobs(runtime.ports.blobs)
        self.worker_queue = InstantRetries(runtime.ports.transfers)
        ports = attrs.evolve(runtime.ports, blobs=self.blobs, transfers=self.worker_queue)
        self.runtimes["transfer"] = attrs.evolve(runtime, ports=ports)
        self._transfer = make_transfer_handler(fixed(self.runtimes["transfer"]))
        url = self.resources.transfer_queue_url
        self.sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"VisibilityTimeout": str(TRANSFER_VISIBILITY_SECONDS)}
        )
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.transfer_pump = QueuePump(
            self.sqs,
            url,
            self._invoke_transfer,
            queue_arn=arn["Attributes"]["QueueArn"],
            region=REGION,
            batch_size=1,
            function="transfer",
        )
        self.invocations: Counter[str] = Counter()
        self.forced: list[Invocation] = []
        """Plans for the next invocations, before any random one."""

    def _invoke_transfer(self, event: Mapping[str, Any], _context: Any) -> Any:
        record = event["Records"][0]
        self._receipt = record["receiptHandle"]
        receives = int(record["attributes"].get("ApproximateReceiveCount", "1"))
        fate = self.blobs.doomed.get(json.loads(record["body"]).get("document_id"))
        if self.forced:
            plan = self.forced.pop(0)
        else:
            plan = self._plan(receives, fate) if self.faults.enabled else Invocation()
        self.invocations["short" if plan.spend else "long"] += 1
        self.blobs.arm(plan)
        return self._transfer(event, plan.context())

    def _plan(self, receives: int, fate: str | None) -> Invocation:
        """A random invocation: short of time half the time, dying mid-copy now and then.

        Each way of dying is planned until it has happened once, so every run has both.
        """
        rng = self.chaos
        plan = Invocation()
        if rng.random() < 0.5 or not self.worker_queue.sent["handover"]:
            plan = Invocation(seconds=rng.uniform(31, 40), spend=rng.uniform(4, 9))
        if fate is not None:
            return plan  # a doomed copy fails its own way
        crashes, roll = self.blobs.crashes, rng.random()
        if roll < 0.25 or not crashes["after_part"]:
            plan = replace(plan, crash_after_parts=rng.randint(1, 2))
        # Dying after the completion on the last delivery leaves the rollback to reconcile.
        last = receives >= TRANSFER_MAX_RECEIVE_COUNT
        allowed = CRASH_AFTER_COMPLETE == "any" or (CRASH_AFTER_COMPLETE != "off" and not last)
        if allowed and (0.25 <= roll < 0.5 or not crashes["after_complete"]):
            plan = replace(plan, crash_after_complete=True)
        return plan

    def pump_transfers(self, *, max_batches: int = 50) -> None:
        for _ in range(max_batches):
            try:
                if self.transfer_pump.pump_once() == 0:
                    return
            except WorkerCrash:
                # Not deleted: SQS delivers it again once its visibility timeout is over, which
                # (compressed time) is now.
                self.invocations["crashed"] += 1
                self.sqs.change_message_visibility(
                    QueueUrl=self.resources.transfer_queue_url,
                    ReceiptHandle=self._receipt,
                    VisibilityTimeout=0,
                )

    def await_settled(self, ids: list[str], *, stormy: float = 8.0) -> dict[str, Any]:
        """Run everything (reconcile included) until no document waits; faults stop later."""
        bodies = self._await(ids, stormy)
        if bodies is None:
            with self.faults.paused():
                bodies = self._await(ids, 60.0)
        assert bodies is not None, "the copies did not settle"
        return bodies

    def _await(self, ids: list[str], seconds: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + seconds
        while True:
            self.background()
            try:
                self.reconcile({}, LambdaContext("reconcile"))
            except Exception:  # a scheduled run that failed: the next one tries again
                self.invocations["reconcile_failed"] += 1
            bodies = {i: self.call("GET", f"/documents/{i}")[1] for i in ids}
            if not any(in_flight(body) for body in bodies.values()):
                return bodies
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)

    # ---- what subscribers of the domain-event bus see ---------------------------------

    def _record_events(self, setup: boto3.Session) -> None:
        """An SQS queue behind an EventBridge rule on the KumoCMS bus, for the copy events."""
        events = setup.client("events")
        url = self.sqs.create_queue(QueueName="chaos-copy-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        bus = self.resources.event_bus
        pattern = {"source": ["kumocms"], "detail-type": list(COPY_EVENTS)}
        events.put_rule(
            Name="chaos-copy-events", EventBusName=bus, EventPattern=json.dumps(pattern)
        )
        events.put_targets(
            Rule="chaos-copy-events",
            EventBusName=bus,
            Targets=[{"Id": "recorder", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        self._events_url = url
        self.events: list[dict[str, Any]] = []

    def rollback_reasons(self) -> dict[str, int]:
        failed = {
            json.dumps(e["detail"], sort_keys=True)
            for e in self.events
            if e["detail-type"] == "DocumentCopyFailed"
        }
        return dict(Counter(json.loads(d)["reason"].split(":")[0] for d in failed))

    def copy_events(self) -> Counter[tuple[str, str]]:
        """(document id, detail type) -> how many distinct such events the bus delivered.

        Delivery is at least once: a PutEvents retried after its answer was lost delivers the
        same event twice (same detail, same occurrence time), and subscribers deduplicate.
        """
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self._events_url, MaxNumberOfMessages=10, VisibilityTimeout=600
            ).get("Messages", [])
            if not messages:
                break
            self.events.extend(json.loads(m["Body"]) for m in messages)
            self.sqs.delete_message_batch(
                QueueUrl=self._events_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        distinct = {
            (e["detail-type"], json.dumps(e["detail"], sort_keys=True)) for e in self.events
        }
        return Counter((json.loads(detail)["document_id"], name) for name, detail in distinct)

    # ---- a client that retries like a real one --------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: tuple[tuple[str, str], ...] = (),
        **headers: str,
    ) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        all_headers = {
            "Authorization": f"Bearer {ADMIN}",
            "Content-Type": "application/json",
            **headers,
        }
        for attempt in range(40):
            response = self.gateway.handle(
                method, path, query=query, headers=list(all_headers.items()), body=data
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
            self.pump_transfers()
            self.dlq_retry({}, LambdaContext("dlq_retry"))

    def settle(self, docs: list[Doc], *, timeout: float = 120) -> None:
        """Stop injecting, let every retry path finish, bounded."""
        deadline = time.monotonic() + timeout
        with self.faults.paused():
            while time.monotonic() < deadline:
                glacier.release_due()
                self.pump.drain()
                self.pump_transfers()
                self.dlq_retry({}, LambdaContext("dlq_retry"))
                self.reconcile({}, LambdaContext("reconcile"))
                if self._quiet() and not self._behind(docs):
                    return
                time.sleep(0.5)
            queues = {
                url.rsplit("/", 1)[1]: self.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["All"]
                )["Attributes"]
                for url in (
                    self.resources.ingest_queue_url,
                    self.resources.ingest_dlq_url,
                    self.resources.transfer_queue_url,
                )
            }
            behind = self._behind(docs)
        raise AssertionError(f"the system did not settle: {queues} {behind[:10]}")

    def _behind(self, docs: list[Doc]) -> list[tuple[str, str, str]]:
        """Documents still on their way (pending, restoring, copying) to the model's state."""
        behind = []
        for doc in docs:
            if doc.gone or doc.trashed:
                continue
            body = self.call("GET", f"/documents/{doc.id}")[1]
            if body["state"] != doc.state and in_flight(body):
                behind.append((doc.id, body["state"], doc.state))
            hold = body.get("legal_hold")
            if hold is not None and not hold["applied"]:
                behind.append((doc.id, "holds", "applied"))
        return behind

    def _quiet(self) -> bool:
        for url in (
            self.resources.ingest_queue_url,
            self.resources.ingest_dlq_url,
            self.resources.transfer_queue_url,
        ):
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


@contextmanager
def running(**environment: str) -> Iterator[Harness]:
    original = standard.ExponentialBackoff.delay_amount
    restore_object = S3Backend.restore_object
    # botocore's retry decisions stay its own; only the sleeping between attempts is skipped
    # so a few thousand injected faults take seconds rather than hours.
    standard.ExponentialBackoff.delay_amount = lambda self, context: 0  # type: ignore[method-assign]
    S3Backend.restore_object = _restore_object_as_s3_does(restore_object)  # type: ignore[method-assign]
    try:
        with mock_aws():
            yield Harness(**environment)
    finally:
        standard.ExponentialBackoff.delay_amount = original  # type: ignore[method-assign]
        S3Backend.restore_object = restore_object  # type: ignore[method-assign]
        glacier.uninstall()


def _restore_object_as_s3_does(original: Callable[..., bool]) -> Callable[..., bool]:
    """RestoreObject on a restore still running: S3 answers 409 RestoreAlreadyInProgress.

    Moto answers 200 ("already restored") instead, which a RestoreObject retried after its
    first answer was lost (an injected 5xx or throttle: the emulator did act) would otherwise
    turn into a restore the record calls complete while storage is still restoring.
    """

    def restore_object(backend: Any, bucket_name: str, key_name: str, *args: Any) -> bool:
        key = backend.get_object(bucket_name, key_name)
        if key is not None and key._expiry is not None and key._status == "IN_PROGRESS":
            raise S3ClientError("RestoreAlreadyInProgress", "Object restore is already in progress")
        return original(backend, bucket_name, key_name, *args)

    return restore_object


@pytest.fixture
def harness() -> Iterator[Harness]:
    with running() as harness:
        yield harness


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
            docs.append(Doc(body["document_id"], "active", content, metadata, written={content}))
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
        doc.written.add(doc.pending)
        doc.content, doc.pending, doc.pending_key = doc.pending, None, None

    def keep(doc: Doc) -> None:
        """§11: trash, restore from it, purge, revision restores and legal holds."""
        path = f"/documents/{doc.id}"
        choice = rng.random()
        if doc.trashed:
            if choice < 0.4:
                status, body = harness.call("POST", f"/trash/{doc.id}/restore")
                assert status in (200, 404), body  # 404: an earlier attempt restored it
                doc.trashed = False
            elif choice < 0.7:
                status, body = harness.call("DELETE", f"/trash/{doc.id}")
                if doc.held:
                    assert (status, body["code"]) == (409, "legal_hold"), body
                else:
                    assert status in (204, 404), body  # 404: an earlier attempt purged it
                    doc.gone = doc.purged = True
            return
        if choice < 0.25:
            hold = {"enabled": not doc.held, "reason": "chaos case"}
            status, body = harness.call("PUT", f"{path}/legal-hold", hold)
            assert status == 200, body
            doc.held = not doc.held
        elif choice < 0.5 and doc.state == "active" and doc.pending is None:
            status, page = harness.call("GET", f"{path}/revisions")
            assert status == 200, page
            number = rng.choice([item["revision"] for item in page["items"]])
            status, body = harness.call("POST", f"{path}/revisions/{number}/restore")
            if doc.held:
                assert (status, body["code"]) == (409, "legal_hold"), body
                return
            assert status == 200, body
            doc.content = _revision_bytes(harness, doc.id, number)
        elif choice < 0.7 and doc.state != "pending":
            status, body = harness.call("DELETE", path)
            if doc.held:
                assert (status, body["code"]) == (409, "legal_hold"), body
                return
            assert status in (204, 404), body  # 404: an earlier attempt trashed it
            doc.trashed = True
            doc.pending, doc.pending_key = None, None  # a pending replacement is aborted

    def act(doc: Doc) -> None:
        """One random operation the model knows the outcome of."""
        path = f"/documents/{doc.id}"
        choice = rng.random()
        if doc.trashed or (doc.held and choice < 0.5) or choice > 0.9:
            keep(doc)
            return
        if doc.held and doc.state == "active" and choice < 0.6 and doc.pending is None:
            status, body = harness.call("PUT", path, {"file_name": "r.txt", "content": _b64(b"x")})
            assert (status, body["code"]) == (409, "legal_hold"), body
            return
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
            doc.written.add(new)
        elif doc.state == "active" and choice < 0.5 and doc.pending is None and not doc.held:
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
        elif choice > 0.88 and doc.state == "pending" and not doc.held:
            status, body = harness.call("DELETE", path)
            assert status in (204, 404), body  # a pending upload is aborted, not trashed
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
            if not doc.gone and (doc.pending is None or doc.trashed):
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
    trash = _all_trash(harness)
    for doc in docs:
        status, body = harness.call("GET", f"/documents/{doc.id}")
        if doc.purged:
            history = harness.call("GET", f"/documents/{doc.id}/history")[1]
            assert history["items"][0]["event"] == "purged", doc.id  # every purge is recorded
        if doc.trashed and not doc.gone:
            assert status == 404, (doc, body)
            assert doc.id in trash, doc.id
            _check_kept_revisions(harness, doc)
            continue
        if doc.gone:
            assert status == 404, (doc, body)
            continue
        _check_kept_revisions(harness, doc)
        if doc.held:
            assert body["legal_hold"] is not None, body
            assert body["legal_hold"]["applied"], body
        assert status == 200, body
        expected_state = doc.state if doc.pending is None or doc.state != "pending" else "pending"
        assert body["state"] == expected_state, (doc.id, body["state"], doc.state)
        assert body["metadata"] == doc.metadata, (doc.id, body["metadata"], doc.metadata)
        if doc.content is not None and body["state"] in ("active", "restored"):
            link = harness.call(
                "GET", f"/documents/{doc.id}/content", query=(("redirect", "false"),)
            )
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


def test_large_copies_survive_faults_and_worker_crashes(
    harness: Harness, progress: Callable[[str], None]
) -> None:
    """Archives and permanent restores by the worker: committed, or rolled back and said so."""
    rng = random.Random(SEED + 1)
    progress(f"chaos: {BIG_DOCUMENTS} large documents through the transfer worker")
    docs = [_upload_big(harness, rng, index) for index in range(BIG_DOCUMENTS)]
    ids = [doc.id for doc in docs]
    for doc, body in zip(docs, harness.await_settled(ids).values(), strict=True):
        assert body["state"] == "active", body
        doc.state = "active"
    progress("chaos: large documents uploaded")
    for lap in range(BIG_LAPS):
        copies = {}
        for index, doc in enumerate(docs):
            fate = rng.choices([None, "dlq", "exhausted"], [16, 1, 1])[0]
            if lap == 0 and index in (1, 2):
                fate = ("dlq", "exhausted")[index - 1]  # each seed sees both ways of failing
            copies[doc.id] = _start(harness, rng, doc, fate)
            _meanwhile(harness, rng, doc)
        bodies = harness.await_settled(ids)
        for doc in docs:
            _judge(harness, doc, copies[doc.id], bodies[doc.id])
        progress(f"chaos: lap {lap + 1}/{BIG_LAPS}: {[doc.state for doc in docs]}")
    harness.settle(docs)
    events = harness.copy_events()
    for doc in docs:
        _check_big(harness, doc, events)
    _check_multipart_uploads(harness)
    _check_transfer_dlq(harness)
    crashes = harness.blobs.crashes
    summary = (
        f"chaos: large copies: {dict(harness.invocations)} invocations, {dict(crashes)} "
        f"crashes, {dict(harness.worker_queue.sent)} sends, "
        f"{sum(d.rollbacks for d in docs)} rollbacks ({harness.rollback_reasons()}), "
        f"{sum(sum(d.commits.values()) for d in docs)} commits"
    )
    # The run really went through what it is about.
    assert sum(doc.rollbacks for doc in docs) >= min(2, BIG_DOCUMENTS), summary
    assert sum(sum(doc.commits.values()) for doc in docs) > 0, summary
    assert harness.worker_queue.sent["handover"] > 0, summary
    reasons = harness.rollback_reasons()
    dead_lettered = sum(
        n for reason, n in reasons.items() if reason.startswith("its retries ran out")
    )
    assert dead_lettered > 0 or BIG_DOCUMENTS < 2, summary
    assert crashes["after_part"] > 0, summary
    assert crashes["after_complete"] > 0 or CRASH_AFTER_COMPLETE == "off", summary
    assert sum(harness.faults.injected.values()) > 0, summary
    print(f"\n{summary}")


def test_a_copy_rolled_back_after_an_unrecorded_completion_brings_the_source_back() -> None:
    # A worker that completed in S3 and died before recording it, then reconcile rolling
    # the copy back: the completion's version must go, the uploaded one be current again.
    with running(COPY_STALL_SECONDS="1") as harness, harness.faults.paused():
        doc = _upload_big(harness, random.Random(SEED), 1)
        doc.state = "active"
        harness.settle([doc])
        status, body = harness.call("POST", f"/documents/{doc.id}/archive")
        assert (status, body["state"]) == (202, "archiving"), body
        harness.forced.append(Invocation(crash_after_complete=True))
        harness.pump_transfers(max_batches=1)  # completes in S3, dies before recording it
        assert harness.blobs.crashes["after_complete"] == 1
        time.sleep(1.2)  # no progress for COPY_STALL_SECONDS
        harness.reconcile({}, LambdaContext("reconcile"))  # rolls the copy back
        harness.settle([doc])  # the order comes back and finds no job
        status, body = harness.call("GET", f"/documents/{doc.id}")
        assert (body["state"], body["storage_class"]) == ("active", "STANDARD"), body
        key = content_key(ContentRef(DocumentId.parse(doc.id), 1))
        head = harness.s3.head_object(Bucket=harness.resources.bucket, Key=key)
        assert head.get("StorageClass", "STANDARD") == "STANDARD", head
        assert head["VersionId"] == doc.uploaded_version, head
        assert _download(harness, doc.id) == doc.content


def _upload_big(harness: Harness, rng: random.Random, index: int) -> BigDoc:
    """A presigned PUT upload of random bytes (the client's own upload is not faulted)."""
    size = rng.randint(*BIG_SIZES) if index else BIG_SIZES[1]  # one takes two batches
    content = rng.randbytes(size)
    metadata = {"n": index, "big": True}
    status, body = harness.call(
        "POST",
        "/documents",
        {
            "file_name": f"big{index}.bin",
            "size": size,
            "sha256": hashlib.sha256(content).hexdigest(),
            "metadata": metadata,
        },
        **{"Idempotency-Key": f"big-{index}"},
    )
    assert status == 201, body
    assert body["upload"]["method"] == "PUT", body["upload"]
    key = content_key(ContentRef(DocumentId.parse(body["document_id"]), 1))
    put = harness.s3.put_object(Bucket=harness.resources.bucket, Key=key, Body=content)
    return BigDoc(
        body["document_id"], "pending", content, metadata, uploaded_version=put["VersionId"]
    )


def _start(harness: Harness, rng: random.Random, doc: BigDoc, fate: str | None) -> Copy:
    """The next step of the document's life: archive, restore, or make a restore permanent."""
    path = f"/documents/{doc.id}"
    if doc.state == "active":
        storage_class = rng.choice(["GLACIER", "DEEP_ARCHIVE"])
        status, body = harness.call("POST", f"{path}/archive", {"storage_class": storage_class})
        assert (status, body["state"]) == (202, "archiving"), body
        copy = Copy("archived", storage_class, "active", "DocumentArchived", fate)
    elif doc.state == "archived" and rng.random() < 0.3:
        status, body = harness.call("POST", f"{path}/restore", {"days": 1})
        assert (status, body["state"]) == (202, "restoring"), body
        return Copy("restored", doc.storage_class)
    else:  # archived: restore, copied back once restored; restored: copy it back now
        status, body = harness.call("POST", f"{path}/restore", {"days": 1, "permanent": True})
        assert status == 202, body
        assert body["state"] == ("restoring" if doc.state == "archived" else "restored"), body
        assert body["restore"]["permanent"] is True, body
        copy = Copy("active", "STANDARD", "restored", "DocumentMadePermanent", fate)
    if fate is not None:
        harness.blobs.doomed[doc.id] = fate
    return copy


def _meanwhile(harness: Harness, rng: random.Random, doc: BigDoc) -> None:
    """While the copy runs: the content stays readable, metadata stays editable."""
    if rng.random() < 0.5:
        patch = {"lap": rng.randint(0, 99), "tag": rng.choice(["x", None])}
        status, body = harness.call("PATCH", f"/documents/{doc.id}", patch)
        assert status == 200, body
        for key, value in patch.items():
            if value is None:
                doc.metadata.pop(key, None)
            else:
                doc.metadata[key] = value
    if doc.state in ("active", "restored") and rng.random() < 0.5:
        assert _download(harness, doc.id) == doc.content


def _judge(harness: Harness, doc: BigDoc, copy: Copy, body: Mapping[str, Any]) -> None:
    """The copy ended: committed, or (a doomed copy always) back where it started."""
    harness.blobs.doomed.pop(doc.id, None)
    state = body["state"]
    if state == copy.target and copy.fate is None:
        doc.storage_class = copy.storage_class
        if copy.event is not None:
            doc.commits[copy.event] += 1
    else:
        assert copy.fallback is not None, (doc.id, state, copy)
        assert state == copy.fallback, (doc.id, state, copy)
        doc.rollbacks += 1
    doc.state = state
    assert body["storage_class"] == doc.storage_class, (doc.id, body, copy)
    _check_current_version(harness, doc)


def _check_big(harness: Harness, doc: BigDoc, events: Counter[tuple[str, str]]) -> None:
    """State, metadata, class, the current object version and its bytes; the copy events."""
    status, body = harness.call("GET", f"/documents/{doc.id}")
    assert status == 200, body
    assert (body["state"], body["storage_class"]) == (doc.state, doc.storage_class), body
    assert body["metadata"] == doc.metadata, (body["metadata"], doc.metadata)
    assert doc.content is not None
    assert body["sha256"] == hashlib.sha256(doc.content).hexdigest()
    _check_current_version(harness, doc)
    if doc.state in ("active", "restored"):
        assert _download(harness, doc.id) == doc.content, doc.id
    assert events[doc.id, "DocumentCopyFailed"] == doc.rollbacks, (doc.id, events)
    for name in ("DocumentArchived", "DocumentMadePermanent"):
        assert events[doc.id, name] == doc.commits[name], (doc.id, name, events)


def _check_current_version(harness: Harness, doc: BigDoc) -> None:
    """The key's current version is the recorded one, in the document's class, bytes intact.

    Recorded: the worker's last commit, or the upload until a copy committed. So no copy left
    a version nobody recorded on top (a rolled-back or repeated completion).
    """
    stored = harness.runtimes["documents_read"].ports.documents.get(DocumentId.parse(doc.id))
    assert stored.revision == 1
    key = content_key(ContentRef(stored.id, stored.revision))
    head = harness.s3.head_object(Bucket=harness.resources.bucket, Key=key)
    assert head["VersionId"] == (stored.content_version or doc.uploaded_version), (doc.id, head)
    assert head.get("StorageClass", "STANDARD") == doc.storage_class, (doc.id, head)
    assert _stored_bytes(harness, key, head["VersionId"]) == doc.content, doc.id


def _download(harness: Harness, document_id: str) -> bytes:
    """The bytes the content route's presigned URL names (key and, if given, version)."""
    status, link = harness.call(
        "GET", f"/documents/{document_id}/content", query=(("redirect", "false"),)
    )
    assert status == 200, link
    url = urlsplit(link["url"])
    bucket = harness.resources.bucket
    key = unquote(url.path.lstrip("/"))
    key = key.removeprefix(f"{bucket}/") if url.netloc.split(".")[0] != bucket else key
    version = parse_qs(url.query).get("versionId")
    extra = {"VersionId": version[0]} if version else {}
    return harness.s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()  # type: ignore[no-any-return]


def _stored_bytes(harness: Harness, key: str, version_id: str) -> bytes:
    """An object version's bytes, archived or not (the emulator's own record of them)."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    stored = backend.get_object(harness.resources.bucket, key, version_id=version_id)
    assert stored is not None, key
    return stored.value  # type: ignore[no-any-return]


def _check_multipart_uploads(harness: Harness) -> None:
    """Every copy upload the functions opened is completed or aborted.

    Only uploads whose creation answer was lost (their ids never reached our code) may stay
    open, at most one per lost answer; the bucket's lifecycle rule aborts them.
    """
    bucket = harness.resources.bucket
    listed = harness.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    open_ids = {upload["UploadId"] for upload in listed}
    assert not open_ids & harness.uploads.known, [
        u for u in listed if u["UploadId"] in harness.uploads.known
    ]
    assert len(open_ids) <= harness.uploads.lost_answers, (listed, harness.uploads.lost_answers)
    rules = harness.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert any("AbortIncompleteMultipartUpload" in rule for rule in rules), rules
    harness.invocations["orphan_uploads"] = len(open_ids)


def _check_transfer_dlq(harness: Harness) -> None:
    """What reached the worker's DLQ was given up: no copy still waits for it."""
    documents = harness.runtimes["documents_read"].ports.documents
    while True:
        messages = harness.sqs.receive_message(
            QueueUrl=harness.resources.transfer_dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=600,
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            order = json.loads(message["Body"])
            job = documents.get_copy(DocumentId.parse(order["document_id"]))
            assert job is None or job.copy_id != order["copy_id"], order
            harness.invocations["in_dlq"] += 1


def _revision_bytes(harness: Harness, document_id: str, number: int) -> bytes:
    """The bytes of one kept revision, read by its key and recorded version."""
    stored = harness.runtimes["documents_read"].ports.documents.get(DocumentId.parse(document_id))
    revision = stored.find_revision(number)
    with harness.faults.paused():
        answer = harness.s3.get_object(
            Bucket=harness.resources.bucket,
            Key=content_key(ContentRef(stored.id, revision.key)),
            VersionId=revision.version_id,
        )
    return bytes(answer["Body"].read())


def _check_kept_revisions(harness: Harness, doc: Doc) -> None:
    """Every kept revision readable by key and version, with content the document once had;
    every version under a storage hold still there (nothing held is ever deleted)."""
    stored = harness.runtimes["documents_read"].ports.documents.get(DocumentId.parse(doc.id))
    for revision in stored.kept_revisions:
        if revision.storage_class.is_archive:  # in Glacier: there, by its version
            with harness.faults.paused():
                harness.s3.head_object(
                    Bucket=harness.resources.bucket,
                    Key=content_key(ContentRef(stored.id, revision.key)),
                    VersionId=revision.version_id,
                )
            continue
        assert _revision_bytes(harness, doc.id, revision.number) in doc.written, doc.id
    with harness.faults.paused():
        for held in stored.held_versions:
            key = content_key(ContentRef(stored.id, held.key))
            bucket = harness.resources.bucket
            head = harness.s3.head_object(Bucket=bucket, Key=key, VersionId=held.version_id)
            if head.get("StorageClass", "STANDARD") != "STANDARD":
                continue  # moto refuses GetObjectLegalHold in Glacier (S3 does not)
            hold = harness.s3.get_object_legal_hold(
                Bucket=bucket, Key=key, VersionId=held.version_id
            )
            assert hold["LegalHold"]["Status"] == "ON" or stored.legal_hold is None, doc.id


def _all_trash(harness: Harness) -> set[str]:
    found: set[str] = set()
    cursor: str | None = None
    while True:
        query = (("limit", "100"),) + ((("cursor", cursor),) if cursor else ())
        status, page = harness.call("GET", "/trash", query=query)
        assert status == 200, page
        found |= {item["document_id"] for item in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _revision(harness: Harness, document_id: str) -> int:
    stored = harness.runtimes["documents_read"].ports.documents.get(DocumentId.parse(document_id))
    assert stored.revision is not None
    return stored.revision
