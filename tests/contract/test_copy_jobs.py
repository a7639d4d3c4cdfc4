"""Contract: copy jobs in the in-memory repository and in DynamoDB on moto behave the same.

Jobs are checkpointed only while the document waits for them (state and copy id), and
stalled ones are found through the sparse deadline index, never a scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import attrs
import pytest

from adapters.dynamodb import DynamoDocumentRepository
from adapters.memory import InMemoryDocumentRepository
from kumocms.errors import AlreadyExistsError, CopyCancelledError
from kumocms.model import CopiedPart, CopyJob, CopyTicket, Document, PartRange
from kumocms.ports import DocumentRepository
from kumocms.states import ArchiveState, StorageClass
from tests.support.documents import DOCUMENTS_TABLE, T0, make_document, moto_tables

PART = 5 * 1024**2


@pytest.fixture(params=["memory", "dynamodb"])
def repo(request: pytest.FixtureRequest) -> Iterator[DocumentRepository]:
    if request.param == "memory":
        yield InMemoryDocumentRepository()
        return
    with moto_tables() as client:
        dynamo = DynamoDocumentRepository(client, DOCUMENTS_TABLE, shards=4)
        yield dynamo
        dynamo.close()


def _copying(repo: DocumentRepository, n: int = 1) -> tuple[Document, CopyJob]:
    document = make_document(n)
    ticket = CopyTicket(
        copy_id=f"c{n}",
        storage_class=StorageClass.GLACIER,
        previous_state=ArchiveState.ACTIVE,
        started_at=T0,
    )
    job = CopyJob(
        document_id=document.id,
        copy_id=ticket.copy_id,
        revision=1,
        size=3 * PART,
        source_version="v1",
        upload_id="u1",
        part_size=PART,
        storage_class=StorageClass.GLACIER,
        copying_state=ArchiveState.ARCHIVING,
        previous_state=ArchiveState.ACTIVE,
        progress_at=T0 + timedelta(seconds=n),
    )
    repo.add_copy(job)
    copying = attrs.evolve(document, state=ArchiveState.ARCHIVING, copy=ticket)
    repo.add(copying)
    return copying, job


def test_a_copy_job_round_trips_and_is_checkpointed(repo: DocumentRepository) -> None:
    document, job = _copying(repo)
    assert repo.get(document.id) == document
    assert repo.get_copy(document.id) == job
    repo.add_copy(job)  # a retried add of the same job is fine
    with pytest.raises(AlreadyExistsError):
        repo.add_copy(attrs.evolve(job, copy_id="other"))
    later = job.with_parts([CopiedPart(number=2, etag='"e2"')], T0 + timedelta(minutes=1))
    later = attrs.evolve(later, completing=True, committed_version="v2")
    repo.save_copy_progress(later)
    assert repo.get_copy(document.id) == later
    assert later.missing() == [
        PartRange(number=1, first=0, last=PART - 1),
        PartRange(number=3, first=2 * PART, last=3 * PART - 1),
    ]


def test_a_checkpoint_is_refused_once_the_document_moved_on(repo: DocumentRepository) -> None:
    document, job = _copying(repo)
    failed = document.fail_copy(job.copy_id, reason="test", now=T0)
    repo.save(failed.document, expected_version=document.version)
    with pytest.raises(CopyCancelledError):
        repo.save_copy_progress(job.with_parts([CopiedPart(number=1, etag="e")], T0))
    repo.remove_copy(document.id, "another copy")  # left alone
    assert repo.get_copy(document.id) == job
    repo.remove_copy(document.id, job.copy_id)
    assert repo.get_copy(document.id) is None
    repo.remove_copy(document.id, job.copy_id)  # gone already is fine


def test_a_checkpoint_of_another_copy_is_refused(repo: DocumentRepository) -> None:
    _, job = _copying(repo)
    with pytest.raises(CopyCancelledError):
        repo.save_copy_progress(attrs.evolve(job, copy_id="stranger"))


def test_stalled_copies_are_found_oldest_first(repo: DocumentRepository) -> None:
    jobs = [_copying(repo, n)[1] for n in (3, 1, 2)]
    found = repo.find_stalled_copies(T0 + timedelta(seconds=2), limit=10)
    assert [job.copy_id for job in found] == ["c1", "c2"]
    assert repo.find_stalled_copies(T0, limit=10) == []
    assert len(repo.find_stalled_copies(T0 + timedelta(hours=1), limit=2)) == 2
    # Pending uploads share the index but never show up as copies, nor copies as uploads.
    assert repo.find_expired_uploads(T0 + timedelta(days=30), limit=10) == []
    assert len(jobs) == 3
