"""Integration: what only the S3 blob store has — signed URLs, POST policies, request counts,
error translation and the HTTP round trip through a moto server.

moto does not check signatures, expiry, policy conditions or checksums on presigned requests
(ARCHITECTURE §7), so URL and policy shapes are asserted here against AWS's documented
formats, and the behaviour moto cannot show is driven through botocore's Stubber.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from moto.server import ThreadedMotoServer

from adapters.aws import client_config
from adapters.disposition import content_disposition
from adapters.memory import ManualClock
from adapters.s3 import S3BlobStore, parse_restore
from adapters.system import SystemClock
from kumocms.errors import ChecksumMismatchError, DependencyError, ValidationError
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.model import ContentDeclaration, UploadMode
from kumocms.ports import CompletedPart, RestoreOutcome, RestoreStatus
from kumocms.rules import normalize_metadata
from kumocms.states import RestoreTier, StorageClass
from tests.support.aws import REGION, RequestCounter, aws_client

HOUR = timedelta(hours=1)
DOC = DocumentId.parse("01JABCDEFGHJKMNPQRSTVWXYZ0")
REF = ContentRef(DOC, 1)
DATA = b"%PDF-1.7 integration"
SHA256 = hashlib.sha256(DATA).hexdigest()
SHA256_B64 = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
MOTO_SECRET = "kumocms-test-secret"
_buckets = itertools.count(1)


def regional_config() -> Config:
    """What `client_config(s3=True)` should be: virtual-hosted style makes presigned URLs
    regional (see test_production_client_config_signs_for_the_regional_host)."""
    return client_config(s3=True).merge(
        Config(s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"})
    )


CREDENTIALS = {
    "aws_access_key_id": "AKIDKUMOCMSTEST",
    "aws_secret_access_key": MOTO_SECRET,
    "aws_session_token": "session-token",
}


@pytest.fixture(scope="module")
def moto_clients() -> Iterator[dict[str, Any]]:
    """One moto S3 for the module and two clients on it (creating one costs ~0.3 s).

    The credentials are explicit so that `sigv4_accepts` knows the secret they sign with.
    """
    with mock_aws():
        yield {
            "production": aws_client("s3", **CREDENTIALS),
            "regional": boto3.client(
                "s3", region_name=REGION, config=regional_config(), **CREDENTIALS
            ),
        }


@pytest.fixture
def client(moto_clients: dict[str, Any]) -> Any:
    return moto_clients["regional"]


@pytest.fixture
def bucket(client: Any) -> str:
    name = f"kumocms-it-{next(_buckets)}"
    # Object Lock (no default retention) turns versioning on, like the deployed bucket.
    client.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    return name


@pytest.fixture
def clock() -> ManualClock:
    # Wall-clock start: botocore stamps X-Amz-Date and the POST policy with the real time.
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def store(client: Any, bucket: str, clock: ManualClock) -> S3BlobStore:
    return S3BlobStore(client, bucket, clock=clock)


@pytest.fixture
def counter(client: Any) -> RequestCounter:
    return RequestCounter().attach(client)


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def declared(*, sha256: str | None = SHA256, size: int = len(DATA)) -> ContentDeclaration:
    return ContentDeclaration(
        file_name="report.pdf", content_type="application/pdf", size=size, sha256=sha256
    )


# ---- presigned PUT -----------------------------------------------------------------------


def test_presigned_put_signs_type_length_and_checksum_as_headers(
    store: S3BlobStore, bucket: str, clock: ManualClock
) -> None:
    target = store.presign_upload(REF, declared(), mode=UploadMode.PUT, expires_in=HOUR)

    assert target.url is not None
    url = urlsplit(target.url)
    query = query_of(target.url)
    assert url.scheme == "https"
    assert url.netloc == f"{bucket}.s3.{REGION}.amazonaws.com"
    assert url.path == f"/{content_key(REF)}"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].endswith(f"/{REGION}/s3/aws4_request")
    assert query["X-Amz-Expires"] == "3600"
    assert query["X-Amz-SignedHeaders"] == "content-length;content-type;host;x-amz-checksum-sha256"
    # Nothing in the query demands a checksum header the client would not know to send.
    assert not [name for name in query if "checksum" in name.lower()]
    assert target.headers == {
        "Content-Type": "application/pdf",
        "x-amz-checksum-sha256": SHA256_B64,
    }
    assert target.expires_at == clock.now() + HOUR


def test_presigned_put_without_checksum_signs_type_and_length(store: S3BlobStore) -> None:
    target = store.presign_upload(REF, declared(sha256=None), mode=UploadMode.PUT, expires_in=HOUR)

    assert target.url is not None
    assert query_of(target.url)["X-Amz-SignedHeaders"] == "content-length;content-type;host"
    assert target.headers == {"Content-Type": "application/pdf"}


def test_production_client_config_signs_for_the_regional_host(
    moto_clients: dict[str, Any], clock: ManualClock
) -> None:
    store = S3BlobStore(moto_clients["production"], "kumocms-any", clock=clock)

    target = store.presign_upload(REF, declared(), mode=UploadMode.PUT, expires_in=HOUR)

    assert target.url is not None
    assert urlsplit(target.url).netloc == f"kumocms-any.s3.{REGION}.amazonaws.com"


def sigv4_accepts(url: str, method: str, sent: dict[str, str]) -> bool:
    """Check a presigned URL the way S3 does, for the headers a client really sends.

    moto never verifies signatures, so this recomputes AWS's documented SigV4 query-string
    signature from the request (signed headers taken from `sent`, payload UNSIGNED-PAYLOAD)
    and compares it with `X-Amz-Signature`.
    """
    parts = urlsplit(url)
    query = dict(parse_qs(parts.query, keep_blank_values=True))
    signature = query.pop("X-Amz-Signature")[0]
    canonical_query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(values[0], safe='-_.~')}"
        for name, values in sorted(query.items())
    )
    headers = {name.lower(): value.strip() for name, value in sent.items()}
    signed = query["X-Amz-SignedHeaders"][0].split(";")
    if any(name not in headers for name in signed):
        return False
    canonical_request = "\n".join(
        [
            method,
            parts.path,
            canonical_query,
            "".join(f"{name}:{headers[name]}\n" for name in signed),
            ";".join(signed),
            "UNSIGNED-PAYLOAD",
        ]
    )
    _, date, region, service, terminator = query["X-Amz-Credential"][0].split("/")
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            query["X-Amz-Date"][0],
            f"{date}/{region}/{service}/{terminator}",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    expected = hmac.new(
        signing_key(query["X-Amz-Credential"][0]), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, signature)


def signing_key(credential: str) -> bytes:
    """SigV4's derived key for `<access key>/<date>/<region>/<service>/aws4_request`."""
    key = f"AWS4{MOTO_SECRET}".encode()
    for step in credential.split("/")[1:]:
        key = hmac.new(key, step.encode(), hashlib.sha256).digest()
    return key


def test_curl_with_exactly_the_returned_headers_matches_the_signature(
    store: S3BlobStore,
) -> None:
    target = store.presign_upload(REF, declared(), mode=UploadMode.PUT, expires_in=HOUR)
    assert target.url is not None
    # What `curl -X PUT -H <each returned header> --data-binary @file <url>` sends and signs
    # against: curl adds Host and Content-Length itself (User-Agent, Accept and Expect are
    # not signed, so S3 ignores them).
    curl = {
        "Host": urlsplit(target.url).netloc,
        "Content-Length": str(len(DATA)),
        "User-Agent": "curl/8.5.0",
        "Accept": "*/*",
        **target.headers,
    }

    assert sigv4_accepts(target.url, "PUT", curl)
    assert not sigv4_accepts(target.url, "PUT", curl | {"Content-Length": str(len(DATA) + 1)})
    assert not sigv4_accepts(target.url, "PUT", curl | {"Content-Type": "text/html"})
    without_checksum = {k: v for k, v in curl.items() if k != "x-amz-checksum-sha256"}
    assert not sigv4_accepts(target.url, "PUT", without_checksum)


def test_part_and_download_urls_need_no_headers(store: S3BlobStore) -> None:
    (part,), _ = store.presign_parts(REF, upload_id="u-1", part_numbers=[1], expires_in=HOUR)
    download = store.presign_download(
        REF, file_name="a b.pdf", content_type="application/pdf", expires_in=HOUR, version_id=None
    )

    assert sigv4_accepts(part.url, "PUT", {"Host": urlsplit(part.url).netloc})
    assert sigv4_accepts(download.url, "GET", {"Host": urlsplit(download.url).netloc})


# ---- lifetimes -----------------------------------------------------------------------------


def test_lifetime_is_shortened_to_the_credentials_expiry(
    client: Any, bucket: str, clock: ManualClock
) -> None:
    store = S3BlobStore(
        client,
        bucket,
        clock=clock,
        credentials_expiry=lambda: clock.now() + timedelta(minutes=10, seconds=30.5),
    )

    target = store.presign_upload(REF, declared(), mode=UploadMode.PUT, expires_in=HOUR)
    url = store.presign_download(
        REF, file_name="a.pdf", content_type="application/pdf", expires_in=HOUR, version_id=None
    )
    parts, parts_expire = store.presign_parts(REF, upload_id="u", part_numbers=[1], expires_in=HOUR)

    assert target.url is not None
    assert query_of(target.url)["X-Amz-Expires"] == "630"
    assert target.expires_at == clock.now() + timedelta(seconds=630)
    assert query_of(url.url)["X-Amz-Expires"] == "630"
    assert url.expires_at == clock.now() + timedelta(seconds=630)
    assert query_of(parts[0].url)["X-Amz-Expires"] == "630"
    assert parts_expire == clock.now() + timedelta(seconds=630)


def test_lifetime_is_kept_when_credentials_outlive_it(
    client: Any, bucket: str, clock: ManualClock
) -> None:
    store = S3BlobStore(
        client, bucket, clock=clock, credentials_expiry=lambda: clock.now() + timedelta(hours=6)
    )

    url = store.presign_download(
        REF, file_name="a.pdf", content_type="application/pdf", expires_in=HOUR, version_id=None
    )

    assert query_of(url.url)["X-Amz-Expires"] == "3600"
    assert url.expires_at == clock.now() + HOUR


def test_lifetime_is_never_negative(client: Any, bucket: str, clock: ManualClock) -> None:
    store = S3BlobStore(
        client, bucket, clock=clock, credentials_expiry=lambda: clock.now() - timedelta(minutes=5)
    )

    url = store.presign_download(
        REF, file_name="a.pdf", content_type="application/pdf", expires_in=HOUR, version_id=None
    )

    assert query_of(url.url)["X-Amz-Expires"] == "0"
    assert url.expires_at == clock.now()


def test_lifetime_is_capped_at_sigv4_maximum(store: S3BlobStore, clock: ManualClock) -> None:
    url = store.presign_download(
        REF,
        file_name="a.pdf",
        content_type="application/pdf",
        expires_in=timedelta(days=30),
        version_id=None,
    )

    assert query_of(url.url)["X-Amz-Expires"] == str(7 * 24 * 3600)
    assert url.expires_at == clock.now() + timedelta(days=7)


def test_credentials_without_expiry_do_not_shorten(
    client: Any, bucket: str, clock: ManualClock
) -> None:
    store = S3BlobStore(client, bucket, clock=clock, credentials_expiry=lambda: None)

    url = store.presign_download(
        REF, file_name="a.pdf", content_type="application/pdf", expires_in=HOUR, version_id=None
    )

    assert url.expires_at == clock.now() + HOUR


# ---- presigned POST ------------------------------------------------------------------------


def _policy(fields: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return decoded


def test_presigned_post_policy_pins_bucket_key_type_and_exact_size(
    store: S3BlobStore, bucket: str, clock: ManualClock
) -> None:
    target = store.presign_upload(REF, declared(sha256=None), mode=UploadMode.POST, expires_in=HOUR)

    assert target.url == f"https://{bucket}.s3.{REGION}.amazonaws.com/"
    assert target.fields["key"] == content_key(REF)
    assert target.fields["Content-Type"] == "application/pdf"
    assert target.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert target.fields["x-amz-credential"].endswith(f"/{REGION}/s3/aws4_request")
    assert {"x-amz-date", "x-amz-signature", "x-amz-security-token"} <= set(target.fields)
    policy = _policy(target.fields)
    conditions = policy["conditions"]
    assert {"bucket": bucket} in conditions
    assert {"key": content_key(REF)} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", len(DATA), len(DATA)] in conditions
    assert [c for c in conditions if isinstance(c, list)] == [
        ["content-length-range", len(DATA), len(DATA)]
    ]
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert target.expires_at == clock.now() + HOUR
    assert abs(expiration - target.expires_at) <= timedelta(seconds=5)
    # S3 checks the form's signature over the base64 policy with the SigV4 signing key.
    expected = hmac.new(
        signing_key(target.fields["x-amz-credential"]),
        target.fields["policy"].encode(),
        hashlib.sha256,
    ).hexdigest()
    assert target.fields["x-amz-signature"] == expected


def test_presigned_post_policy_expires_with_the_credentials(
    client: Any, bucket: str, clock: ManualClock
) -> None:
    store = S3BlobStore(
        client, bucket, clock=clock, credentials_expiry=lambda: clock.now() + timedelta(minutes=2)
    )

    target = store.presign_upload(REF, declared(sha256=None), mode=UploadMode.POST, expires_in=HOUR)

    expiration = datetime.strptime(
        _policy(target.fields)["expiration"], "%Y-%m-%dT%H:%M:%SZ"
    ).replace(tzinfo=UTC)
    assert target.expires_at == clock.now() + timedelta(minutes=2)
    assert abs(expiration - target.expires_at) <= timedelta(seconds=5)


def test_presign_upload_refuses_modes_it_cannot_presign(store: S3BlobStore) -> None:
    with pytest.raises(ValueError, match="multipart"):
        store.presign_upload(REF, declared(), mode=UploadMode.MULTIPART, expires_in=HOUR)


# ---- part and download URLs ------------------------------------------------------------------


def test_part_urls_sign_only_the_host(store: S3BlobStore, clock: ManualClock) -> None:
    parts, expires_at = store.presign_parts(
        REF, upload_id="upload-1", part_numbers=[1, 2, 3], expires_in=HOUR
    )

    assert [p.part_number for p in parts] == [1, 2, 3]
    for part in parts:
        query = query_of(part.url)
        assert urlsplit(part.url).path == f"/{content_key(REF)}"
        assert query["uploadId"] == "upload-1"
        assert query["partNumber"] == str(part.part_number)
        assert query["X-Amz-SignedHeaders"] == "host"
        assert query["X-Amz-Expires"] == "3600"
    assert expires_at == clock.now() + HOUR


def test_download_url_names_the_file_and_type(store: S3BlobStore, clock: ManualClock) -> None:
    name = '报告 "2026".pdf'

    url = store.presign_download(
        REF, file_name=name, content_type="application/pdf", expires_in=HOUR, version_id=None
    )

    query = query_of(url.url)
    assert urlsplit(url.url).path == f"/{content_key(REF)}"
    assert query["response-content-disposition"] == content_disposition(name)
    assert query["response-content-type"] == "application/pdf"
    assert query["X-Amz-SignedHeaders"] == "host"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert url.expires_at == clock.now() + HOUR


# ---- Content-Disposition ---------------------------------------------------------------------

HOSTILE_NAMES = [
    "report.pdf",
    'say "hi".txt',
    "back\\slash.txt",
    "line\r\nSet-Cookie: stolen=1.txt",
    "semi;colon; filename=evil.exe",
    "报告 2026.pdf",
    "naïve résumé.docx",
    "😀 party 🎉.png",
    "\ufb01le\uff02name\uff3c.txt",  # ligature, full-width quote and backslash
    "100% done.txt",
    "tab\there\x00nul\x7fdel.txt",
    "\u202etxt.exe",
    "é" * 127,
    "x" * 1000,
]


def _disposition_parts(header: str) -> tuple[str, str]:
    prefix = 'attachment; filename="'
    assert header.startswith(prefix)
    fallback, _, rest = header[len(prefix) :].partition('"; ')
    assert rest.startswith("filename*=UTF-8''")
    return fallback, rest.removeprefix("filename*=UTF-8''")


def _assert_safe_disposition(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii()
    assert all(" " <= char <= "~" for char in header)
    assert "\r" not in header
    assert "\n" not in header
    fallback, encoded = _disposition_parts(header)
    assert '"' not in fallback
    assert "\\" not in fallback
    assert "%" not in fallback
    assert fallback
    attr_chars = set("!#$&+-.^_`|~%")
    assert all(char.isalnum() or char in attr_chars for char in encoded)
    assert unquote(encoded, encoding="utf-8", errors="strict") == name


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_content_disposition_survives_hostile_names(name: str) -> None:
    _assert_safe_disposition(name)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_content_disposition_is_safe_for_any_name(name: str) -> None:
    _assert_safe_disposition(name)


def test_content_disposition_transliterates_the_fallback() -> None:
    assert content_disposition("naïve résumé.pdf") == (
        'attachment; filename="naive resume.pdf"; '
        "filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf"
    )
    assert _disposition_parts(content_disposition("报告 2026.pdf"))[0] == "__ 2026.pdf"
    assert _disposition_parts(content_disposition('a"b\\c%.txt'))[0] == "a_b_c_.txt"


# ---- Restore header --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ('ongoing-request="true"', RestoreStatus(ongoing=True)),
        (
            'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
            RestoreStatus(ongoing=False, expires_at=datetime(2012, 12, 21, tzinfo=UTC)),
        ),
        ('ongoing-request="false"', RestoreStatus(ongoing=False)),
        ('ongoing-request="false", expiry-date="not a date"', RestoreStatus(ongoing=False)),
        ("garbage", None),
    ],
)
def test_restore_header_parsing(header: str | None, expected: RestoreStatus | None) -> None:
    assert parse_restore(header) == expected


# ---- request counts ------------------------------------------------------------------------


def test_presigning_makes_no_requests(store: S3BlobStore, counter: RequestCounter) -> None:
    with counter.measure():
        store.presign_upload(REF, declared(), mode=UploadMode.PUT, expires_in=HOUR)
        store.presign_upload(REF, declared(sha256=None), mode=UploadMode.POST, expires_in=HOUR)
        store.presign_parts(REF, upload_id="u", part_numbers=range(1, 101), expires_in=HOUR)
        store.presign_download(
            REF, file_name="a.pdf", content_type="application/pdf", expires_in=HOUR, version_id=None
        )

    assert counter.total == 0


def test_request_counts_of_the_archive_lifecycle(
    store: S3BlobStore, counter: RequestCounter
) -> None:
    with counter.measure():
        store.store(REF, DATA, content_type="application/pdf", sha256=SHA256)
    assert counter.log == ["PutObject"]

    with counter.measure():
        store.archive(REF, StorageClass.GLACIER)
    assert counter.log == ["HeadObject", "CopyObject"]

    with counter.measure():
        store.archive(REF, StorageClass.GLACIER)
    assert counter.log == ["HeadObject"]

    with counter.measure():
        outcome = store.request_restore(REF, days=1, tier=RestoreTier.STANDARD)
    assert outcome is RestoreOutcome.STARTED
    assert counter.log == ["HeadObject", "RestoreObject"]

    with counter.measure():
        outcome = store.request_restore(REF, days=2, tier=RestoreTier.STANDARD)
    assert outcome is RestoreOutcome.ALREADY_RESTORED  # moto restores instantly
    assert counter.log == ["HeadObject", "RestoreObject"]

    with counter.measure():
        store.make_permanent(REF)
    assert counter.log == ["HeadObject", "CopyObject"]


def test_request_counts_of_small_operations(store: S3BlobStore, counter: RequestCounter) -> None:
    with counter.measure():
        store.write_sidecar(DOC, normalize_metadata({"a": 1}))
        store.read_sidecar(DOC)
        store.inspect(REF)
        store.check()
    assert counter.log == ["PutObject", "GetObject", "HeadObject", "HeadBucket"]

    with counter.measure():
        upload_id = store.start_multipart(REF, content_type="application/pdf")
        store.abort_upload(REF, upload_id=upload_id)
    assert counter.log == ["CreateMultipartUpload", "AbortMultipartUpload"]

    with counter.measure():
        store.abort_upload(REF, upload_id=None)  # nothing arrived: nothing to delete
    assert counter.log == ["ListObjectVersions"]


def test_request_counts_of_holds_tags_exact_deletes_and_copies(
    store: S3BlobStore, counter: RequestCounter
) -> None:
    data = b"kept"
    version = store.store(
        REF, data, content_type="text/plain", sha256=hashlib.sha256(data).hexdigest()
    )
    assert version is not None

    with counter.measure():
        store.set_legal_hold(REF, version, on=True)
        store.set_legal_hold(REF, version, on=True)  # already on: no write
    assert counter.log == ["GetObjectLegalHold", "PutObjectLegalHold", "GetObjectLegalHold"]

    with counter.measure():
        store.tag_noncurrent(REF, version)
        copied = store.copy_revision(REF, source_version=version, target=ContentRef(DOC, 2))
    assert counter.log == ["PutObjectTagging", "CopyObject"]
    assert copied != version

    with counter.measure():
        store.delete_key(ContentRef(DOC, 2))
        store.delete_key(ContentRef(DOC, 3))  # nothing listed, nothing sent
    assert counter.log == ["ListObjectVersions", "DeleteObjects", "ListObjectVersions"]

    store.set_legal_hold(REF, version, on=False)
    with counter.measure():
        store.purge(DOC)
    assert counter.log == ["ListObjectVersions", "DeleteObjects"]


# ---- archive details -----------------------------------------------------------------------


def test_archive_keeps_content_type_and_user_metadata(
    store: S3BlobStore, client: Any, bucket: str
) -> None:
    key = content_key(REF)
    client.put_object(
        Bucket=bucket, Key=key, Body=DATA, ContentType="application/pdf", Metadata={"x": "1"}
    )

    store.archive(REF, StorageClass.DEEP_ARCHIVE)

    head = client.head_object(Bucket=bucket, Key=key)
    assert head["StorageClass"] == "DEEP_ARCHIVE"
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"] == {"x": "1"}


def test_objects_above_the_threshold_take_the_managed_multipart_copy(
    client: Any, bucket: str, clock: ManualClock
) -> None:
    store = S3BlobStore(client, bucket, clock=clock, multipart_copy_threshold=1024)
    key = content_key(REF)
    big = b"b" * 4096
    client.put_object(
        Bucket=bucket, Key=key, Body=big, ContentType="text/csv", Metadata={"kept": "yes"}
    )
    counter = RequestCounter().attach(client)

    with counter.measure():
        store.archive(REF, StorageClass.GLACIER)

    assert "CopyObject" not in counter.calls
    assert counter.calls["CreateMultipartUpload"] == 1
    assert counter.calls["UploadPartCopy"] >= 1
    assert counter.calls["CompleteMultipartUpload"] == 1
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["StorageClass"] == "GLACIER"
    assert head["ContentLength"] == len(big)
    assert head["ContentType"] == "text/csv"
    assert head["Metadata"] == {"kept": "yes"}


def test_objects_at_the_threshold_take_one_copy_request(
    client: Any, bucket: str, clock: ManualClock
) -> None:
    store = S3BlobStore(client, bucket, clock=clock, multipart_copy_threshold=len(DATA))
    client.put_object(Bucket=bucket, Key=content_key(REF), Body=DATA)
    counter = RequestCounter().attach(client)

    with counter.measure():
        store.archive(REF, StorageClass.GLACIER)

    assert counter.log == ["HeadObject", "CopyObject"]


def test_store_puts_a_checksum_s3_verifies(store: S3BlobStore, client: Any) -> None:
    sent: list[dict[str, Any]] = []
    event = "before-send.s3.PutObject"
    client.meta.events.register(
        event, lambda request, **_: sent.append(dict(request.headers)), unique_id="sent-headers"
    )
    try:
        store.store(REF, DATA, content_type="application/pdf", sha256=SHA256)
    finally:
        client.meta.events.unregister(event, unique_id="sent-headers")

    headers = {name.lower(): value for name, value in sent[-1].items()}
    assert headers["x-amz-checksum-sha256"] in (SHA256_B64, SHA256_B64.encode())
    assert headers["content-type"] in ("application/pdf", b"application/pdf")
    assert "transfer-encoding" not in headers  # the given checksum is sent as is, not trailed
    info = store.inspect(REF)
    assert info is not None
    assert info.content.sha256 == SHA256


def test_sidecar_is_utf8_json_with_exact_numbers(
    store: S3BlobStore, client: Any, bucket: str
) -> None:
    store.write_sidecar(DOC, normalize_metadata({"n": 10**125, "d": "0.1", "ü": "报告"}))

    obj = client.get_object(Bucket=bucket, Key=sidecar_key(DOC))
    assert obj["ContentType"] == "application/json"
    assert obj["Body"].read().decode("utf-8") == ('{"n":1' + "0" * 125 + ',"d":"0.1","ü":"报告"}')


def test_corrupt_sidecar_is_a_dependency_error(
    store: S3BlobStore, client: Any, bucket: str
) -> None:
    client.put_object(Bucket=bucket, Key=sidecar_key(DOC), Body=b"{not json")

    with pytest.raises(DependencyError):
        store.read_sidecar(DOC)


# ---- error translation ---------------------------------------------------------------------


def test_missing_bucket_fails_the_health_check_without_naming_it(
    client: Any, clock: ManualClock
) -> None:
    store = S3BlobStore(client, "kumocms-no-such-bucket", clock=clock)

    with pytest.raises(DependencyError) as raised:
        store.check()

    assert "kumocms-no-such-bucket" not in str(raised.value)


@pytest.fixture
def stubbed() -> Iterator[tuple[S3BlobStore, Stubber]]:
    client = boto3.client("s3", region_name=REGION, config=client_config(s3=True))
    with Stubber(client) as stubber:
        yield S3BlobStore(client, "kumocms-secret-bucket", clock=ManualClock()), stubber
        stubber.assert_no_pending_responses()


def test_throttling_becomes_a_dependency_error_naming_no_bucket(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    stubber.add_client_error("head_bucket", service_error_code="SlowDown", http_status_code=503)

    with pytest.raises(DependencyError) as raised:
        store.check()

    assert "throttled" in str(raised.value)
    assert "kumocms-secret-bucket" not in str(raised.value)


@pytest.mark.parametrize(
    "code", ["InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"]
)
def test_part_errors_become_validation_errors(
    stubbed: tuple[S3BlobStore, Stubber], code: str
) -> None:
    store, stubber = stubbed
    stubber.add_client_error("complete_multipart_upload", service_error_code=code)

    with pytest.raises(ValidationError) as raised:
        store.complete_multipart(
            REF, upload_id="u", parts=[CompletedPart(part_number=1, etag='"e"')]
        )

    assert raised.value.field == "parts"
    assert "kumocms-secret-bucket" not in str(raised.value)


def test_other_completion_errors_are_dependency_errors(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    stubber.add_client_error("complete_multipart_upload", service_error_code="InternalError")

    with pytest.raises(DependencyError):
        store.complete_multipart(
            REF, upload_id="u", parts=[CompletedPart(part_number=1, etag='"e"')]
        )


def test_bad_digest_is_a_checksum_mismatch(stubbed: tuple[S3BlobStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_client_error("put_object", service_error_code="BadDigest", http_status_code=400)

    with pytest.raises(ChecksumMismatchError) as raised:
        store.store(REF, DATA, content_type="application/pdf", sha256=SHA256)

    assert raised.value.field == "sha256"


def test_restore_already_in_progress_is_reported_not_raised(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    stubber.add_response("head_object", {"ContentLength": 10, "StorageClass": "GLACIER"})
    stubber.add_client_error(
        "restore_object", service_error_code="RestoreAlreadyInProgress", http_status_code=409
    )

    assert store.request_restore(REF, days=1, tier=RestoreTier.BULK) is RestoreOutcome.IN_PROGRESS


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(202, RestoreOutcome.STARTED), (200, RestoreOutcome.ALREADY_RESTORED)],
)
def test_restore_outcome_follows_the_status_code(
    stubbed: tuple[S3BlobStore, Stubber], status: int, outcome: RestoreOutcome
) -> None:
    store, stubber = stubbed
    stubber.add_response("head_object", {"ContentLength": 10, "StorageClass": "DEEP_ARCHIVE"})
    stubber.add_response(
        "restore_object",
        {"ResponseMetadata": {"HTTPStatusCode": status}},
        {
            "Bucket": "kumocms-secret-bucket",
            "Key": content_key(REF),
            "RestoreRequest": {"Days": 3, "GlacierJobParameters": {"Tier": "Bulk"}},
        },
    )

    assert store.request_restore(REF, days=3, tier=RestoreTier.BULK) is outcome


def test_running_restore_is_reported_without_asking_again(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    stubber.add_response(
        "head_object",
        {"ContentLength": 10, "StorageClass": "GLACIER", "Restore": 'ongoing-request="true"'},
    )

    outcome = store.request_restore(REF, days=1, tier=RestoreTier.STANDARD)

    assert outcome is RestoreOutcome.IN_PROGRESS


def test_abort_of_a_finished_upload_deletes_the_object(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    stubber.add_client_error(
        "abort_multipart_upload", service_error_code="NoSuchUpload", http_status_code=404
    )
    key = content_key(REF)
    stubber.add_response(
        "list_object_versions",
        {
            "Versions": [
                {"Key": key, "VersionId": "v2"},
                {"Key": f"{key}0", "VersionId": "other"},  # revision 10 shares the prefix
            ],
            "DeleteMarkers": [{"Key": key, "VersionId": "m1"}],
        },
        {"Bucket": "kumocms-secret-bucket", "Prefix": key},
    )
    stubber.add_response(
        "delete_objects",
        {},
        {
            "Bucket": "kumocms-secret-bucket",
            "Delete": {
                "Objects": [{"Key": key, "VersionId": "v2"}, {"Key": key, "VersionId": "m1"}],
                "Quiet": True,
            },
        },
    )

    store.abort_upload(REF, upload_id="gone")


def test_purge_pages_deletes_in_batches_and_reports_refusals_last(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    bucket = "kumocms-secret-bucket"
    key = content_key(REF)
    folder = key.rsplit("/", 1)[0] + "/"
    versions = [{"Key": key, "VersionId": f"v{n}"} for n in range(1000)]
    stubber.add_response(
        "list_object_versions",
        {
            "Versions": versions,
            "IsTruncated": True,
            "NextKeyMarker": key,
            "NextVersionIdMarker": "v999",
        },
        {"Bucket": bucket, "Prefix": folder},
    )
    marker = {"Key": sidecar_key(DOC), "VersionId": "m1"}
    stubber.add_response(
        "list_object_versions",
        {"DeleteMarkers": [marker]},
        {"Bucket": bucket, "Prefix": folder, "KeyMarker": key, "VersionIdMarker": "v999"},
    )
    stubber.add_response(
        "delete_objects",
        {"Errors": [{"Key": key, "VersionId": "v7", "Code": "AccessDenied"}]},
        {"Bucket": bucket, "Delete": {"Objects": versions, "Quiet": True}},
    )
    stubber.add_response(  # the second batch is sent although the first had a refusal
        "delete_objects", {}, {"Bucket": bucket, "Delete": {"Objects": [marker], "Quiet": True}}
    )

    with pytest.raises(DependencyError) as raised:
        store.purge(DOC)

    assert "AccessDenied" in str(raised.value)
    assert key not in str(raised.value)


def test_legal_hold_never_set_is_off(stubbed: tuple[S3BlobStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_client_error(
        "get_object_legal_hold",
        service_error_code="NoSuchObjectLockConfiguration",
        http_status_code=404,
    )

    assert not store.legal_hold(REF, "v1")


def test_forbidden_head_is_not_mistaken_for_a_missing_object(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    stubber.add_client_error("head_object", service_error_code="403", http_status_code=403)

    with pytest.raises(DependencyError):
        store.inspect(REF)


@pytest.mark.parametrize(
    ("head", "sha256"),
    [
        ({"ChecksumSHA256": SHA256_B64, "ChecksumType": "FULL_OBJECT", "ETag": '"e"'}, SHA256),
        ({"ChecksumSHA256": SHA256_B64, "ETag": '"e"'}, SHA256),
        ({"ChecksumSHA256": f"{SHA256_B64}-3", "ChecksumType": "COMPOSITE"}, None),
        ({"ChecksumSHA256": SHA256_B64, "ChecksumType": "COMPOSITE"}, None),
        ({"ChecksumSHA256": SHA256_B64, "ETag": '"abc-2"'}, None),
        ({"ChecksumSHA256": "bm90IGEgZGlnZXN0"}, None),
        ({"ChecksumCRC32": "AAAAAA=="}, None),
    ],
)
def test_only_a_full_object_sha256_is_reported(
    stubbed: tuple[S3BlobStore, Stubber], head: dict[str, Any], sha256: str | None
) -> None:
    store, stubber = stubbed
    stubber.add_response("head_object", {"ContentLength": len(DATA), **head})

    info = store.inspect(REF)

    assert info is not None
    assert info.content.sha256 == sha256


def test_inspect_reads_class_and_restore_from_the_head(
    stubbed: tuple[S3BlobStore, Stubber],
) -> None:
    store, stubber = stubbed
    stubber.add_response(
        "head_object",
        {
            "ContentLength": 5,
            "StorageClass": "DEEP_ARCHIVE",
            "Restore": 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
        },
        {"Bucket": "kumocms-secret-bucket", "Key": content_key(REF), "ChecksumMode": "ENABLED"},
    )
    stubber.add_response("head_object", {"ContentLength": 5, "StorageClass": "STANDARD_IA"})

    archived = store.inspect(REF)
    warm = store.inspect(REF)

    assert archived is not None
    assert archived.content.storage_class is StorageClass.DEEP_ARCHIVE
    assert archived.restore == RestoreStatus(
        ongoing=False, expires_at=datetime(2012, 12, 21, tzinfo=UTC)
    )
    assert warm is not None
    assert warm.content.storage_class is StorageClass.STANDARD  # readable without a restore


# ---- over HTTP, through a moto server ------------------------------------------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.mark.slow
def test_a_download_link_serves_the_version_it_names_after_the_key_moves_on(
    moto_server: str,
) -> None:
    # A link handed out while the worker archives must keep serving the source: without a
    # VersionId it would read the committed GLACIER version (InvalidObjectState), and after
    # a rewrite it would serve bytes the record does not describe.
    client: Any = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=moto_server,
        config=client_config(s3=True).merge(Config(s3={"addressing_style": "path"})),
    )
    bucket = f"kumocms-http-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    store = S3BlobStore(client, bucket, clock=SystemClock())
    version = store.store(REF, DATA, content_type="application/pdf", sha256=SHA256)
    assert version is not None

    pinned = store.presign_download(
        REF, file_name="a.pdf", content_type="application/pdf", expires_in=HOUR, version_id=version
    )
    unpinned = store.presign_download(
        REF, file_name="a.pdf", content_type="application/pdf", expires_in=HOUR, version_id=None
    )
    assert query_of(pinned.url)["versionId"] == version
    store.archive(REF, StorageClass.GLACIER)

    with urllib.request.urlopen(pinned.url, timeout=10) as response:
        assert response.read() == DATA
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unpinned.url, timeout=10)
    refused.value.close()
    assert refused.value.code == 403  # InvalidObjectState: the key now names the archive


def _form_body(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


@pytest.mark.slow
def test_presigned_urls_work_over_http(moto_server: str) -> None:
    client: Any = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=moto_server,
        config=client_config(s3=True).merge(Config(s3={"addressing_style": "path"})),
    )
    bucket = f"kumocms-http-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    store = S3BlobStore(client, bucket, clock=SystemClock())
    name = '报告 "final".pdf'

    put = store.presign_upload(REF, declared(), mode=UploadMode.PUT, expires_in=HOUR)
    assert put.url is not None
    request = urllib.request.Request(put.url, data=DATA, method="PUT", headers=dict(put.headers))
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    download = store.presign_download(
        REF, file_name=name, content_type="application/pdf", expires_in=HOUR, version_id=None
    )
    with urllib.request.urlopen(download.url, timeout=10) as response:
        assert response.read() == DATA
        assert response.headers["Content-Disposition"] == content_disposition(name)
        assert response.headers["Content-Type"] == "application/pdf"

    posted_ref = ContentRef(DOC, 2)
    post = store.presign_upload(
        posted_ref, declared(sha256=None), mode=UploadMode.POST, expires_in=HOUR
    )
    assert post.url is not None
    body, content_type = _form_body(dict(post.fields), "report.pdf", DATA)
    request = urllib.request.Request(
        post.url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201, 204)

    info = store.inspect(posted_ref)
    assert info is not None
    assert info.content.size == len(DATA)
    assert store.compute_sha256(posted_ref) == SHA256
    head = client.head_object(Bucket=bucket, Key=content_key(posted_ref))
    assert head["ContentType"] == "application/pdf"
