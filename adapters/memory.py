"""Adapters layer: in-memory implementations of every port, for tests and local reasoning.

They are working adapters, not mocks: the blob store keeps bytes, storage classes, multipart
uploads and restores driven by the clock, checks presigned URLs when a simulated client uses
them, and records the notifications S3 would send; the repositories enforce conditional writes
and keep cursors opaque. Contract tests run the same assertions against these and the AWS
adapters so the two cannot drift.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import itertools
import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
from ulid import ULID

from adapters.cursor import (
    decode_document_cursor,
    decode_position,
    decode_user_cursor,
    document_scope,
    encode_cursor,
    encode_position,
)
from adapters.disposition import content_disposition
from kumocms.errors import (
    AlreadyExistsError,
    ChecksumMismatchError,
    CopyCancelledError,
    DependencyError,
    DocumentNotFoundError,
    KumoError,
    LastAdminError,
    SourceChangedError,
    UserNotFoundError,
    ValidationError,
    VersionConflictError,
)
from kumocms.events import DomainEvent
from kumocms.history import HistoryEntry, HistoryPage, position
from kumocms.ids import DocumentId, UserId
from kumocms.jsonvalue import JsonObject, dumps_json, loads_json
from kumocms.keys import (
    NONCURRENT,
    REVISION_TAG,
    ContentRef,
    content_key,
    document_folder,
    sidecar_key,
)
from kumocms.model import (
    MAX_PARTS,
    MIN_PART_SIZE,
    ContentDeclaration,
    CopiedPart,
    CopyJob,
    Document,
    PartRange,
    RevisionPolicy,
    StoredContent,
    UploadMode,
    restore_expiry,
    trash_position,
)
from kumocms.ports import (
    CompletedPart,
    DocumentPage,
    IdempotencyClaim,
    ObjectInfo,
    PartUrl,
    Ports,
    PresignedUrl,
    QueuedMessage,
    Remembered,
    RestoreOutcome,
    RestoreStatus,
    UploadTarget,
    UserPage,
)
from kumocms.rules import normalize_metadata
from kumocms.search import (
    DocumentFilter,
    FieldType,
    IndexedFields,
    ReindexBatch,
    index_entries,
    range_position,
)
from kumocms.settings import Settings
from kumocms.states import ArchiveState, RestoreTier, StorageClass
from kumocms.usecases.ingest import (
    ObjectCreated,
    RestoreCompleted,
    RestoreExpired,
    RestoreInitiated,
    StorageEvent,
)
from kumocms.users import API_KEY_PREFIX, User

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start

    def now(self) -> datetime:
        """The current (manual) time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward and return the new time."""
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment`."""
        self._now = moment


class SequentialIds:
    """Deterministic ids: ULIDs on the clock's millisecond with a counter as randomness."""

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._counter = itertools.count(1)

    def _ulid(self) -> ULID:
        millis = int(self._clock.now().timestamp() * 1000)
        return ULID.from_bytes(millis.to_bytes(6, "big") + next(self._counter).to_bytes(10, "big"))

    def document_id(self) -> DocumentId:
        """A new document id, ordered after the previous one."""
        return DocumentId.from_ulid(self._ulid())

    def user_id(self) -> UserId:
        """A new user id."""
        return UserId.from_ulid(self._ulid())

    def api_key(self) -> str:
        """A reproducible key in the generated-key format."""
        digest = hashlib.sha256(f"key-{next(self._counter)}".encode()).hexdigest()
        return API_KEY_PREFIX + digest[:43]

    def copy_id(self) -> str:
        """A reproducible copy id."""
        return f"copy-{next(self._counter)}"


class RecordingEventBus:
    """Keeps every published event in order."""

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Record the events."""
        self.published.extend(events)

    def names(self) -> list[str]:
        """The published events' type names, in order."""
        return [event.name for event in self.published]


# ---- blob store ---------------------------------------------------------------------------


@attrs.define
class _Object:
    data: bytes
    content_type: str
    sha256: str | None
    storage_class: StorageClass = StorageClass.STANDARD
    restore_ready_at: datetime | None = None
    restore_expires_at: datetime | None = None
    restore_days: int = 0
    completion_announced: bool = False
    version_id: str = ""


@attrs.define
class _Multipart:
    key: str
    content_type: str
    parts: dict[int, bytes] = attrs.field(factory=dict)
    storage_class: StorageClass = StorageClass.STANDARD


class InMemoryBlobStore:
    """A bucket in memory: revisions, sidecars, multipart uploads, Glacier and its events.

    `restore_delay` is how long a simulated restore takes on the clock. `notifications()`
    returns what S3 would have sent to EventBridge since the last call, in order.
    """

    scheme = "memory"

    def __init__(
        self,
        clock: ManualClock,
        *,
        bucket: str = "kumocms-test",
        restore_delay: timedelta = timedelta(hours=3),
    ) -> None:
        self._clock = clock
        self.bucket = bucket
        self.restore_delay = restore_delay
        self.available = True
        self.objects: dict[str, _Object] = {}
        self.noncurrent: dict[str, list[_Object]] = {}
        """Older versions of each key, oldest first (the bucket is versioned)."""
        self.held: set[tuple[str, str]] = set()
        """(key, version id) of every version under legal hold (Object Lock)."""
        self.version_tags: dict[tuple[str, str], dict[str, str]] = {}
        """The tag set of each (key, version id) that has one."""
        self._uploads: dict[str, _Multipart] = {}
        self._events: list[StorageEvent] = []
        self._sequencer = itertools.count(1)
        self.requests: list[str] = []

    # -- the port ----------------------------------------------------------------------

    def store(
        self, ref: ContentRef, content: bytes, *, content_type: str, sha256: str
    ) -> str | None:
        """Store content given in a request; return its version id."""
        self._call("store")
        if hashlib.sha256(content).hexdigest() != sha256:
            raise ChecksumMismatchError("content does not match its checksum", field="sha256")
        stored = _Object(content, content_type, sha256)
        self._put(content_key(ref), stored)
        return stored.version_id

    def presign_upload(
        self,
        ref: ContentRef,
        declared: ContentDeclaration,
        *,
        mode: UploadMode,
        expires_in: timedelta,
    ) -> UploadTarget:
        """A fake but parseable PUT or POST target bound to size, type and checksum."""
        expires_at = self._clock.now() + expires_in
        key = content_key(ref)
        if mode is UploadMode.PUT:
            headers = {"Content-Type": declared.content_type}
            if declared.sha256 is not None:
                headers["x-amz-checksum-sha256"] = _b64_sha256(declared.sha256)
            url = self._url(key, "PUT", expires_at, size=declared.size)
            return UploadTarget(method="PUT", url=url, headers=headers, expires_at=expires_at)
        fields = {
            "key": key,
            "Content-Type": declared.content_type,
            "policy": json.dumps(
                {
                    "expiration": expires_at.isoformat(),
                    "conditions": [
                        {"bucket": self.bucket},
                        {"key": key},
                        {"Content-Type": declared.content_type},
                        ["content-length-range", declared.size, declared.size],
                    ],
                }
            ),
        }
        return UploadTarget(
            method="POST",
            url=f"{self.scheme}://{self.bucket}/",
            fields=fields,
            expires_at=expires_at,
        )

    def start_multipart(self, ref: ContentRef, *, content_type: str) -> str:
        """Open a multipart upload."""
        self._call("start_multipart")
        upload_id = f"mpu-{next(self._sequencer)}"
        self._uploads[upload_id] = _Multipart(content_key(ref), content_type)
        return upload_id

    def presign_parts(
        self,
        ref: ContentRef,
        *,
        upload_id: str,
        part_numbers: Iterable[int],
        expires_in: timedelta,
    ) -> tuple[tuple[PartUrl, ...], datetime]:
        """Fake part URLs."""
        expires_at = self._clock.now() + expires_in
        key = content_key(ref)
        parts = tuple(
            PartUrl(
                part_number=n,
                url=self._url(key, "PUT", expires_at, uploadId=upload_id, partNumber=str(n)),
            )
            for n in part_numbers
        )
        return parts, expires_at

    def complete_multipart(
        self, ref: ContentRef, *, upload_id: str, parts: Sequence[CompletedPart]
    ) -> None:
        """Assemble the parts (ETags must match what the parts returned)."""
        self._call("complete_multipart")
        upload = self._uploads.get(upload_id)
        if upload is None or upload.key != content_key(ref):
            raise ValidationError("the multipart upload does not exist", field="parts")
        chunks = []
        for part in parts:
            data = upload.parts.get(part.part_number)
            if data is None or _etag(data) != part.etag.strip('"'):
                raise ValidationError(
                    f"part {part.part_number} was not uploaded with that etag", field="parts"
                )
            chunks.append(data)
        del self._uploads[upload_id]
        self._put(upload.key, _Object(b"".join(chunks), upload.content_type, None))

    def abort_upload(self, ref: ContentRef, *, upload_id: str | None) -> None:
        """Drop the open multipart upload, or else every version of the key (like S3)."""
        self._call("abort_upload")
        if upload_id is not None and self._uploads.pop(upload_id, None) is not None:
            return
        self._delete_versions(content_key(ref))

    def inspect(self, ref: ContentRef) -> ObjectInfo | None:
        """What the bucket holds for `ref`."""
        self._call("inspect")
        obj = self.objects.get(content_key(ref))
        if obj is None:
            return None
        self._expire_restore(obj)
        content = StoredContent(
            size=len(obj.data),
            sha256=obj.sha256,
            storage_class=obj.storage_class,
            version_id=obj.version_id,
        )
        restore = None
        if obj.restore_ready_at is not None:
            ongoing = obj.restore_ready_at > self._clock.now()
            if not ongoing and obj.restore_expires_at is None:
                obj.restore_expires_at = restore_expiry(obj.restore_ready_at, obj.restore_days)
            restore = RestoreStatus(
                ongoing=ongoing, expires_at=None if ongoing else obj.restore_expires_at
            )
        return ObjectInfo(content=content, restore=restore)

    def compute_sha256(self, ref: ContentRef) -> str:
        """Hash the stored bytes."""
        self._call("compute_sha256")
        return hashlib.sha256(self._require(content_key(ref)).data).hexdigest()

    def presign_download(
        self,
        ref: ContentRef,
        *,
        file_name: str,
        content_type: str,
        expires_in: timedelta,
        version_id: str | None,
    ) -> PresignedUrl:
        """A fake GET URL naming the file (and the version, when given)."""
        expires_at = self._clock.now() + expires_in
        params = {
            "response-content-type": content_type,
            "response-content-disposition": content_disposition(file_name),
        }
        if version_id is not None:
            params["versionId"] = version_id
        url = self._url(content_key(ref), "GET", expires_at, **params)
        return PresignedUrl(url=url, expires_at=expires_at)

    def archive(self, ref: ContentRef, storage_class: StorageClass) -> str | None:
        """Copy the object onto itself in an archive class (nothing when already there)."""
        self._call("archive")
        key = content_key(ref)
        obj = self._require(key)
        if obj.storage_class is storage_class:
            return obj.version_id
        if obj.storage_class.is_archive:
            raise DependencyError("an archived object cannot be copied before it is restored")
        return self._copy_in_place(key, obj, storage_class)

    def request_restore(self, ref: ContentRef, *, days: int, tier: RestoreTier) -> RestoreOutcome:
        """Start a restore, report one in progress, or extend a restored copy."""
        self._call("request_restore")
        key = content_key(ref)
        obj = self._require(key)
        if not obj.storage_class.is_archive:
            raise DependencyError("only archived objects can be restored")
        tier.window(obj.storage_class)
        self._expire_restore(obj)
        now = self._clock.now()
        if obj.restore_ready_at is not None:
            if obj.restore_ready_at > now:
                return RestoreOutcome.IN_PROGRESS
            obj.restore_expires_at = restore_expiry(now, days)
            return RestoreOutcome.ALREADY_RESTORED
        obj.restore_ready_at = now + self.restore_delay
        obj.restore_days = days
        obj.completion_announced = False
        self._announce(RestoreInitiated, key)
        return RestoreOutcome.STARTED

    def make_permanent(self, ref: ContentRef) -> str | None:
        """Copy a restored object back to STANDARD."""
        self._call("make_permanent")
        key = content_key(ref)
        obj = self._require(key)
        if obj.storage_class is StorageClass.STANDARD:
            return obj.version_id
        if not self._readable(obj):
            raise DependencyError("the object is not restored")
        return self._copy_in_place(key, obj, StorageClass.STANDARD)

    # -- resumable copies ------------------------------------------------------------------

    def current_version(self, ref: ContentRef) -> str | None:
        """The current object's version id."""
        self._call("current_version")
        obj = self.objects.get(content_key(ref))
        return None if obj is None else obj.version_id

    def start_copy(self, ref: ContentRef, *, storage_class: StorageClass, content_type: str) -> str:
        """Open a multipart upload that will hold the copied parts."""
        self._call("start_copy")
        upload_id = f"mpc-{next(self._sequencer)}"
        self._uploads[upload_id] = _Multipart(
            content_key(ref), content_type, storage_class=storage_class
        )
        return upload_id

    def copy_part(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        part: PartRange,
        source: ContentRef | None = None,
    ) -> CopiedPart:
        """Copy bytes of one source version into the upload (like UploadPartCopy)."""
        self._call("copy_part")
        key = content_key(ref)
        upload = self._uploads.get(copy_upload)
        if upload is None or upload.key != key:
            raise CopyCancelledError("NoSuchUpload")
        copied = self.version(content_key(source or ref), source_version)
        if copied is None:
            raise DependencyError("NoSuchVersion")
        if not self._readable(copied):
            raise DependencyError("InvalidObjectState")
        if part.last >= len(copied.data) or not 1 <= part.number <= MAX_PARTS:
            raise DependencyError("InvalidRange")
        data = copied.data[part.first : part.last + 1]
        upload.parts[part.number] = data
        return CopiedPart(number=part.number, etag=_etag(data))

    def complete_copy(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        parts: Sequence[CopiedPart],
        source: ContentRef | None = None,
    ) -> str:
        """Assemble the parts as the key's new current version (refused if the source moved).

        A copy from another key (`source`) read an immutable version: nothing to check.
        """
        self._call("complete_copy")
        key = content_key(ref)
        upload = self._uploads.get(copy_upload)
        if upload is None or upload.key != key:
            raise CopyCancelledError("NoSuchUpload")
        current = self.objects.get(key)
        if source is None and (current is None or current.version_id != source_version):
            raise SourceChangedError("the object's current version is not the copy's source")
        chunks = []
        for index, part in enumerate(parts):
            data = upload.parts.get(part.number)
            if data is None or _etag(data) != part.etag.strip('"'):
                raise DependencyError(f"InvalidPart {part.number}")
            if len(data) < MIN_PART_SIZE and index < len(parts) - 1:
                raise DependencyError("EntityTooSmall")
            chunks.append(data)
        del self._uploads[copy_upload]
        copied = _Object(
            b"".join(chunks), upload.content_type, None, storage_class=upload.storage_class
        )
        self._put(key, copied)
        return copied.version_id

    def copy_open(self, ref: ContentRef, *, copy_upload: str) -> bool:
        """Whether the upload exists on that key."""
        self._call("copy_open")
        upload = self._uploads.get(copy_upload)
        return upload is not None and upload.key == content_key(ref)

    def abort_copy(self, ref: ContentRef, *, copy_upload: str) -> None:
        """Drop the upload and its parts (an unknown one is fine)."""
        self._call("abort_copy")
        upload = self._uploads.get(copy_upload)
        if upload is not None and upload.key == content_key(ref):
            del self._uploads[copy_upload]

    def delete_version(self, ref: ContentRef, version_id: str) -> None:
        """Remove one version; the newest older one becomes current when it was current.

        Raises:
            DependencyError: the version is under legal hold (AccessDenied); nothing changed.
        """
        self._call("delete_version")
        key = content_key(ref)
        if (key, version_id) in self.held:
            raise DependencyError("AccessDenied")
        self.version_tags.pop((key, version_id), None)
        older = self.noncurrent.get(key, [])
        current = self.objects.get(key)
        if current is not None and current.version_id == version_id:
            if older:
                self.objects[key] = older.pop()
            else:
                del self.objects[key]
            return
        self.noncurrent[key] = [obj for obj in older if obj.version_id != version_id]

    def copy_revision(self, source: ContentRef, *, source_version: str, target: ContentRef) -> str:
        """CopyObject of one version onto the target's key in STANDARD (no tags, no hold).

        Raises:
            DependencyError: the source version is missing or not readable (archived).
        """
        self._call("copy_revision")
        obj = self.version(content_key(source), source_version)
        if obj is None:
            raise DependencyError("NoSuchVersion")
        if not self._readable(obj):
            raise DependencyError("InvalidObjectState")
        copied = _Object(obj.data, obj.content_type, obj.sha256)
        self._put(content_key(target), copied, is_copy=True)
        return copied.version_id

    def tag_noncurrent(self, ref: ContentRef, version_id: str) -> None:
        """Replace the version's tag set with `kumocms-revision=noncurrent`.

        Raises:
            DependencyError: the version is missing (NoSuchVersion).
        """
        self._call("tag_noncurrent")
        key = self._require_version(ref, version_id)
        self.version_tags[key, version_id] = {REVISION_TAG: NONCURRENT}

    def tags(self, ref: ContentRef, version_id: str) -> dict[str, str]:
        """The version's tags.

        Raises:
            DependencyError: the version is missing (NoSuchVersion).
        """
        self._call("tags")
        key = self._require_version(ref, version_id)
        return dict(self.version_tags.get((key, version_id), {}))

    def set_legal_hold(self, ref: ContentRef, version_id: str, *, on: bool) -> None:
        """Put the version under legal hold or lift it.

        Raises:
            DependencyError: the version is missing (NoSuchVersion).
        """
        self._call("set_legal_hold")
        key = self._require_version(ref, version_id)
        if on:
            self.held.add((key, version_id))
        else:
            self.held.discard((key, version_id))

    def legal_hold(self, ref: ContentRef, version_id: str) -> bool:
        """Whether the version is under legal hold.

        Raises:
            DependencyError: the version is missing (NoSuchVersion).
        """
        self._call("legal_hold")
        key = self._require_version(ref, version_id)
        return (key, version_id) in self.held

    def delete_key(self, ref: ContentRef) -> None:
        """Remove every version of the key except those under legal hold.

        Raises:
            DependencyError: some versions are under legal hold (they stay; the rest go).
        """
        self._call("delete_key")
        self._delete_versions(content_key(ref))

    def purge(self, document_id: DocumentId) -> None:
        """Remove every version of every key in the document's folder but held ones.

        Raises:
            DependencyError: some versions are under legal hold (they stay; the rest go).
        """
        self._call("purge")
        folder = document_folder(document_id)
        keys = {*self.objects, *self.noncurrent}
        refused = 0
        for key in sorted(k for k in keys if k.startswith(folder)):
            try:
                self._delete_versions(key)
            except DependencyError:
                refused += 1
        if refused:
            raise DependencyError("AccessDenied")

    def version(self, key: str, version_id: str) -> _Object | None:
        """One version of a key, current or not."""
        current = self.objects.get(key)
        if current is not None and current.version_id == version_id:
            return current
        return next((o for o in self.noncurrent.get(key, []) if o.version_id == version_id), None)

    def open_uploads(self) -> builtins.list[str]:
        """Ids of multipart uploads neither completed nor aborted."""
        return sorted(self._uploads)

    def write_sidecar(self, document_id: DocumentId, metadata: JsonObject) -> None:
        """Write `meta.json`."""
        self._call("write_sidecar")
        data = dumps_json(metadata).encode("utf-8")
        self._put(sidecar_key(document_id), _Object(data, "application/json", None))

    def read_sidecar(self, document_id: DocumentId) -> JsonObject | None:
        """Read `meta.json`."""
        self._call("read_sidecar")
        obj = self.objects.get(sidecar_key(document_id))
        if obj is None:
            return None
        try:
            return normalize_metadata(loads_json(obj.data))
        except (ValueError, KumoError) as error:
            raise DependencyError("the metadata sidecar is not valid JSON") from error

    def check(self) -> None:
        """Fails when the fake is marked unavailable."""
        self._call("check")

    # -- what a client (curl, a browser) does with the presigned targets -----------------

    def client_upload(
        self, target: UploadTarget, content: bytes, *, headers: dict[str, str] | None = None
    ) -> None:
        """Use a PUT or POST target like a client would; storage-side checks apply.

        Raises:
            PermissionError: the URL expired or a signed condition is not met.
        """
        if target.method == "PUT":
            assert target.url is not None
            self.client_put(target.url, content, headers=headers or dict(target.headers))
            return
        policy = json.loads(target.fields["policy"])
        if datetime.fromisoformat(policy["expiration"]) <= self._clock.now():
            raise PermissionError("policy expired")
        low, high = next(c[1:] for c in policy["conditions"] if isinstance(c, list))
        if not low <= len(content) <= high:
            raise PermissionError("EntityTooSmall or EntityTooLarge")
        key = target.fields["key"]
        self._put(key, _Object(content, target.fields["Content-Type"], None))

    def client_put(self, url: str, content: bytes, *, headers: dict[str, str]) -> str:
        """PUT to a presigned URL (whole object or one part); returns the ETag.

        Raises:
            PermissionError: the URL expired, or size, type or checksum differ from the signed.
        """
        key, query = self._check_url(url, "PUT")
        if "size" in query and int(query["size"]) != len(content):
            raise PermissionError("SignatureDoesNotMatch: Content-Length differs")
        if "partNumber" in query:
            upload = self._uploads.get(query["uploadId"])
            if upload is None:
                raise PermissionError("NoSuchUpload")
            upload.parts[int(query["partNumber"])] = content
            return _etag(content)
        lowered = {k.lower(): v for k, v in headers.items()}
        checksum = lowered.get("x-amz-checksum-sha256")
        sha256 = hashlib.sha256(content).hexdigest()
        if checksum is not None and checksum != _b64_sha256(sha256):
            raise PermissionError("BadDigest")
        content_type = lowered.get("content-type", "binary/octet-stream")
        self._put(key, _Object(content, content_type, sha256 if checksum else None))
        return _etag(content)

    def client_get(self, url: str) -> bytes:
        """GET a presigned download URL.

        Raises:
            PermissionError: the URL expired or the object is archived and not restored.
        """
        key, query = self._check_url(url, "GET")
        version_id = query.get("versionId")
        obj = self._require(key) if version_id is None else self.version(key, version_id)
        if obj is None:
            raise PermissionError("NoSuchVersion")
        if not self._readable(obj):
            raise PermissionError("InvalidObjectState")
        return obj.data

    def notifications(self) -> list[StorageEvent]:
        """Events S3 would have delivered since the last call (restores finish on the clock)."""
        now = self._clock.now()
        for key, obj in self.objects.items():
            ready = obj.restore_ready_at
            if ready is not None and ready <= now and not obj.completion_announced:
                obj.restore_expires_at = obj.restore_expires_at or restore_expiry(
                    ready, obj.restore_days
                )
                obj.completion_announced = True
                self._events.append(
                    RestoreCompleted(key=key, occurred_at=ready, expires_at=obj.restore_expires_at)
                )
            self._expire_restore(obj, key=key)
        events, self._events = self._events, []
        return events

    # -- internals -----------------------------------------------------------------------

    def _call(self, name: str) -> None:
        self.requests.append(name)
        if not self.available:
            raise DependencyError("storage is unavailable")

    def _put(self, key: str, obj: _Object, *, is_copy: bool = False) -> None:
        previous = self.objects.get(key)
        if previous is not None:
            self.noncurrent.setdefault(key, []).append(previous)
        obj.version_id = f"v{next(self._sequencer):06d}"
        self.objects[key] = obj
        self._announce(
            ObjectCreated, key, size=len(obj.data), is_copy=is_copy, version_id=obj.version_id
        )

    def _copy_in_place(self, key: str, obj: _Object, storage_class: StorageClass) -> str:
        """CopyObject onto the same key: a new version in another class (tags are copied)."""
        copied = _Object(obj.data, obj.content_type, obj.sha256, storage_class=storage_class)
        self._put(key, copied, is_copy=True)
        tags = self.version_tags.get((key, obj.version_id))
        if tags:
            self.version_tags[key, copied.version_id] = dict(tags)
        return copied.version_id

    def _require_version(self, ref: ContentRef, version_id: str) -> str:
        key = content_key(ref)
        if self.version(key, version_id) is None:
            raise DependencyError("NoSuchVersion")
        return key

    def _delete_versions(self, key: str) -> None:
        """Every version of `key` goes but held ones; the newest held one is then current.

        Raises:
            DependencyError: some versions are under legal hold (AccessDenied).
        """
        versions = [*self.noncurrent.pop(key, []), *filter(None, [self.objects.pop(key, None)])]
        kept = [obj for obj in versions if (key, obj.version_id) in self.held]
        for obj in versions:
            if (key, obj.version_id) not in self.held:
                self.version_tags.pop((key, obj.version_id), None)
        if not kept:
            return
        # S3 makes the newest remaining version current once the newer ones are gone.
        self.objects[key] = kept[-1]
        if kept[:-1]:
            self.noncurrent[key] = kept[:-1]
        raise DependencyError("AccessDenied")

    def _announce(self, kind: type[StorageEvent], key: str, **fields: object) -> None:
        if kind is ObjectCreated:
            fields["sequencer"] = f"{next(self._sequencer):016X}"
        self._events.append(kind(key=key, occurred_at=self._clock.now(), **fields))  # type: ignore[arg-type]

    def _require(self, key: str) -> _Object:
        obj = self.objects.get(key)
        if obj is None:
            raise DependencyError("NoSuchKey")
        return obj

    def _readable(self, obj: _Object) -> bool:
        if obj.storage_class is StorageClass.STANDARD:
            return True
        self._expire_restore(obj)
        return obj.restore_ready_at is not None and obj.restore_ready_at <= self._clock.now()

    def _expire_restore(self, obj: _Object, *, key: str | None = None) -> None:
        expires = obj.restore_expires_at
        if expires is not None and expires <= self._clock.now():
            obj.restore_ready_at = obj.restore_expires_at = None
            if key is not None:
                self._events.append(RestoreExpired(key=key, occurred_at=expires))

    def _url(self, key: str, method: str, expires_at: datetime, **params: object) -> str:
        query = {"method": method, "expires": expires_at.isoformat(), **params}
        return f"{self.scheme}://{self.bucket}/{key}?{urlencode(query)}"

    def _check_url(self, url: str, method: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.scheme != self.scheme or query.get("method") != method:
            raise PermissionError("SignatureDoesNotMatch")
        if datetime.fromisoformat(query["expires"]) <= self._clock.now():
            raise PermissionError("Request has expired")
        return parts.path.lstrip("/"), query


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _b64_sha256(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


# ---- repositories -------------------------------------------------------------------------


class InMemoryDocumentRepository:
    """Documents in a dict, with version-conditional writes and newest-first cursors."""

    def __init__(
        self,
        indexed_fields: IndexedFields | None = None,
        *,
        retention: RevisionPolicy | None = None,
    ) -> None:
        self._fields = indexed_fields if indexed_fields is not None else IndexedFields()
        self._retention = retention or RevisionPolicy()
        self._history: dict[DocumentId, builtins.list[HistoryEntry]] = {}
        self._ready: dict[str, FieldType] = {}
        """Fields recorded as complete (an empty table makes any field ready at once)."""
        self._items: dict[DocumentId, Document] = {}
        self._copies: dict[DocumentId, CopyJob] = {}
        self._lock = threading.Lock()
        self.available = True

    def get(self, document_id: DocumentId) -> Document:
        """The stored document."""
        self._check()
        document = self._items.get(document_id)
        if document is None:
            raise DocumentNotFoundError(f"document {document_id} not found")
        return document

    def add(self, document: Document, *, history: Sequence[HistoryEntry] = ()) -> None:
        """Store a new document and its history entries."""
        self._check()
        with self._lock:
            current = self._items.get(document.id)
            if current == document:
                return
            if current is not None:
                raise AlreadyExistsError(f"document {document.id} already exists")
            self._items[document.id] = document
            self._append(history)

    def save(
        self,
        document: Document,
        *,
        expected_version: int,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Replace the document if it still has `expected_version`, with its entries."""
        self._check()
        with self._lock:
            if self._items.get(document.id) == document:
                return
            self._expect(document.id, expected_version)
            self._items[document.id] = document
            self._append(history)

    def remove(
        self,
        document_id: DocumentId,
        *,
        expected_version: int,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Delete the document if it still has `expected_version`, with its entries."""
        self._check()
        with self._lock:
            self._expect(document_id, expected_version)
            del self._items[document_id]
            self._append(history)

    def list_trash(self, *, limit: int, cursor: str | None) -> DocumentPage:
        """Trashed documents, newest deletion first."""
        self._check()
        after = None if cursor is None else decode_position(cursor, scope="trash")
        with self._lock:
            trashed = [
                (trash_position(d), d)
                for d in self._items.values()
                if d.trash is not None and not d.trash.purging
            ]
        trashed.sort(key=lambda entry: entry[0], reverse=True)
        if after is not None:
            trashed = [entry for entry in trashed if entry[0] < after]
        page = trashed[:limit]
        more = len(trashed) > limit
        next_cursor = encode_position(page[-1][0], scope="trash") if more and page else None
        return DocumentPage(items=tuple(d for _, d in page), next_cursor=next_cursor)

    def history(
        self, document_id: DocumentId, *, now: datetime, limit: int, cursor: str | None
    ) -> HistoryPage:
        """The document's live entries, newest first."""
        self._check()
        scope = f"history:{document_id.value}"
        after = None if cursor is None else decode_position(cursor, scope=scope)
        with self._lock:
            entries = [
                (position(entry), entry)
                for entry in self._history.get(document_id, [])
                if entry.expires_at is None or entry.expires_at > now
            ]
        entries.sort(key=lambda item: item[0], reverse=True)
        if after is not None:
            entries = [item for item in entries if item[0] < after]
        page = entries[:limit]
        more = len(entries) > limit
        next_cursor = encode_position(page[-1][0], scope=scope) if more and page else None
        return HistoryPage(items=tuple(e for _, e in page), next_cursor=next_cursor)

    def expire_history(self, document_id: DocumentId, *, expires_at: datetime) -> None:
        """Give every entry of the document an expiry."""
        self._check()
        with self._lock:
            self._history[document_id] = [
                attrs.evolve(entry, expires_at=entry.expires_at or expires_at)
                for entry in self._history.get(document_id, [])
            ]

    def find_purgeable(self, now: datetime, *, limit: int) -> builtins.list[Document]:
        """Trashed documents without a hold whose purge time has come, oldest first."""
        self._check()
        with self._lock:
            due = [d for d in self._items.values() if d.purge_at is not None and d.purge_at <= now]
        due.sort(key=lambda d: (d.purge_at or now, d.id))
        return due[:limit]

    def find_prunable(self, now: datetime, *, limit: int) -> builtins.list[Document]:
        """Documents whose retention says some revisions may go now, oldest due first."""
        self._check()
        with self._lock:
            due = [
                (when, d)
                for d in self._items.values()
                if (when := self._retention.due(d)) is not None and when <= now
            ]
        due.sort(key=lambda item: (item[0], item[1].id))
        return [d for _, d in due[:limit]]

    def entries(self, document_id: DocumentId) -> builtins.list[HistoryEntry]:
        """Every stored entry of a document, oldest first, expired ones included (tests)."""
        return sorted(self._history.get(document_id, []), key=position)

    def _append(self, history: Sequence[HistoryEntry]) -> None:
        for entry in history:
            self._history.setdefault(entry.document_id, []).append(entry)

    def list(self, *, limit: int, cursor: str | None, state: ArchiveState | None) -> DocumentPage:
        """Newest first."""
        self._check()
        scope = document_scope(state)
        after = None if cursor is None else decode_document_cursor(cursor, scope=scope)
        matching = sorted(
            (
                d
                for d in self._items.values()
                if d.trash is None
                and (state is None or d.state is state)
                and (after is None or d.id < after)
            ),
            key=lambda d: d.id,
            reverse=True,
        )
        page = tuple(matching[:limit])
        more = len(matching) > limit
        next_cursor = encode_cursor(page[-1].id, scope=scope) if more and page else None
        return DocumentPage(items=page, next_cursor=next_cursor)

    def search(self, query: DocumentFilter, *, limit: int, cursor: str | None) -> DocumentPage:
        """The brute-force answer: every document `query.matches`, in the §10 order."""
        self._check()
        scope = query.scope()
        after = None if cursor is None else decode_position(cursor, scope=scope)
        ranged = query.range
        positions: builtins.list[tuple[str, Document]] = []
        for document in self._items.values():
            if not query.matches(document, self._fields):
                continue
            if ranged is None:
                positions.append((document.id.value, document))
            else:
                value = index_entries(document, self._fields)[ranged.name]
                positions.append((range_position(value, document.id.value), document))
        # Ranges read the index ascending; everything else newest first.
        positions.sort(key=lambda entry: entry[0], reverse=ranged is None)
        if after is not None:
            positions = [
                entry
                for entry in positions
                if (entry[0] > after if ranged is not None else entry[0] < after)
            ]
        page = positions[:limit]
        more = len(positions) > limit
        next_cursor = encode_position(page[-1][0], scope=scope) if more and page else None
        return DocumentPage(items=tuple(d for _, d in page), next_cursor=next_cursor)

    def index_ready(self, name: str, kind: FieldType) -> bool:
        """Recorded ready for this type, or the table has no documents (read-only)."""
        self._check()
        with self._lock:
            return self._ready.get(name) is kind or not self._items

    def reindex_batch(self, *, cursor: str | None, limit: int) -> ReindexBatch:
        """Visit documents in id order (the fake's index is its documents: nothing to write)."""
        self._check()
        after = None if cursor is None else decode_position(cursor, scope="reindex")
        with self._lock:
            ordered = sorted(d for d in self._items if after is None or d.value > after)
            batch = [self._items[d] for d in ordered[:limit]]
        unindexed = tuple(
            (document.id.value, name)
            for document in batch
            for name in sorted(self._fields.fields)
            if document.metadata.get(name) is not None
            and name not in index_entries(document, self._fields)
        )
        more = len(ordered) > limit
        next_cursor = encode_position(batch[-1].id.value, scope="reindex") if more else None
        return ReindexBatch(documents=len(batch), unindexed=unindexed, next_cursor=next_cursor)

    def mark_ready(self, fields: IndexedFields) -> None:
        """Record the fields as ready."""
        self._check()
        with self._lock:
            self._ready.update(fields.fields)

    def redeclare(self, fields: IndexedFields) -> None:
        """Declare other fields over the same documents (what a redeploy does; for tests)."""
        self._fields = fields

    def find_expired_uploads(self, now: datetime, *, limit: int) -> builtins.list[Document]:
        """Pending uploads past their deadline, oldest deadline first."""
        self._check()
        expired = [
            d for d in self._items.values() if d.pending is not None and d.pending.expires_at <= now
        ]
        expired.sort(key=lambda d: (d.pending.expires_at if d.pending else now, d.id))
        return expired[:limit]

    def find_in_state(self, state: ArchiveState, *, limit: int) -> builtins.list[Document]:
        """Documents in `state`."""
        self._check()
        return sorted((d for d in self._items.values() if d.state is state), key=lambda d: d.id)[
            :limit
        ]

    def add_copy(self, job: CopyJob) -> None:
        """Record a new copy job."""
        self._check()
        with self._lock:
            current = self._copies.get(job.document_id)
            if current == job:
                return
            if current is not None:
                raise AlreadyExistsError(f"document {job.document_id} has a copy already")
            self._copies[job.document_id] = job

    def get_copy(self, document_id: DocumentId) -> CopyJob | None:
        """The document's copy job."""
        self._check()
        return self._copies.get(document_id)

    def save_copy_progress(self, job: CopyJob) -> None:
        """Checkpoint while the document and the stored job still expect this copy."""
        self._check()
        with self._lock:
            document = self._items.get(job.document_id)
            stored = self._copies.get(job.document_id)
            if (
                document is None
                or document.state is not job.copying_state
                or not document.copying(job.copy_id)
                or stored is None
                or stored.copy_id != job.copy_id
            ):
                raise CopyCancelledError(f"copy {job.copy_id} is no longer the document's copy")
            self._copies[job.document_id] = job

    def remove_copy(self, document_id: DocumentId, copy_id: str) -> None:
        """Forget the job if it is still `copy_id`."""
        self._check()
        with self._lock:
            stored = self._copies.get(document_id)
            if stored is not None and stored.copy_id == copy_id:
                del self._copies[document_id]

    def find_stalled_copies(self, before: datetime, *, limit: int) -> builtins.list[CopyJob]:
        """Jobs without progress since `before`, oldest first."""
        self._check()
        stalled = [job for job in self._copies.values() if job.progress_at <= before]
        stalled.sort(key=lambda job: (job.progress_at, job.document_id))
        return stalled[:limit]

    def check(self) -> None:
        """Fails when the fake is marked unavailable."""
        self._check()

    def _expect(self, document_id: DocumentId, expected_version: int) -> None:
        current = self._items.get(document_id)
        if current is None:
            raise DocumentNotFoundError(f"document {document_id} not found")
        if current.version != expected_version:
            raise VersionConflictError(
                "the document changed", expected=expected_version, actual=current.version
            )

    def _check(self) -> None:
        if not self.available:
            raise DependencyError("the document store is unavailable")


class InMemoryUserRepository:
    """Users by id and by key hash; refuses to lose the last enabled admin."""

    def __init__(self) -> None:
        self._users: dict[UserId, User] = {}
        self._by_key: dict[str, UserId] = {}
        self._lock = threading.Lock()

    def get(self, user_id: UserId) -> User:
        """The user."""
        user = self._users.get(user_id)
        if user is None:
            raise UserNotFoundError(f"user {user_id} not found")
        return user

    def find_by_key_hash(self, key_hash: str) -> User | None:
        """The user holding this key hash."""
        user_id = self._by_key.get(key_hash)
        return None if user_id is None else self._users.get(user_id)

    def add(self, user: User) -> None:
        """Store a new user."""
        with self._lock:
            if user.id in self._users or user.key_hash in self._by_key:
                raise AlreadyExistsError("the user or key already exists")
            self._users[user.id] = user
            self._by_key[user.key_hash] = user.id

    def save(self, user: User, *, previous: User) -> None:
        """Replace `previous` with `user`."""
        with self._lock:
            self._expect(previous)
            if previous.is_enabled_admin and not user.is_enabled_admin:
                self._ensure_admin_left(user.id)
            del self._by_key[previous.key_hash]
            self._users[user.id] = user
            self._by_key[user.key_hash] = user.id

    def remove(self, user: User) -> None:
        """Delete the user and its key."""
        with self._lock:
            self._expect(user)
            if user.is_enabled_admin:
                self._ensure_admin_left(user.id)
            del self._users[user.id]
            del self._by_key[user.key_hash]

    def list(self, *, limit: int, cursor: str | None) -> UserPage:
        """Users in id order."""
        after = None if cursor is None else decode_user_cursor(cursor, scope="users")
        ordered = sorted(
            (u for u in self._users.values() if after is None or u.id > after), key=lambda u: u.id
        )
        page = tuple(ordered[:limit])
        more = len(ordered) > limit
        return UserPage(
            items=page,
            next_cursor=encode_cursor(page[-1].id, scope="users") if more and page else None,
        )

    def count_enabled_admins(self) -> int:
        """Enabled admins."""
        return sum(1 for u in self._users.values() if u.is_enabled_admin)

    def _expect(self, user: User) -> None:
        current = self._users.get(user.id)
        if current is None:
            raise UserNotFoundError(f"user {user.id} not found")
        if current.version != user.version:
            raise VersionConflictError(
                "the user changed", expected=user.version, actual=current.version
            )

    def _ensure_admin_left(self, leaving: UserId) -> None:
        others = sum(1 for u in self._users.values() if u.is_enabled_admin and u.id != leaving)
        if others == 0:
            raise LastAdminError("the last enabled admin cannot be disabled, demoted or deleted")


class InMemoryIdempotencyStore:
    """Idempotency records in a dict, expiring on the clock."""

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._records: dict[str, tuple[Remembered | None, str, datetime, str]] = {}
        self._lock = threading.Lock()

    def claim(
        self, scope: str, *, fingerprint: str, owner: str, expires_at: datetime
    ) -> Remembered | IdempotencyClaim:
        """Claim the scope or return what is there."""
        with self._lock:
            record = self._records.get(scope)
            if record is not None and record[2] > self._clock.now():
                response, stored_fingerprint, _, holder = record
                if response is not None:
                    return response
                if stored_fingerprint != fingerprint:
                    return IdempotencyClaim.REUSED
                if holder != owner:
                    return IdempotencyClaim.IN_FLIGHT
            self._records[scope] = (None, fingerprint, expires_at, owner)
            return IdempotencyClaim.CLAIMED

    def complete(self, scope: str, *, fingerprint: str, outcome: str, expires_at: datetime) -> None:
        """Remember the outcome."""
        remembered = Remembered(fingerprint=fingerprint, outcome=outcome)
        with self._lock:
            self._records[scope] = (remembered, fingerprint, expires_at, "")

    def release(self, scope: str) -> None:
        """Forget a claim."""
        with self._lock:
            self._records.pop(scope, None)


@attrs.define
class _Queued:
    message: QueuedMessage
    visible_at: datetime
    deliveries: int = 0


class InMemoryQueue:
    """A queue on the clock: delays and visibility timeouts hide messages until they pass.

    Each delivery gets a new receipt; deleting or releasing with a stale receipt (the message
    came back and was taken again meanwhile) changes nothing, as with SQS.
    """

    def __init__(
        self, clock: ManualClock, *, visibility_timeout: timedelta = timedelta(seconds=30)
    ) -> None:
        self._clock = clock
        self._visibility = visibility_timeout
        self._messages: dict[str, _Queued] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def send(
        self,
        body: str,
        *,
        attempts: int = 0,
        last_error: str | None = None,
        delay: timedelta = timedelta(0),
    ) -> str:
        """Queue a message."""
        if not timedelta(0) <= delay <= timedelta(minutes=15):
            raise ValueError("a message delay must be between 0 and 0:15:00")
        with self._lock:
            message_id = f"m-{next(self._ids):06d}"
            message = QueuedMessage(
                id=message_id, body=body, attempts=attempts, last_error=last_error or None
            )
            self._messages[message_id] = _Queued(message, self._clock.now() + delay)
        return message_id

    def receive(self, *, limit: int) -> Sequence[QueuedMessage]:
        """Take visible messages, oldest first."""
        now = self._clock.now()
        taken: list[QueuedMessage] = []
        with self._lock:
            for queued in self._messages.values():
                if len(taken) >= max(1, min(limit, 10)):
                    break
                if queued.visible_at <= now:
                    queued.deliveries += 1
                    queued.visible_at = now + self._visibility
                    receipt = f"{queued.message.id}#{queued.deliveries}"
                    taken.append(attrs.evolve(queued.message, receipt=receipt))
        return tuple(taken)

    def delete(self, message: QueuedMessage) -> None:
        """Remove the message if this receipt is its latest delivery."""
        with self._lock:
            if self._current(message) is not None:
                del self._messages[message.id]

    def release(self, message: QueuedMessage) -> None:
        """Make the message visible now if this receipt is its latest delivery."""
        with self._lock:
            queued = self._current(message)
            if queued is not None:
                queued.visible_at = self._clock.now()

    def pending(self) -> tuple[QueuedMessage, ...]:
        """Every message still in the queue, visible or not (for assertions)."""
        with self._lock:
            return tuple(queued.message for queued in self._messages.values())

    def _current(self, message: QueuedMessage) -> _Queued | None:
        queued = self._messages.get(message.id)
        if queued is None or message.receipt != f"{message.id}#{queued.deliveries}":
            return None
        return queued


def in_memory_ports(*, settings: Settings | None = None, clock: ManualClock | None = None) -> Ports:
    """A complete set of in-memory ports on one manual clock."""
    clock = clock or ManualClock()
    settings = settings or Settings()
    return Ports(
        blobs=InMemoryBlobStore(clock),
        documents=InMemoryDocumentRepository(
            settings.indexed_fields, retention=RevisionPolicy.of(settings)
        ),
        users=InMemoryUserRepository(),
        events=RecordingEventBus(),
        clock=clock,
        ids=SequentialIds(clock),
        idempotency=InMemoryIdempotencyStore(clock),
        settings=settings,
        transfers=InMemoryQueue(clock, visibility_timeout=timedelta(minutes=90)),
    )
