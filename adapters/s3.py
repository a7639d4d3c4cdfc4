"""Adapters layer: the S3 blob store — content revisions, sidecars and presigned URLs on boto3."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from s3transfer.exceptions import RetriesExceededError

from adapters.aws import aws_errors, error_code, translate
from adapters.disposition import content_disposition
from kumocms.errors import (
    ChecksumMismatchError,
    CopyCancelledError,
    DependencyError,
    KumoError,
    SourceChangedError,
    ValidationError,
)
from kumocms.ids import DocumentId
from kumocms.jsonvalue import JsonObject, dumps_json, loads_json
from kumocms.keys import (
    NONCURRENT,
    REVISION_TAG,
    ContentRef,
    content_key,
    document_folder,
    sidecar_key,
)
from kumocms.model import ContentDeclaration, CopiedPart, PartRange, StoredContent, UploadMode
from kumocms.ports import Clock, PresignedUrl
from kumocms.rules import normalize_metadata
from kumocms.states import RestoreTier, StorageClass

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

    from kumocms.portvalues import (
        CompletedPart,
        ObjectInfo,
        PartUrl,
        RestoreOutcome,
        RestoreStatus,
        UploadTarget,
    )

MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""SigV4 presigned URLs live at most seven days; S3 refuses a longer `X-Amz-Expires`."""
MULTIPART_COPY_THRESHOLD = 5 * 1024**3
"""CopyObject copies at most 5 GB in one request; larger objects need a multipart copy."""
MULTIPART_COPY_PART_SIZE = 512 * 1024**2
"""Part size of the managed copy: far fewer UploadPartCopy requests than the 8 MiB default."""
DELETE_BATCH = 1000
"""DeleteObjects takes at most 1,000 keys per request."""
READ_CHUNK = 1024**2

_SIDECAR_CONTENT_TYPE = "application/json"
_MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_PART_ERRORS = {
    "InvalidPart": "a part was not uploaded or its etag does not match",
    "InvalidPartOrder": "parts must be listed in ascending part_number order",
    "EntityTooSmall": "every part but the last must be at least 5 MiB",
    "NoSuchUpload": "the multipart upload does not exist (it was completed or aborted)",
}
_ARCHIVE_CLASSES = {
    StorageClass.GLACIER.value: StorageClass.GLACIER,
    StorageClass.DEEP_ARCHIVE.value: StorageClass.DEEP_ARCHIVE,
}
_ONGOING = re.compile(r'ongoing-request="(?P<ongoing>true|false)"')
_EXPIRY = re.compile(r'expiry-date="(?P<expiry>[^"]+)"')


class S3BlobStore:
    """Content revisions and metadata sidecars in one S3 bucket, plus presigned URLs.

    Keys come from `kumocms.keys` only (a hash prefix, the ULID, the revision), never from a
    file name. Every botocore failure that is not handled on purpose leaves as a kumocms error
    through `adapters.aws`, so callers see DependencyError rather than ClientError.

    Presigned URLs are signed with whatever credentials the injected client holds. With
    temporary credentials (a Lambda role) a URL dies with them, so `credentials_expiry`
    (returning when they expire, or None) shortens every lifetime and the reported
    `expires_at` is the effective one.

    IAM: besides the object actions it calls, the role needs `s3:ListBucket` on the bucket,
    or S3 answers 403 instead of 404 for a missing object and `inspect` cannot tell "absent"
    from "forbidden".
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        clock: Clock,
        credentials_expiry: Callable[[], datetime | None] | None = None,
        multipart_copy_threshold: int = MULTIPART_COPY_THRESHOLD,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._clock = clock
        self._credentials_expiry = credentials_expiry
        self._multipart_copy_threshold = multipart_copy_threshold

    # ---- content ---------------------------------------------------------------------

    def store(
        self, ref: ContentRef, content: bytes, *, content_type: str, sha256: str
    ) -> str | None:
        """Store content given in a request; S3 refuses bytes that do not match `sha256`.

        Returns the new object's VersionId (None on a bucket that never had versioning).

        Raises:
            ChecksumMismatchError: S3 computed another SHA-256 (BadDigest).
            DependencyError: S3 failed.
        """
        with aws_errors("S3 PutObject"):
            try:
                response = self._client.put_object(
                    Bucket=self._bucket,
                    Key=content_key(ref),
                    Body=content,
                    ContentType=content_type,
                    ChecksumSHA256=_b64_digest(sha256),
                    # Redundant for S3 (an explicit checksum names its algorithm) but it
                    # makes emulators record the checksum, so `inspect` reports it everywhere.
                    ChecksumAlgorithm="SHA256",
                )
            except ClientError as error:
                if error_code(error) != "BadDigest":
                    raise
                raise ChecksumMismatchError(
                    "content does not match its checksum", field="sha256"
                ) from error
        return _version_of(response)

    def presign_upload(
        self,
        ref: ContentRef,
        declared: ContentDeclaration,
        *,
        mode: UploadMode,
        expires_in: timedelta,
    ) -> UploadTarget:
        """Instructions for the client to upload the whole object itself (no request to S3).

        The use case picks the mode (`_prepare_upload` in kumocms.usecases.documents): PUT
        when a sha256 was declared, POST otherwise. Only a PUT can make S3 enforce a declared
        checksum — `x-amz-checksum-sha256` is a signed header here, and S3 answers BadDigest
        when the body hashes differently — while a POST policy can only constrain form
        fields, not verify content. Without a checksum the form POST is the friendlier
        target: browsers can send it, and its policy still pins key, type and exact size.

        PUT signs `Content-Type`, `Content-Length` (the declared size, so S3 refuses any other
        length) and, when declared, `x-amz-checksum-sha256` as headers: botocore keeps every
        request header of a presigned request in `X-Amz-SignedHeaders` rather than hoisting
        it into the query, and adds no checksum parameters of its own to presigned requests.
        `headers` lists what the client must send besides the body; `Content-Length` is left
        out because every HTTP client sends it for a body of known length (browsers and some
        clients refuse to set it by hand) and a chunked upload is refused, as it should be.
        So `curl -X PUT -H 'Content-Type: …' [-H 'x-amz-checksum-sha256: …'] --data-binary
        @file '<url>'` is accepted.

        POST returns the form fields (`key`, `Content-Type`, the credentials, the base64
        policy and its signature); the file goes last, as form field `file`. The policy's
        conditions are the bucket, the key, the exact Content-Type and
        `["content-length-range", size, size]`.

        Raises:
            ValueError: `mode` is neither PUT nor POST (a programming error).
        """
        from kumocms.portvalues import UploadTarget  # noqa: PLC0415 - off the read path

        seconds, expires_at = self._lifetime(expires_in)
        key = content_key(ref)
        if mode is UploadMode.PUT:
            headers = {"Content-Type": declared.content_type}
            params: dict[str, Any] = {
                "Bucket": self._bucket,
                "Key": key,
                "ContentType": declared.content_type,
                "ContentLength": declared.size,
            }
            if declared.sha256 is not None:
                checksum = _b64_digest(declared.sha256)
                params["ChecksumSHA256"] = checksum
                headers["x-amz-checksum-sha256"] = checksum
            with aws_errors("S3 presign PutObject"):
                url = self._client.generate_presigned_url(
                    "put_object", Params=params, ExpiresIn=seconds
                )
            return UploadTarget(method="PUT", url=url, headers=headers, expires_at=expires_at)
        if mode is UploadMode.POST:
            with aws_errors("S3 presign PostObject"):
                # botocore adds the bucket and key conditions (and the key field) itself.
                post = self._client.generate_presigned_post(
                    Bucket=self._bucket,
                    Key=key,
                    Fields={"Content-Type": declared.content_type},
                    Conditions=[
                        {"Content-Type": declared.content_type},
                        ["content-length-range", declared.size, declared.size],
                    ],
                    ExpiresIn=seconds,
                )
            fields = {str(name): str(value) for name, value in post["fields"].items()}
            return UploadTarget(
                method="POST", url=str(post["url"]), fields=fields, expires_at=expires_at
            )
        raise ValueError(f"presign_upload cannot make a {mode.value} target")

    def start_multipart(self, ref: ContentRef, *, content_type: str) -> str:
        """Open a multipart upload and return its id.

        No checksum algorithm is set: S3 would then demand a checksum header on every part,
        which presigned part URLs do not carry.
        """
        with aws_errors("S3 CreateMultipartUpload"):
            response = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=content_key(ref), ContentType=content_type
            )
        return response["UploadId"]

    def presign_parts(
        self,
        ref: ContentRef,
        *,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: timedelta,
    ) -> tuple[tuple[PartUrl, ...], datetime]:
        """Fresh part URLs (no request to S3); callable again whenever URLs run out."""
        from kumocms.portvalues import PartUrl  # noqa: PLC0415 - off the read path

        seconds, expires_at = self._lifetime(expires_in)
        key = content_key(ref)
        with aws_errors("S3 presign UploadPart"):
            parts = tuple(
                PartUrl(
                    part_number=number,
                    url=self._client.generate_presigned_url(
                        "upload_part",
                        Params={
                            "Bucket": self._bucket,
                            "Key": key,
                            "UploadId": upload_id,
                            "PartNumber": number,
                        },
                        ExpiresIn=seconds,
                    ),
                )
                for number in part_numbers
            )
        return parts, expires_at

    def complete_multipart(
        self, ref: ContentRef, *, upload_id: str, parts: Sequence[CompletedPart]
    ) -> None:
        """Assemble the uploaded parts into the object.

        Raises:
            ValidationError: the parts do not fit the upload (field `parts`).
            DependencyError: S3 failed.
        """
        with aws_errors("S3 CompleteMultipartUpload"):
            try:
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=content_key(ref),
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]
                    },
                )
            except ClientError as error:
                reason = _PART_ERRORS.get(error_code(error))
                if reason is None:
                    raise
                raise ValidationError(reason, field="parts") from error

    def abort_upload(self, ref: ContentRef, *, upload_id: str | None) -> None:
        """Give up an upload: abort the multipart upload, or delete every version of the key.

        A multipart upload that could still be aborted never produced the object (completing
        it closes the upload), so the key's versions are only deleted (`delete_key`, by
        VersionId: a plain delete would leave the bytes behind a delete marker) when the
        object may exist.

        Raises:
            DependencyError: S3 failed or refused a delete (a version under legal hold).
        """
        if upload_id is not None:
            with aws_errors("S3 AbortMultipartUpload"):
                try:
                    self._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=content_key(ref), UploadId=upload_id
                    )
                except ClientError as error:
                    if error_code(error) != "NoSuchUpload":
                        raise
                else:
                    return
        self.delete_key(ref)

    def inspect(self, ref: ContentRef) -> ObjectInfo | None:
        """Size, full-object SHA-256, storage class and restore status; None when absent."""
        from kumocms.portvalues import ObjectInfo  # noqa: PLC0415 - off the read path

        head = self._head(content_key(ref))
        if head is None:
            return None
        content = StoredContent(
            size=head["ContentLength"],
            sha256=_full_object_sha256(head),
            storage_class=_storage_class(head),
            version_id=_version_of(head),
        )
        return ObjectInfo(content=content, restore=parse_restore(head.get("Restore")))

    def compute_sha256(self, ref: ContentRef) -> str:
        """Stream the object and hash it.

        Raises:
            DependencyError: the object is missing, archived or S3 failed.
        """
        digest = hashlib.sha256()
        with aws_errors("S3 GetObject"):
            body = self._client.get_object(Bucket=self._bucket, Key=content_key(ref))["Body"]
            try:
                for chunk in body.iter_chunks(chunk_size=READ_CHUNK):
                    digest.update(chunk)
            finally:
                body.close()
        return digest.hexdigest()

    def presign_download(
        self,
        ref: ContentRef,
        *,
        file_name: str,
        content_type: str,
        expires_in: timedelta,
        version_id: str | None,
    ) -> PresignedUrl:
        """A GET URL whose response names the file for the browser (no request to S3).

        With `version_id` the URL names that VersionId (the signer then needs
        `s3:GetObjectVersion`).
        """
        seconds, expires_at = self._lifetime(expires_in)
        params = {
            "Bucket": self._bucket,
            "Key": content_key(ref),
            "ResponseContentDisposition": content_disposition(file_name),
            "ResponseContentType": content_type,
        }
        if version_id is not None:
            params["VersionId"] = version_id
        with aws_errors("S3 presign GetObject"):
            url = self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=seconds
            )
        return PresignedUrl(url=url, expires_at=expires_at)

    # ---- archive ---------------------------------------------------------------------

    def archive(self, ref: ContentRef, storage_class: StorageClass) -> str | None:
        """Copy the object onto itself in `storage_class` (nothing when it is there already).

        Returns the VersionId now current.

        Raises:
            DependencyError: the object is missing, cannot be copied, or S3 failed.
        """
        return self._change_class(ref, storage_class)

    def request_restore(self, ref: ContentRef, *, days: int, tier: RestoreTier) -> RestoreOutcome:
        """Ask Glacier for a temporary copy, or extend a restored one.

        The object is read first (one HEAD): a running restore is reported without asking
        again, the tier is checked against the object's real class, and a hot object is
        refused, just as the in-memory store does. S3's own answer decides the rest:
        202 started, 200 already restored (expiry extended), RestoreAlreadyInProgress when
        a restore began between the two requests.

        Raises:
            InvalidRestoreRequestError: the tier does not exist for the object's class.
            DependencyError: the object is missing or not archived, or S3 failed.
        """
        from kumocms.portvalues import RestoreOutcome  # noqa: PLC0415 - off the read path

        key = content_key(ref)
        head = self._require_head(key)
        storage_class = _storage_class(head)
        if not storage_class.is_archive:
            raise DependencyError("only archived objects can be restored")
        tier.window(storage_class)
        status = parse_restore(head.get("Restore"))
        if status is not None and status.ongoing:
            return RestoreOutcome.IN_PROGRESS
        with aws_errors("S3 RestoreObject"):
            try:
                response = self._client.restore_object(
                    Bucket=self._bucket,
                    Key=key,
                    RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier.value}},
                )
            except ClientError as error:
                if error_code(error) != "RestoreAlreadyInProgress":
                    raise
                return RestoreOutcome.IN_PROGRESS
        if response["ResponseMetadata"]["HTTPStatusCode"] == 200:
            return RestoreOutcome.ALREADY_RESTORED
        return RestoreOutcome.STARTED

    def make_permanent(self, ref: ContentRef) -> str | None:
        """Copy a restored object back to STANDARD in place (nothing when it is STANDARD).

        Returns the VersionId now current.

        Raises:
            DependencyError: the object is not restored, is missing, or S3 failed.
        """
        return self._change_class(ref, StorageClass.STANDARD)

    # ---- resumable copies (the transfer worker) ---------------------------------------

    def current_version(self, ref: ContentRef) -> str | None:
        """The current object's `VersionId` (one HEAD), or None when there is no object."""
        head = self._head(content_key(ref))
        if head is None:
            return None
        return str(head.get("VersionId") or "null")

    def start_copy(self, ref: ContentRef, *, storage_class: StorageClass, content_type: str) -> str:
        """CreateMultipartUpload on the revision's key in `storage_class`."""
        with aws_errors("S3 CreateMultipartUpload"):
            response = self._client.create_multipart_upload(
                Bucket=self._bucket,
                Key=content_key(ref),
                ContentType=content_type,
                StorageClass=storage_class.value,
            )
        return response["UploadId"]

    def copy_part(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        part: PartRange,
        source: ContentRef | None = None,
    ) -> CopiedPart:
        """One UploadPartCopy of `part`'s byte range, the source pinned by its VersionId.

        The source is `source`'s key when given, the copy's own key otherwise.

        Raises:
            CopyCancelledError: the upload was aborted or completed (NoSuchUpload).
            DependencyError: S3 failed (the version is gone, an archived source, throttling).
        """
        source_key = content_key(source or ref)
        with aws_errors("S3 UploadPartCopy"):
            try:
                response = self._client.upload_part_copy(
                    Bucket=self._bucket,
                    Key=content_key(ref),
                    UploadId=copy_upload,
                    PartNumber=part.number,
                    CopySource={
                        "Bucket": self._bucket,
                        "Key": source_key,
                        "VersionId": source_version,
                    },
                    CopySourceRange=f"bytes={part.first}-{part.last}",
                )
            except ClientError as error:
                if error_code(error) != "NoSuchUpload":
                    raise
                raise CopyCancelledError("the copy's multipart upload is gone") from error
        return CopiedPart(number=part.number, etag=response["CopyPartResult"]["ETag"])

    def complete_copy(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        parts: Sequence[CopiedPart],
        source: ContentRef | None = None,
    ) -> str:
        """Check the copy may complete (one HEAD, or one ListParts), then complete it.

        S3 cannot make the completion conditional on another version being current, and
        emulators ignore `x-amz-copy-source-if-match`, so the check is ours. When another
        version is current, ListParts tells a source that moved (the upload is still open)
        from our own earlier completion (the upload is gone). A copy from another key
        (`source`) read an immutable old version, so only ListParts is asked: completing
        a completed upload again can succeed (moto answers with the same object), and a
        redelivered run must learn that it completed already.

        Raises:
            CopyCancelledError: the upload was aborted or completed (NoSuchUpload).
            SourceChangedError: without `source`, the upload is open and the key's current
                version is not `source_version`.
        """
        if source is not None:
            if not self.copy_open(ref, copy_upload=copy_upload):
                raise CopyCancelledError("the copy's multipart upload is gone")
        elif self.current_version(ref) != source_version:
            if not self.copy_open(ref, copy_upload=copy_upload):
                raise CopyCancelledError("the copy's multipart upload is gone")
            raise SourceChangedError("the object's current version is not the copy's source")
        with aws_errors("S3 CompleteMultipartUpload"):
            try:
                response = self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=content_key(ref),
                    UploadId=copy_upload,
                    MultipartUpload={
                        "Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
                    },
                )
            except ClientError as error:
                if error_code(error) != "NoSuchUpload":
                    raise
                raise CopyCancelledError("the copy's multipart upload is gone") from error
        return str(response.get("VersionId") or "null")

    def copy_open(self, ref: ContentRef, *, copy_upload: str) -> bool:
        """ListParts (one part): NoSuchUpload means completed or aborted."""
        with aws_errors("S3 ListParts"):
            try:
                self._client.list_parts(
                    Bucket=self._bucket, Key=content_key(ref), UploadId=copy_upload, MaxParts=1
                )
            except ClientError as error:
                if error_code(error) != "NoSuchUpload":
                    raise
                return False
        return True

    def abort_copy(self, ref: ContentRef, *, copy_upload: str) -> None:
        """AbortMultipartUpload (an upload that is gone already is fine)."""
        with aws_errors("S3 AbortMultipartUpload"):
            try:
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=content_key(ref), UploadId=copy_upload
                )
            except ClientError as error:
                if error_code(error) != "NoSuchUpload":
                    raise

    def delete_version(self, ref: ContentRef, version_id: str) -> None:
        """DeleteObject with a VersionId: that version goes for good (no delete marker).

        Raises:
            DependencyError: S3 failed or refused (AccessDenied for a version under legal
                hold); nothing changed.
        """
        with aws_errors("S3 DeleteObject"):
            try:
                self._client.delete_object(
                    Bucket=self._bucket, Key=content_key(ref), VersionId=version_id
                )
            except ClientError as error:
                if error_code(error) not in {"NoSuchVersion", "NoSuchKey", "404"}:
                    raise

    # ---- nothing is lost: revisions, trash and legal hold ----------------------------

    def copy_revision(self, source: ContentRef, *, source_version: str, target: ContentRef) -> str:
        """One CopyObject of the pinned source version onto the target's key, in STANDARD.

        MetadataDirective COPY keeps the content type and user metadata. TaggingDirective
        REPLACE (with no tags) starts the copy untagged: a copy of a superseded version
        would otherwise inherit `kumocms-revision=noncurrent` and lifecycle would move the
        new current revision. A legal hold is never copied. Callers keep the object under
        5 GiB (CopyObject's limit); larger ones take the multipart copy (`copy_part` with
        `source`). Returns the new VersionId.

        Raises:
            DependencyError: the source version is missing (NoSuchVersion), archived
                (InvalidObjectState), or S3 failed.
        """
        with aws_errors("S3 CopyObject"):
            response = self._client.copy_object(
                Bucket=self._bucket,
                Key=content_key(target),
                CopySource={
                    "Bucket": self._bucket,
                    "Key": content_key(source),
                    "VersionId": source_version,
                },
                StorageClass=StorageClass.STANDARD.value,
                MetadataDirective="COPY",
                TaggingDirective="REPLACE",
            )
        return str(response.get("VersionId") or "null")

    def tag_noncurrent(self, ref: ContentRef, version_id: str) -> None:
        """PutObjectTagging on the version: its tag set becomes `kumocms-revision=noncurrent`.

        The service sets no other tags, so replacing the set loses nothing.

        Raises:
            DependencyError: the version is missing (NoSuchVersion) or S3 failed.
        """
        with aws_errors("S3 PutObjectTagging"):
            self._client.put_object_tagging(
                Bucket=self._bucket,
                Key=content_key(ref),
                VersionId=version_id,
                Tagging={"TagSet": [{"Key": REVISION_TAG, "Value": NONCURRENT}]},
            )

    def tags(self, ref: ContentRef, version_id: str) -> dict[str, str]:
        """GetObjectTagging on the version.

        Raises:
            DependencyError: the version is missing (NoSuchVersion) or S3 failed.
        """
        with aws_errors("S3 GetObjectTagging"):
            response = self._client.get_object_tagging(
                Bucket=self._bucket, Key=content_key(ref), VersionId=version_id
            )
        return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}

    def set_legal_hold(self, ref: ContentRef, version_id: str, *, on: bool) -> None:
        """Read the version's hold (one request) and PutObjectLegalHold when it differs.

        The read answers NoSuchVersion for a missing version everywhere (moto 5 fails
        inside PutObjectLegalHold instead), and a repeat costs no write.

        Raises:
            DependencyError: the version is missing, the bucket has no Object Lock, or S3
                failed.
        """
        if self._hold_status(ref, version_id) is on:
            return
        with aws_errors("S3 PutObjectLegalHold"):
            self._client.put_object_legal_hold(
                Bucket=self._bucket,
                Key=content_key(ref),
                VersionId=version_id,
                LegalHold={"Status": "ON" if on else "OFF"},
            )

    def legal_hold(self, ref: ContentRef, version_id: str) -> bool:
        """GetObjectLegalHold: S3 answers NoSuchObjectLockConfiguration when none was set.

        Raises:
            DependencyError: the version is missing (NoSuchVersion), cannot be read (see
                `_hold_status`) or S3 failed.
        """
        status = self._hold_status(ref, version_id)
        if status is None:
            raise DependencyError("S3 GetObjectLegalHold failed (InvalidObjectState)")
        return status

    def _hold_status(self, ref: ContentRef, version_id: str) -> bool | None:
        """The version's hold; None when the read is refused for an archived object.

        S3 reads the hold of an object in any storage class; moto refuses GetObjectLegalHold
        for a GLACIER object with InvalidObjectState (its PutObjectLegalHold works), so the
        caller then just writes the hold.
        """
        with aws_errors("S3 GetObjectLegalHold"):
            try:
                response = self._client.get_object_legal_hold(
                    Bucket=self._bucket, Key=content_key(ref), VersionId=version_id
                )
            except ClientError as error:
                code = error_code(error)
                if code == "InvalidObjectState":
                    return None
                if code != "NoSuchObjectLockConfiguration":
                    raise
                return False
        # Emulators answer an empty LegalHold instead of the error.
        return response.get("LegalHold", {}).get("Status") == "ON"

    def delete_key(self, ref: ContentRef) -> None:
        """Delete every version and delete marker of exactly this key, by VersionId.

        ListObjectVersions by prefix also returns longer keys (`…/r1` lists `…/r10`), so
        only entries naming the key itself are deleted. Nothing listed, nothing sent.

        Raises:
            DependencyError: S3 failed, or refused some versions (under legal hold) after
                the others were deleted.
        """
        key = content_key(ref)
        self._delete_exactly([entry for entry in self._versions(key) if entry["Key"] == key])

    def purge(self, document_id: DocumentId) -> None:
        """Delete every version and delete marker under the document's folder, by VersionId.

        The folder (`<hash4>/<ulid>/`) holds the revisions and the sidecar and is no other
        document's prefix.

        Raises:
            DependencyError: S3 failed, or refused some versions (under legal hold) after
                the others were deleted.
        """
        self._delete_exactly(self._versions(document_folder(document_id)))

    # ---- removal, sidecars, health ----------------------------------------------------

    def write_sidecar(self, document_id: DocumentId, metadata: JsonObject) -> None:
        """Mirror the user metadata to `meta.json` (UTF-8 JSON, numbers digit for digit)."""
        body = dumps_json(metadata).encode("utf-8")
        with aws_errors("S3 PutObject"):
            self._client.put_object(
                Bucket=self._bucket,
                Key=sidecar_key(document_id),
                Body=body,
                ContentType=_SIDECAR_CONTENT_TYPE,
                ChecksumSHA256=_b64_digest(hashlib.sha256(body).hexdigest()),
                ChecksumAlgorithm="SHA256",
            )

    def read_sidecar(self, document_id: DocumentId) -> JsonObject | None:
        """The mirrored metadata, or None when there is no sidecar.

        Raises:
            DependencyError: S3 failed, or the sidecar is not valid metadata JSON.
        """
        with aws_errors("S3 GetObject"):
            try:
                response = self._client.get_object(
                    Bucket=self._bucket, Key=sidecar_key(document_id)
                )
            except ClientError as error:
                if error_code(error) not in _MISSING_OBJECT_CODES:
                    raise
                return None
            body = response["Body"]
            try:
                data = body.read()
            finally:
                body.close()
        try:
            return normalize_metadata(loads_json(data))
        except (ValueError, KumoError) as error:
            # A corrupt mirror is a storage fault, not bad input from the caller.
            raise DependencyError("the metadata sidecar is not valid metadata JSON") from error

    def check(self) -> None:
        """Raise DependencyError when the bucket is unreachable."""
        with aws_errors("S3 HeadBucket"):
            self._client.head_bucket(Bucket=self._bucket)

    # ---- internals -------------------------------------------------------------------

    def _lifetime(self, requested: timedelta) -> tuple[int, datetime]:
        """Seconds to sign for and the moment the URL really stops working."""
        now = self._clock.now()
        seconds = min(math.floor(requested.total_seconds()), MAX_PRESIGN_SECONDS)
        if self._credentials_expiry is not None:
            credentials_end = self._credentials_expiry()
            if credentials_end is not None:
                seconds = min(seconds, math.floor((credentials_end - now).total_seconds()))
        seconds = max(seconds, 0)
        return seconds, now + timedelta(seconds=seconds)

    def _head(self, key: str) -> Mapping[str, Any] | None:
        """The HEAD response, or None when there is no object.

        A plain mapping: the stubs call every field required, but S3 leaves most of them
        out (StorageClass for STANDARD, Restore, the checksums).
        """
        with aws_errors("S3 HeadObject"):
            try:
                head: Mapping[str, Any] = self._client.head_object(
                    Bucket=self._bucket, Key=key, ChecksumMode="ENABLED"
                )
            except ClientError as error:
                if error_code(error) not in _MISSING_OBJECT_CODES:
                    raise
                return None
        return head

    def _require_head(self, key: str) -> Mapping[str, Any]:
        head = self._head(key)
        if head is None:
            raise DependencyError("S3 HeadObject failed (NoSuchKey)")
        return head

    def _versions(self, prefix: str) -> list[ObjectIdentifierTypeDef]:
        """Key and VersionId of every version and delete marker under `prefix` (all pages)."""
        found: list[ObjectIdentifierTypeDef] = []
        with aws_errors("S3 ListObjectVersions"):
            pages = self._client.get_paginator("list_object_versions").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for page in pages:
                found.extend(
                    {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                    for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                )
        return found

    def _delete_exactly(self, objects: Sequence[ObjectIdentifierTypeDef]) -> None:
        """DeleteObjects (Quiet) of these exact versions, 1,000 a request; refusals last.

        Every batch is sent even when an earlier one had refusals, so one held version
        does not keep the rest of the trash.

        Raises:
            DependencyError: S3 failed, or refused some of the versions.
        """
        refused: list[str] = []
        for start in range(0, len(objects), DELETE_BATCH):
            with aws_errors("S3 DeleteObjects"):
                response = self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": list(objects[start : start + DELETE_BATCH]), "Quiet": True},
                )
            refused += [
                str(error.get("Code", "unknown error")) for error in response.get("Errors", [])
            ]
        if refused:
            codes = ", ".join(sorted(set(refused)))
            raise DependencyError(f"S3 DeleteObjects failed for {len(refused)} objects ({codes})")

    def _change_class(self, ref: ContentRef, storage_class: StorageClass) -> str | None:
        key = content_key(ref)
        head = self._require_head(key)
        if head.get("StorageClass", StorageClass.STANDARD.value) == storage_class.value:
            return _version_of(head)
        if head["ContentLength"] <= self._multipart_copy_threshold:
            with aws_errors("S3 CopyObject"):
                # COPY keeps the content type and user metadata; only the class changes.
                response = self._client.copy_object(
                    Bucket=self._bucket,
                    Key=key,
                    CopySource={"Bucket": self._bucket, "Key": key},
                    StorageClass=storage_class.value,
                    MetadataDirective="COPY",
                )
            return _version_of(response)
        config = TransferConfig(
            multipart_threshold=max(self._multipart_copy_threshold, 1),
            multipart_chunksize=MULTIPART_COPY_PART_SIZE,
        )
        with aws_errors("S3 multipart copy"):
            try:
                # The managed copy reads content type and user metadata from the source and
                # sets them on the new upload (MetadataDirective only applies to CopyObject).
                self._client.copy(
                    CopySource={"Bucket": self._bucket, "Key": key},
                    Bucket=self._bucket,
                    Key=key,
                    ExtraArgs={"StorageClass": storage_class.value, "MetadataDirective": "COPY"},
                    Config=config,
                )
            except (Boto3Error, RetriesExceededError) as error:
                raise translate(error, operation="S3 multipart copy") from error
        # The managed copy does not return the completion's answer: read what is current.
        return _version_of(self._require_head(key))


def _version_of(response: Mapping[str, Any]) -> str | None:
    """The VersionId an S3 answer names (None when the bucket never had versioning)."""
    version = response.get("VersionId")
    return str(version) if version else None


def parse_restore(header: str | None) -> RestoreStatus | None:
    """The restore status in S3's `x-amz-restore` header, or None when there is none.

    Forms: `ongoing-request="true"` and
    `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`.
    """
    from kumocms.portvalues import RestoreStatus  # noqa: PLC0415 - off the read path

    if not header:
        return None
    ongoing = _ONGOING.search(header)
    if ongoing is None:
        return None
    if ongoing["ongoing"] == "true":
        return RestoreStatus(ongoing=True)
    expiry = _EXPIRY.search(header)
    expires_at = None
    if expiry is not None:
        try:
            expires_at = parsedate_to_datetime(expiry["expiry"]).astimezone(UTC)
        except (TypeError, ValueError):
            expires_at = None
    return RestoreStatus(ongoing=False, expires_at=expires_at)


def _b64_digest(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _full_object_sha256(head: Mapping[str, Any]) -> str | None:
    """The object's SHA-256 as hex, only when S3 vouches for the whole object.

    A multipart upload's checksum is a checksum of part checksums (`<base64>-<parts>`,
    type COMPOSITE) and says nothing comparable to a declared sha256.
    """
    value = head.get("ChecksumSHA256")
    if not value:
        return None
    checksum_type = head.get("ChecksumType")
    if checksum_type is not None and checksum_type != "FULL_OBJECT":
        return None
    if checksum_type is None and "-" in head.get("ETag", ""):
        # Responses without a type (older S3, emulators) mark multipart objects by the ETag.
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == hashlib.sha256().digest_size else None


def _storage_class(head: Mapping[str, Any]) -> StorageClass:
    """The domain's view: Glacier classes need a restore, every other class reads directly.

    S3 leaves out `x-amz-storage-class` for STANDARD.
    """
    return _ARCHIVE_CLASSES.get(head.get("StorageClass", ""), StorageClass.STANDARD)
