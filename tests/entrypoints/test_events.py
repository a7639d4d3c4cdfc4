"""The event processors: ingest (SQS batches of EventBridge S3 events), DLQ retry, reconcile."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from adapters.memory import InMemoryBlobStore, InMemoryQueue, ManualClock, in_memory_ports
from entrypoints import observability
from entrypoints.bootstrap import Runtime, fixed
from entrypoints.functions.dlq_retry import make_dlq_retry_handler
from entrypoints.functions.ingest import make_ingest_handler
from entrypoints.functions.reconcile import make_reconcile_handler
from entrypoints.local.gateway import LambdaContext
from entrypoints.settings import EnvSettings
from entrypoints.storage_events import parse_storage_event
from kumocms.commands import ArchiveDocument, RestoreDocument, UploadDocument
from kumocms.ids import DocumentId, UserId
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.states import ArchiveState
from kumocms.usecases.archive import archive_document, restore_document
from kumocms.usecases.documents import upload_document
from kumocms.usecases.ingest import ObjectCreated, RestoreCompleted
from kumocms.users import Principal, Role
from tests.entrypoints.aws_events import BUCKET, s3_event, sqs_event, sqs_record

EDITOR = Principal(user_id=UserId.parse("01J0000000000000000000ED17"), name="e", role=Role.EDITOR)


class Ingest:
    """The ingest handler on in-memory ports, plus handles on them."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.ports = in_memory_ports(clock=self.clock)
        assert isinstance(self.ports.blobs, InMemoryBlobStore)
        self.blobs = self.ports.blobs
        self.settings = EnvSettings(
            region="eu-west-1",
            bucket=BUCKET,
            documents_table="d",
            event_bus="b",
            ingest_dlq_url="dlq",
            parking_queue_url="parking",
            dlq_max_retries=3,
            dlq_retry_delay_seconds=0,
        )
        self.dead_letters = InMemoryQueue(self.clock)
        self.parking = InMemoryQueue(self.clock)
        self.runtime = Runtime(
            settings=self.settings,
            ports=self.ports,
            dead_letters=self.dead_letters,
            parking=self.parking,
        )
        self.handler = make_ingest_handler(fixed(self.runtime))

    def __call__(self, *records: dict[str, Any]) -> dict[str, Any]:
        return self.handler(sqs_event(*records), LambdaContext("ingest"))

    def presigned(self, content: bytes) -> tuple[DocumentId, str]:
        view = upload_document(self.ports, EDITOR, UploadDocument(file_name="f", size=len(content)))
        assert view.upload is not None
        self.blobs.client_upload(view.upload, content)
        self.blobs.notifications()
        return view.document.id, content_key(ContentRef(view.document.id, 1))


@pytest.fixture
def ingest() -> Ingest:
    return Ingest()


def test_object_created_confirms_an_upload_once(ingest: Ingest) -> None:
    doc_id, key = ingest.presigned(b"hello")
    record = sqs_record(s3_event("Object Created", key, size=5))
    assert ingest(record) == {"batchItemFailures": []}
    doc = ingest.ports.documents.get(doc_id)
    assert doc.state is ArchiveState.ACTIVE
    for _ in range(3):  # duplicated deliveries change nothing
        assert ingest(record) == {"batchItemFailures": []}
    assert ingest.ports.documents.get(doc_id).version == doc.version


def test_url_encoded_keys_and_moto_variants(ingest: Ingest) -> None:
    doc_id, key = ingest.presigned(b"hello")
    encoded = s3_event("Object Created", quote(key, safe=""), reason="CompleteMultipartUpload")
    moto_like = s3_event("Object Created", key, reason="ObjectCreated", etag_field="eTag")
    assert parse_storage_event(encoded, bucket=BUCKET) == parse_storage_event(
        s3_event("Object Created", key, reason="CompleteMultipartUpload"), bucket=BUCKET
    )
    assert ingest(sqs_record(moto_like), sqs_record(encoded)) == {"batchItemFailures": []}
    assert ingest.ports.documents.get(doc_id).state is ArchiveState.ACTIVE


def test_mismatch_rejects_and_deletes_the_object(ingest: Ingest) -> None:
    view = upload_document(ingest.ports, EDITOR, UploadDocument(file_name="f", size=3))
    key = content_key(ContentRef(view.document.id, 1))
    ingest.blobs.client_put(
        ingest.blobs._url(key, "PUT", ingest.clock.now() + timedelta(hours=1)), b"four", headers={}
    )
    assert ingest(sqs_record(s3_event("Object Created", key, size=4))) == {"batchItemFailures": []}
    assert ingest.ports.documents.get(view.document.id).state is ArchiveState.REJECTED
    assert key not in ingest.blobs.objects


def test_a_failing_record_is_the_only_one_reported(ingest: Ingest) -> None:
    doc_id, key = ingest.presigned(b"hello")
    young = ingest.ports.ids.document_id()  # a document whose record does not exist yet
    bad = sqs_record(
        s3_event("Object Created", content_key(ContentRef(young, 1))), message_id="bad-one"
    )
    malformed = sqs_record("{not json", message_id="malformed")
    good = sqs_record(s3_event("Object Created", key))
    result = ingest(bad, good, malformed)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": "bad-one"}, {"itemIdentifier": "malformed"}]
    }
    assert ingest.ports.documents.get(doc_id).state is ArchiveState.ACTIVE


def _printed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_an_early_event_is_retried_logged_at_info_and_counted_apart(ingest: Ingest) -> None:
    young = ingest.ports.ids.document_id()  # its record is still being saved
    key = content_key(ContentRef(young, 1))
    early = sqs_record(s3_event("Object Created", key), message_id="early")
    malformed = sqs_record("{not json", message_id="malformed")
    stream = io.StringIO()
    observability.configure_logging("INFO")
    observability.redirect(stream)
    try:
        result = ingest(early, malformed)
    finally:
        observability.redirect(None)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": "early"}, {"itemIdentifier": "malformed"}]
    }
    printed = _printed(stream)
    (logged,) = [line for line in printed if line.get("event") == "storage_event_early"]
    assert logged["level"] == "info"
    assert (logged["key"], logged["document_id"]) == (key, young.value)
    failed = [line for line in printed if line.get("event") == "storage_event_failed"]
    assert [line["message_id"] for line in failed] == ["malformed"]  # only the real failure
    assert all(line["level"] == "warning" for line in failed)
    (metrics,) = [line for line in printed if "_aws" in line]
    assert (metrics["IngestRetryLater"], metrics["IngestFailures"]) == (1, 1)


def test_other_buckets_types_and_foreign_keys_are_ignored(ingest: Ingest) -> None:
    records = [
        sqs_record(s3_event("Object Created", "anything", bucket="someone-else")),
        sqs_record(s3_event("Object Deleted", "x")),
        sqs_record({"source": "aws.ec2", "detail-type": "EC2 Instance State-change"}),
        sqs_record(s3_event("Object Created", "uploads/report.pdf")),
    ]
    assert ingest(*records) == {"batchItemFailures": []}
    assert ingest.ports.documents.list(limit=5, cursor=None, state=None).items == ()


def test_the_archive_self_copy_and_sidecars_change_nothing(ingest: Ingest) -> None:
    view = upload_document(ingest.ports, EDITOR, UploadDocument(file_name="f", content=b"x"))
    doc_id = view.document.id
    archive_document(ingest.ports, EDITOR, ArchiveDocument(document_id=doc_id))
    version = ingest.ports.documents.get(doc_id).version
    key = content_key(ContentRef(doc_id, 1))
    ingest(
        sqs_record(s3_event("Object Created", key, reason="CopyObject", sequencer="FF")),
        sqs_record(s3_event("Object Created", key, reason="ObjectCreated")),
        sqs_record(s3_event("Object Created", sidecar_key(doc_id))),
    )
    assert ingest.ports.documents.get(doc_id).version == version


def test_restore_completed_with_expiry_and_for_a_deleted_document(ingest: Ingest) -> None:
    view = upload_document(ingest.ports, EDITOR, UploadDocument(file_name="f", content=b"x"))
    doc_id = view.document.id
    archive_document(ingest.ports, EDITOR, ArchiveDocument(document_id=doc_id))
    restore_document(ingest.ports, EDITOR, RestoreDocument(document_id=doc_id))
    key = content_key(ContentRef(doc_id, 1))
    completed = s3_event(
        "Object Restore Completed", key, expiry="2026-01-05T00:00:00Z", time="2026-01-01T03:00:00Z"
    )
    assert "sequencer" not in completed["detail"]["object"]
    event = parse_storage_event(completed, bucket=BUCKET)
    assert isinstance(event, RestoreCompleted)
    assert event.expires_at is not None
    ingest(sqs_record(completed))
    doc = ingest.ports.documents.get(doc_id)
    assert doc.state is ArchiveState.RESTORED
    assert doc.restore is not None
    assert doc.restore.expires_at == event.expires_at
    gone = content_key(ContentRef(DocumentId.parse("01ARZ3NDEKTSV4RRFFQ69G5FAV"), 1))
    assert ingest(sqs_record(s3_event("Object Restore Completed", gone))) == {
        "batchItemFailures": []
    }


def test_the_handler_raises_only_without_records(ingest: Ingest) -> None:
    with pytest.raises(TypeError):
        ingest.handler({"not": "sqs"}, LambdaContext("ingest"))


def test_copy_reason_is_recognised() -> None:
    event = parse_storage_event(s3_event("Object Created", "k", reason="CopyObject"), bucket=BUCKET)
    assert isinstance(event, ObjectCreated)
    assert event.is_copy


# ---- DLQ retry ------------------------------------------------------------------------------


def test_dlq_retry_parks_poison_and_deletes_what_succeeds() -> None:
    ingest = Ingest()
    doc_id, key = ingest.presigned(b"hello")
    ingest.dead_letters.send(json.dumps(s3_event("Object Created", key)))
    poison = ingest.ports.ids.document_id()  # no record will ever exist for it ...
    ingest.clock.set(poison.created_at)  # ... and the clock keeps it "young": always retried
    ingest.dead_letters.send(
        json.dumps(s3_event("Object Created", content_key(ContentRef(poison, 1))))
    )
    handler = make_dlq_retry_handler(fixed(ingest.runtime))
    first = handler({}, LambdaContext("dlq_retry"))
    assert first == {"processed": 1, "requeued": 1, "parked": 0}
    assert ingest.ports.documents.get(doc_id).state is ArchiveState.ACTIVE
    second = handler({}, LambdaContext("dlq_retry"))
    assert second == {"processed": 0, "requeued": 1, "parked": 0}
    third = handler({}, LambdaContext("dlq_retry"))
    assert third == {"processed": 0, "requeued": 0, "parked": 1}
    [parked] = ingest.parking.pending()
    assert (parked.attempts, parked.last_error) == (3, "RetryLaterError")
    assert ingest.dead_letters.pending() == ()


def test_reconcile_handler_reports_what_it_did() -> None:
    ingest = Ingest()
    upload_document(ingest.ports, EDITOR, UploadDocument(file_name="f", size=3))
    ingest.clock.advance(timedelta(days=2))
    report = make_reconcile_handler(fixed(ingest.runtime))({}, LambdaContext("reconcile"))
    assert report["uploads_expired"] == 1
