"""Contract: the in-memory blob store and the S3 blob store (on moto) behave the same.

Every test runs against both. Where the two worlds differ in how a *client* or *time* acts
(a browser uploading to a presigned target, Glacier finishing a restore), a small driver per
backend brings storage into the needed state; the assertions never branch on the backend.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager
from moto.s3.models import s3_backends

from adapters.memory import InMemoryBlobStore, ManualClock
from adapters.s3 import S3BlobStore
from kumocms.errors import DependencyError, ValidationError
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.model import ContentDeclaration, UploadMode
from kumocms.ports import BlobStore, CompletedPart, PartUrl, RestoreOutcome, UploadTarget
from kumocms.rules import normalize_metadata
from kumocms.states import RestoreTier, StorageClass
from tests.support.aws import REGION, aws_client

_buckets = itertools.count(1)
HOUR = timedelta(hours=1)
MiB = 1024**2
DOC = DocumentId.parse("01JABCDEFGHJKMNPQRSTVWXYZ0")
OTHER_DOC = DocumentId.parse("01JABCDEFGHJKMNPQRSTVWXYZ1")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Driver(Protocol):
    """What a test needs from a backend besides the port itself."""

    store: BlobStore
    clock: ManualClock

    def client_upload(self, ref: ContentRef, target: UploadTarget, content: bytes) -> None:
        """Do what a client does with a PUT or POST target."""

    def client_upload_part(self, ref: ContentRef, part: PartUrl, content: bytes) -> str:
        """PUT one part to its presigned URL; returns the ETag."""

    def multipart_is_open(self, ref: ContentRef, upload_id: str) -> bool:
        """Whether storage still holds the multipart upload."""

    def hold_restore(self, ref: ContentRef) -> None:
        """Keep a restore that was just started in progress."""

    def finish_restore(self, ref: ContentRef) -> None:
        """Let the restore in progress complete."""

    def plain_delete(self, key: str) -> None:
        """DeleteObject without a VersionId, as an operator's tool would (a delete marker)."""

    def read_version(self, ref: ContentRef, version_id: str) -> bytes:
        """The bytes of one version of the revision (fails when there is no such version)."""

    def content_type(self, ref: ContentRef) -> str:
        """The content type of the revision's current object."""

    def versions(self, key: str) -> set[str]:
        """Ids of every version and delete marker of exactly `key`."""


class MemoryDriver:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.memory = InMemoryBlobStore(self.clock)
        self.store: BlobStore = self.memory

    def client_upload(self, ref: ContentRef, target: UploadTarget, content: bytes) -> None:
        self.memory.client_upload(target, content)

    def client_upload_part(self, ref: ContentRef, part: PartUrl, content: bytes) -> str:
        return self.memory.client_put(part.url, content, headers={})

    def multipart_is_open(self, ref: ContentRef, upload_id: str) -> bool:
        return upload_id in self.memory._uploads

    def hold_restore(self, ref: ContentRef) -> None:
        """The fake's restores take `restore_delay` on the clock: nothing to do."""

    def finish_restore(self, ref: ContentRef) -> None:
        self.clock.advance(self.memory.restore_delay)
        # The fake settles a finished restore's expiry when it announces the completion;
        # S3 reports `expiry-date` as soon as the copy is ready.
        self.memory.notifications()

    def plain_delete(self, key: str) -> None:
        current = self.memory.objects.pop(key, None)
        if current is not None:  # like a delete marker: the bytes stay, noncurrent
            self.memory.noncurrent.setdefault(key, []).append(current)

    def read_version(self, ref: ContentRef, version_id: str) -> bytes:
        obj = self.memory.version(content_key(ref), version_id)
        assert obj is not None, "NoSuchVersion"
        return obj.data

    def content_type(self, ref: ContentRef) -> str:
        return self.memory.objects[content_key(ref)].content_type

    def versions(self, key: str) -> set[str]:
        # The fake keeps no delete markers: a deleted key just has no current object.
        current = self.memory.objects.get(key)
        older = self.memory.noncurrent.get(key, [])
        return {obj.version_id for obj in [*older, *([current] if current else [])]}


class MotoDriver:
    """S3 on moto: the client's part of an upload is done with boto3, since decorator mode
    cannot serve presigned URLs over HTTP; restores are held through moto's state manager."""

    def __init__(self, client: Any) -> None:
        self.clock = ManualClock()
        self.client = client
        self.bucket = f"kumocms-contract-{next(_buckets)}"
        # Like the deployed bucket: Object Lock without default retention (which also
        # turns versioning on), so legal holds work and refuse deletes.
        client.create_bucket(
            Bucket=self.bucket,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
        self.store: BlobStore = S3BlobStore(client, self.bucket, clock=self.clock)

    def client_upload(self, ref: ContentRef, target: UploadTarget, content: bytes) -> None:
        if target.method == "PUT":
            extra: dict[str, str] = {"ContentType": target.headers["Content-Type"]}
            checksum = target.headers.get("x-amz-checksum-sha256")
            if checksum is not None:
                extra |= {"ChecksumSHA256": checksum, "ChecksumAlgorithm": "SHA256"}
            key = urlsplit(target.url or "").path.split(f"/{self.bucket}/", 1)[-1].lstrip("/")
        else:
            extra = {"ContentType": target.fields["Content-Type"]}
            key = target.fields["key"]
        assert key == content_key(ref)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=content, **extra)

    def client_upload_part(self, ref: ContentRef, part: PartUrl, content: bytes) -> str:
        query = parse_qs(urlsplit(part.url).query)
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=content_key(ref),
            UploadId=query["uploadId"][0],
            PartNumber=int(query["partNumber"][0]),
            Body=content,
        )
        return str(response["ETag"])

    def multipart_is_open(self, ref: ContentRef, upload_id: str) -> bool:
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        return any(upload["UploadId"] == upload_id for upload in uploads)

    def _key(self, ref: ContentRef) -> Any:
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        return backend.get_object(self.bucket, content_key(ref))

    def hold_restore(self, ref: ContentRef) -> None:
        self._key(ref).status = "IN_PROGRESS"

    def finish_restore(self, ref: ContentRef) -> None:
        self._key(ref).status = "RESTORED"

    def plain_delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def read_version(self, ref: ContentRef, version_id: str) -> bytes:
        response = self.client.get_object(
            Bucket=self.bucket, Key=content_key(ref), VersionId=version_id
        )
        return bytes(response["Body"].read())

    def content_type(self, ref: ContentRef) -> str:
        return str(self.client.head_object(Bucket=self.bucket, Key=content_key(ref))["ContentType"])

    def versions(self, key: str) -> set[str]:
        listed = self.client.list_object_versions(Bucket=self.bucket, Prefix=key)
        entries = [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
        return {str(entry["VersionId"]) for entry in entries if entry["Key"] == key}


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[Any]:
    """One moto S3 for the module (a client costs a third of a second); a bucket per test."""
    with pytest.MonkeyPatch.context() as env:
        # The autouse credential fixture is function-scoped; this client outlives it.
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_PROFILE", raising=False)
        with mock_aws():
            # moto finishes restores at once; a manual progression lets a driver hold one.
            state_manager.set_transition(
                "s3::keyrestore", {"progression": "manual", "times": 10**9}
            )
            try:
                yield aws_client("s3")
            finally:
                state_manager.unset_transition("s3::keyrestore")


@pytest.fixture(params=["memory", "s3"])
def driver(request: pytest.FixtureRequest) -> Driver:
    if request.param == "memory":
        return MemoryDriver()
    return MotoDriver(request.getfixturevalue("moto_s3"))


def ref(revision: int = 1) -> ContentRef:
    return ContentRef(DOC, revision)


# ---- content ---------------------------------------------------------------------------


def test_store_and_inspect_round_trip(driver: Driver) -> None:
    data = b"%PDF-1.7 hello"
    driver.store.store(ref(), data, content_type="application/pdf", sha256=sha256_hex(data))

    info = driver.store.inspect(ref())

    assert info is not None
    assert info.content.size == len(data)
    assert info.content.sha256 == sha256_hex(data)
    assert info.content.storage_class is StorageClass.STANDARD
    assert info.restore is None
    assert driver.store.compute_sha256(ref()) == sha256_hex(data)


def test_inspect_of_a_missing_object_is_none(driver: Driver) -> None:
    assert driver.store.inspect(ref(7)) is None


def test_compute_sha256_of_a_missing_object_is_a_dependency_error(driver: Driver) -> None:
    with pytest.raises(DependencyError):
        driver.store.compute_sha256(ref(7))


def test_presigned_put_target_signs_type_and_checksum(driver: Driver) -> None:
    data = b"declared bytes"
    declared = ContentDeclaration(
        file_name="a.txt", content_type="text/plain", size=len(data), sha256=sha256_hex(data)
    )

    target = driver.store.presign_upload(ref(), declared, mode=UploadMode.PUT, expires_in=HOUR)

    assert target.method == "PUT"
    assert target.url
    assert target.expires_at == driver.clock.now() + HOUR
    assert target.headers["Content-Type"] == "text/plain"
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert target.headers["x-amz-checksum-sha256"] == expected
    assert not target.fields
    assert not target.parts

    driver.client_upload(ref(), target, data)
    info = driver.store.inspect(ref())
    assert info is not None
    assert (info.content.size, info.content.sha256) == (len(data), sha256_hex(data))


def test_presigned_put_without_checksum_sends_only_the_type(driver: Driver) -> None:
    declared = ContentDeclaration(file_name="a.txt", content_type="text/plain", size=3)

    target = driver.store.presign_upload(ref(), declared, mode=UploadMode.PUT, expires_in=HOUR)

    assert target.headers == {"Content-Type": "text/plain"}


def test_presigned_post_target_carries_key_type_and_policy(driver: Driver) -> None:
    data = b"form upload"
    declared = ContentDeclaration(file_name="a.csv", content_type="text/csv", size=len(data))

    target = driver.store.presign_upload(ref(), declared, mode=UploadMode.POST, expires_in=HOUR)

    assert target.method == "POST"
    assert target.url
    assert target.expires_at == driver.clock.now() + HOUR
    assert target.fields["key"] == content_key(ref())
    assert target.fields["Content-Type"] == "text/csv"
    assert target.fields["policy"]
    assert not target.headers

    driver.client_upload(ref(), target, data)
    info = driver.store.inspect(ref())
    assert info is not None
    assert info.content.size == len(data)
    assert info.content.sha256 is None  # a form POST gives storage nothing to vouch with


# ---- multipart -------------------------------------------------------------------------


def test_multipart_upload_start_parts_complete(driver: Driver) -> None:
    first, last = b"a" * (5 * MiB), b"tail"
    upload_id = driver.store.start_multipart(ref(), content_type="application/zip")

    parts, expires_at = driver.store.presign_parts(
        ref(), upload_id=upload_id, part_numbers=[1, 2], expires_in=HOUR
    )
    again, _ = driver.store.presign_parts(
        ref(), upload_id=upload_id, part_numbers=[2], expires_in=HOUR
    )

    assert [p.part_number for p in parts] == [1, 2]
    assert [p.part_number for p in again] == [2]
    assert expires_at == driver.clock.now() + HOUR
    etags = [
        driver.client_upload_part(ref(), parts[0], first),
        driver.client_upload_part(ref(), again[0], last),
    ]
    driver.store.complete_multipart(
        ref(),
        upload_id=upload_id,
        parts=[CompletedPart(part_number=n, etag=e) for n, e in zip([1, 2], etags, strict=True)],
    )

    info = driver.store.inspect(ref())
    assert info is not None
    assert info.content.size == len(first) + len(last)
    assert info.content.sha256 is None  # no full-object checksum for multipart content
    assert driver.store.compute_sha256(ref()) == sha256_hex(first + last)
    assert not driver.multipart_is_open(ref(), upload_id)


def test_complete_with_a_wrong_etag_is_a_validation_error(driver: Driver) -> None:
    upload_id = driver.store.start_multipart(ref(), content_type="application/zip")
    (part,), _ = driver.store.presign_parts(
        ref(), upload_id=upload_id, part_numbers=[1], expires_in=HOUR
    )
    driver.client_upload_part(ref(), part, b"only part")

    with pytest.raises(ValidationError) as raised:
        driver.store.complete_multipart(
            ref(),
            upload_id=upload_id,
            parts=[CompletedPart(part_number=1, etag='"0123456789abcdef0123456789abcdef"')],
        )
    assert raised.value.field == "parts"


def test_abort_drops_the_multipart_upload(driver: Driver) -> None:
    upload_id = driver.store.start_multipart(ref(), content_type="application/zip")
    (part,), _ = driver.store.presign_parts(
        ref(), upload_id=upload_id, part_numbers=[1], expires_in=HOUR
    )
    driver.client_upload_part(ref(), part, b"part")

    driver.store.abort_upload(ref(), upload_id=upload_id)
    driver.store.abort_upload(ref(), upload_id=upload_id)  # a second abort is fine

    assert not driver.multipart_is_open(ref(), upload_id)
    assert driver.store.inspect(ref()) is None


def test_abort_deletes_every_version_of_an_object_that_arrived(driver: Driver) -> None:
    declared = ContentDeclaration(file_name="a.txt", content_type="text/plain", size=2)
    target = driver.store.presign_upload(ref(), declared, mode=UploadMode.POST, expires_in=HOUR)
    driver.client_upload(ref(), target, b"hi")
    driver.client_upload(ref(), target, b"ho")  # the client retried

    driver.store.abort_upload(ref(), upload_id=None)

    assert driver.store.inspect(ref()) is None
    assert driver.versions(content_key(ref())) == set()  # no bytes behind a delete marker


def test_abort_of_a_completed_multipart_upload_deletes_the_object(driver: Driver) -> None:
    upload_id = driver.store.start_multipart(ref(), content_type="application/zip")
    (part,), _ = driver.store.presign_parts(
        ref(), upload_id=upload_id, part_numbers=[1], expires_in=HOUR
    )
    etag = driver.client_upload_part(ref(), part, b"whole")
    driver.store.complete_multipart(
        ref(), upload_id=upload_id, parts=[CompletedPart(part_number=1, etag=etag)]
    )

    driver.store.abort_upload(ref(), upload_id=upload_id)

    assert driver.store.inspect(ref()) is None


# ---- archive and restore -----------------------------------------------------------------


def _stored(driver: Driver, data: bytes = b"archive me") -> None:
    driver.store.store(ref(), data, content_type="text/plain", sha256=sha256_hex(data))


def test_archive_moves_the_object_and_is_idempotent(driver: Driver) -> None:
    _stored(driver)

    driver.store.archive(ref(), StorageClass.GLACIER)
    driver.store.archive(ref(), StorageClass.GLACIER)

    info = driver.store.inspect(ref())
    assert info is not None
    assert info.content.storage_class is StorageClass.GLACIER
    assert info.content.size == len(b"archive me")
    assert info.restore is None


def test_archive_to_deep_archive(driver: Driver) -> None:
    _stored(driver)

    driver.store.archive(ref(), StorageClass.DEEP_ARCHIVE)

    info = driver.store.inspect(ref())
    assert info is not None
    assert info.content.storage_class is StorageClass.DEEP_ARCHIVE


def test_archived_object_cannot_move_between_archive_classes(driver: Driver) -> None:
    _stored(driver)
    driver.store.archive(ref(), StorageClass.GLACIER)

    with pytest.raises(DependencyError):
        driver.store.archive(ref(), StorageClass.DEEP_ARCHIVE)


def test_archive_of_a_missing_object_is_a_dependency_error(driver: Driver) -> None:
    with pytest.raises(DependencyError):
        driver.store.archive(ref(9), StorageClass.GLACIER)


def test_restore_started_then_in_progress_then_already_restored(driver: Driver) -> None:
    _stored(driver)
    driver.store.archive(ref(), StorageClass.GLACIER)

    started = driver.store.request_restore(ref(), days=2, tier=RestoreTier.STANDARD)
    driver.hold_restore(ref())
    running = driver.store.inspect(ref())
    in_progress = driver.store.request_restore(ref(), days=2, tier=RestoreTier.STANDARD)
    driver.finish_restore(ref())
    restored = driver.store.inspect(ref())
    extended = driver.store.request_restore(ref(), days=3, tier=RestoreTier.STANDARD)

    assert started is RestoreOutcome.STARTED
    assert running is not None
    assert running.restore is not None
    assert running.restore.ongoing
    assert running.restore.expires_at is None
    assert in_progress is RestoreOutcome.IN_PROGRESS
    assert restored is not None
    assert restored.content.storage_class is StorageClass.GLACIER
    assert restored.restore is not None
    assert not restored.restore.ongoing
    assert restored.restore.expires_at is not None
    assert restored.restore.expires_at.utcoffset() == timedelta(0)
    assert extended is RestoreOutcome.ALREADY_RESTORED


def test_restore_of_a_hot_object_is_refused(driver: Driver) -> None:
    _stored(driver)

    with pytest.raises(DependencyError):
        driver.store.request_restore(ref(), days=1, tier=RestoreTier.STANDARD)


def test_restore_tier_must_exist_for_the_class(driver: Driver) -> None:
    _stored(driver)
    driver.store.archive(ref(), StorageClass.DEEP_ARCHIVE)

    with pytest.raises(ValidationError) as raised:
        driver.store.request_restore(ref(), days=1, tier=RestoreTier.EXPEDITED)
    assert raised.value.field == "tier"


def test_make_permanent_copies_a_restored_object_back_to_standard(driver: Driver) -> None:
    _stored(driver)
    driver.store.archive(ref(), StorageClass.GLACIER)
    driver.store.request_restore(ref(), days=1, tier=RestoreTier.STANDARD)
    driver.finish_restore(ref())

    driver.store.make_permanent(ref())
    driver.store.make_permanent(ref())  # already STANDARD: nothing to do

    info = driver.store.inspect(ref())
    assert info is not None
    assert info.content.storage_class is StorageClass.STANDARD
    assert info.restore is None
    assert driver.store.compute_sha256(ref()) == sha256_hex(b"archive me")


def test_make_permanent_before_the_restore_finished_fails(driver: Driver) -> None:
    _stored(driver)
    driver.store.archive(ref(), StorageClass.GLACIER)
    driver.store.request_restore(ref(), days=1, tier=RestoreTier.STANDARD)
    driver.hold_restore(ref())

    with pytest.raises(DependencyError):
        driver.store.make_permanent(ref())


def test_every_write_reports_the_version_it_made_current(driver: Driver) -> None:
    # The record keeps the version id so its download links name exactly those bytes.
    data = b"versioned"
    stored = driver.store.store(ref(), data, content_type="text/plain", sha256=sha256_hex(data))
    assert stored is not None
    assert stored == driver.store.current_version(ref())
    info = driver.store.inspect(ref())
    assert info is not None
    assert info.content.version_id == stored

    archived = driver.store.archive(ref(), StorageClass.GLACIER)
    assert archived not in (None, stored)
    assert archived == driver.store.current_version(ref())
    assert driver.store.archive(ref(), StorageClass.GLACIER) == archived  # nothing copied

    driver.store.request_restore(ref(), days=1, tier=RestoreTier.STANDARD)
    driver.finish_restore(ref())
    permanent = driver.store.make_permanent(ref())
    assert permanent not in (None, archived)
    assert permanent == driver.store.current_version(ref())
    assert driver.store.make_permanent(ref()) == permanent


# ---- deletion and sidecars -----------------------------------------------------------------


def test_a_plain_delete_leaves_the_bytes_readable_by_version(driver: Driver) -> None:
    # A delete without VersionId in the versioned bucket (by an operator: the port has none)
    # is a delete marker, not a destruction: only delete_version, delete_key and purge
    # destroy content.
    data = b"still here"
    version = driver.store.store(ref(), data, content_type="text/plain", sha256=sha256_hex(data))
    assert version is not None

    driver.plain_delete(content_key(ref()))

    assert driver.store.current_version(ref()) is None
    assert driver.read_version(ref(), version) == data


def test_sidecar_round_trip_keeps_numbers_exact(driver: Driver) -> None:
    metadata = normalize_metadata(
        {
            "tenth": Decimal("0.1"),
            "tiny": Decimal("1E-7"),
            "big": 12345678901234567890,
            "huge": 10**125,
            "nested": {"list": [1, "zwei", None, True, {"deep": Decimal("-2.5")}]},
            "unicode": '报告 ✓ \u0000 "quoted"',
        }
    )

    driver.store.write_sidecar(DOC, metadata)
    read = driver.store.read_sidecar(DOC)

    assert read == metadata
    assert read is not None
    assert read["huge"] == 10**125
    assert read["tiny"] == Decimal("1E-7")
    assert str(read["tenth"]) == "0.1"


def test_read_sidecar_of_missing_is_none(driver: Driver) -> None:
    assert driver.store.read_sidecar(DOC) is None


def test_check_passes_when_storage_is_reachable(driver: Driver) -> None:
    driver.store.check()


# ---- nothing is lost: legal hold, revision tags, exact deletes, revision copies -------------


def _versions_of(driver: Driver, revision: int, *contents: bytes) -> list[str]:
    """Store each content in turn on the revision; return the version ids, oldest first."""
    versions = []
    for data in contents:
        stored = driver.store.store(
            ref(revision), data, content_type="text/plain", sha256=sha256_hex(data)
        )
        assert stored is not None
        versions.append(stored)
    return versions


def test_legal_hold_is_set_and_lifted_on_exactly_one_version(driver: Driver) -> None:
    old, new = _versions_of(driver, 1, b"old", b"new")
    assert not driver.store.legal_hold(ref(), old)

    driver.store.set_legal_hold(ref(), old, on=True)
    driver.store.set_legal_hold(ref(), old, on=True)  # idempotent

    assert driver.store.legal_hold(ref(), old)
    assert not driver.store.legal_hold(ref(), new)

    driver.store.set_legal_hold(ref(), old, on=False)
    driver.store.set_legal_hold(ref(), old, on=False)

    assert not driver.store.legal_hold(ref(), old)


def test_an_archived_version_can_be_held_and_refuses_its_delete(driver: Driver) -> None:
    (standard,) = _versions_of(driver, 1, b"evidence")
    archived = driver.store.archive(ref(), StorageClass.GLACIER)
    assert archived is not None
    driver.store.set_legal_hold(ref(), archived, on=True)  # moto cannot read it: still set
    driver.store.set_legal_hold(ref(), standard, on=True)
    with pytest.raises(DependencyError):
        driver.store.delete_version(ref(), archived)
    driver.store.set_legal_hold(ref(), archived, on=False)
    driver.store.delete_version(ref(), archived)
    assert driver.store.current_version(ref()) == standard


def test_legal_hold_of_a_missing_version_is_a_dependency_error(driver: Driver) -> None:
    (elsewhere,) = _versions_of(driver, 2, b"a version of another key")
    _versions_of(driver, 1, b"here")

    with pytest.raises(DependencyError):
        driver.store.set_legal_hold(ref(1), elsewhere, on=True)
    with pytest.raises(DependencyError):
        driver.store.legal_hold(ref(1), elsewhere)
    assert not driver.store.legal_hold(ref(2), elsewhere)


def test_a_held_version_refuses_delete_version_until_the_hold_is_lifted(driver: Driver) -> None:
    old, new = _versions_of(driver, 1, b"old bytes", b"new bytes")
    driver.store.set_legal_hold(ref(), old, on=True)
    driver.store.set_legal_hold(ref(), new, on=True)

    with pytest.raises(DependencyError):
        driver.store.delete_version(ref(), old)
    with pytest.raises(DependencyError):
        driver.store.delete_version(ref(), new)

    assert driver.read_version(ref(), old) == b"old bytes"
    assert driver.read_version(ref(), new) == b"new bytes"
    assert driver.store.current_version(ref()) == new
    assert driver.versions(content_key(ref())) == {old, new}

    driver.store.set_legal_hold(ref(), old, on=False)
    driver.store.delete_version(ref(), old)

    assert driver.versions(content_key(ref())) == {new}
    assert driver.store.current_version(ref()) == new


def test_tag_noncurrent_tags_exactly_one_version(driver: Driver) -> None:
    old, new = _versions_of(driver, 1, b"superseded", b"current")
    assert driver.store.tags(ref(), old) == {}

    driver.store.tag_noncurrent(ref(), old)
    driver.store.tag_noncurrent(ref(), old)  # idempotent

    assert driver.store.tags(ref(), old) == {"kumocms-revision": "noncurrent"}
    assert driver.store.tags(ref(), new) == {}
    assert driver.store.current_version(ref()) == new  # tagging makes no version


def test_tags_of_a_missing_version_are_a_dependency_error(driver: Driver) -> None:
    (elsewhere,) = _versions_of(driver, 2, b"a version of another key")
    _versions_of(driver, 1, b"here")

    with pytest.raises(DependencyError):
        driver.store.tag_noncurrent(ref(1), elsewhere)
    with pytest.raises(DependencyError):
        driver.store.tags(ref(1), elsewhere)


def test_delete_key_removes_every_version_and_marker_of_exactly_that_key(driver: Driver) -> None:
    _versions_of(driver, 1, b"first", b"second")
    driver.plain_delete(content_key(ref(1)))  # a delete marker in S3
    _versions_of(driver, 1, b"third")
    (tenth,) = _versions_of(driver, 10, b"revision 10 shares the prefix r1")
    driver.store.write_sidecar(DOC, normalize_metadata({"a": 1}))

    driver.store.delete_key(ref(1))
    driver.store.delete_key(ref(1))  # nothing left: fine
    driver.store.delete_key(ref(3))  # never existed: fine

    assert driver.versions(content_key(ref(1))) == set()
    assert driver.store.inspect(ref(1)) is None
    assert driver.versions(content_key(ref(10))) == {tenth}
    assert driver.read_version(ref(10), tenth) == b"revision 10 shares the prefix r1"
    assert driver.store.read_sidecar(DOC) == normalize_metadata({"a": 1})


def test_delete_key_keeps_a_held_version_deletes_the_rest_and_says_so(driver: Driver) -> None:
    held, *_newer = _versions_of(driver, 1, b"held", b"newer", b"newest")
    driver.store.set_legal_hold(ref(), held, on=True)

    with pytest.raises(DependencyError):
        driver.store.delete_key(ref())

    assert driver.versions(content_key(ref())) == {held}
    assert driver.read_version(ref(), held) == b"held"
    assert driver.store.current_version(ref()) == held  # the newer ones are gone

    driver.store.set_legal_hold(ref(), held, on=False)
    driver.store.delete_key(ref())

    assert driver.versions(content_key(ref())) == set()


def _document(driver: Driver, document_id: DocumentId) -> None:
    for revision in (1, 2):
        for data in (b"first", b"second"):
            driver.store.store(
                ContentRef(document_id, revision),
                data,
                content_type="text/plain",
                sha256=sha256_hex(data),
            )
    driver.store.write_sidecar(document_id, normalize_metadata({"of": document_id.value}))


def test_purge_removes_every_version_of_the_document_and_nothing_else(driver: Driver) -> None:
    _document(driver, DOC)
    _document(driver, OTHER_DOC)
    driver.plain_delete(content_key(ContentRef(DOC, 2)))  # delete markers in S3
    driver.plain_delete(sidecar_key(DOC))

    driver.store.purge(DOC)
    driver.store.purge(DOC)  # nothing left: fine

    for revision in (1, 2):
        assert driver.versions(content_key(ContentRef(DOC, revision))) == set()
        assert len(driver.versions(content_key(ContentRef(OTHER_DOC, revision)))) == 2
    assert driver.versions(sidecar_key(DOC)) == set()
    assert driver.store.read_sidecar(DOC) is None
    assert driver.store.read_sidecar(OTHER_DOC) == normalize_metadata({"of": OTHER_DOC.value})


def test_purge_keeps_a_held_version_deletes_the_rest_and_says_so(driver: Driver) -> None:
    _document(driver, DOC)
    held = driver.store.current_version(ref(2))
    assert held is not None
    driver.store.set_legal_hold(ref(2), held, on=True)

    with pytest.raises(DependencyError):
        driver.store.purge(DOC)

    assert driver.versions(content_key(ref(1))) == set()
    assert driver.versions(content_key(ref(2))) == {held}
    assert driver.versions(sidecar_key(DOC)) == set()
    assert driver.read_version(ref(2), held) == b"second"


def test_copy_revision_copies_one_old_version_onto_another_revision(driver: Driver) -> None:
    old, new = _versions_of(driver, 1, b"the old bytes", b"the new bytes")
    driver.store.tag_noncurrent(ref(1), old)
    driver.store.set_legal_hold(ref(1), old, on=True)

    copied = driver.store.copy_revision(ref(1), source_version=old, target=ref(2))

    assert copied not in (old, new)
    assert driver.store.current_version(ref(2)) == copied
    assert driver.read_version(ref(2), copied) == b"the old bytes"
    assert driver.content_type(ref(2)) == "text/plain"
    info = driver.store.inspect(ref(2))
    assert info is not None
    assert info.content.storage_class is StorageClass.STANDARD
    # A fresh current revision: not tagged for the noncurrent class, not held.
    assert driver.store.tags(ref(2), copied) == {}
    assert not driver.store.legal_hold(ref(2), copied)
    assert driver.store.current_version(ref(1)) == new


def test_copy_revision_of_a_missing_or_archived_version_is_a_dependency_error(
    driver: Driver,
) -> None:
    (elsewhere,) = _versions_of(driver, 3, b"a version of another key")
    _versions_of(driver, 1, b"cold")
    archived = driver.store.archive(ref(1), StorageClass.GLACIER)
    assert archived is not None

    with pytest.raises(DependencyError):
        driver.store.copy_revision(ref(1), source_version=elsewhere, target=ref(2))
    with pytest.raises(DependencyError):
        driver.store.copy_revision(ref(1), source_version=archived, target=ref(2))
    assert driver.store.inspect(ref(2)) is None
