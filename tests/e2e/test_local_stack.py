"""The §4 contract over real HTTP against the local stack: real presigned URLs, real events."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.request
from urllib.parse import urlsplit

import boto3
import pytest
from ulid import ULID
from urllib3.filepost import encode_multipart_formdata

from entrypoints.local.stack import LocalStack
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from tests.e2e.conftest import Api, MiB, request, wait_for

pytestmark = pytest.mark.slow


def _state(api: Api, doc_id: str) -> str:
    return str(api("GET", f"/documents/{doc_id}").json["state"])


def test_presigned_put_upload_of_12_mb_and_download(api: Api) -> None:
    content = os.urandom(12 * MiB)
    created = api(
        "POST",
        "/documents",
        {
            "file_name": "twelve.bin",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "metadata": {"mb": 12},
        },
    )
    assert created.status == 201
    doc = created.json
    upload = doc["upload"]
    assert upload["method"] == "MULTIPART"  # above the 8 MiB threshold of this stack
    assert len(upload["parts"]) == 3
    etags = []
    for part in upload["parts"]:
        start = (part["part_number"] - 1) * upload["part_size"]
        reply = request("PUT", part["url"], body=content[start : start + upload["part_size"]])
        assert reply.status == 200
        etags.append({"part_number": part["part_number"], "etag": reply.headers["ETag"]})
    done = api("POST", f"/documents/{doc['document_id']}/uploads/complete", {"parts": etags})
    assert done.status == 200, done.body
    assert done.json["state"] == "active"
    assert done.json["sha256"] == hashlib.sha256(content).hexdigest()
    link = api("GET", f"/documents/{doc['document_id']}/content", query={"redirect": "false"})
    downloaded = request("GET", link.json["url"])
    assert downloaded.status == 200
    assert downloaded.body == content
    assert "twelve.bin" in downloaded.headers.get("Content-Disposition", "")


def test_a_large_archive_answers_202_archiving_then_becomes_archived(api: Api) -> None:
    content = os.urandom(12 * MiB)
    created = api(
        "POST",
        "/documents",
        {
            "file_name": "large.bin",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    ).json
    upload = created["upload"]
    etags = []
    for part in upload["parts"]:
        start = (part["part_number"] - 1) * upload["part_size"]
        reply = request("PUT", part["url"], body=content[start : start + upload["part_size"]])
        etags.append({"part_number": part["part_number"], "etag": reply.headers["ETag"]})
    doc_id = created["document_id"]
    api("POST", f"/documents/{doc_id}/uploads/complete", {"parts": etags})
    accepted = api("POST", f"/documents/{doc_id}/archive", {"storage_class": "GLACIER"})
    assert accepted.status == 202, accepted.body
    assert accepted.headers["Location"].endswith(f"/documents/{doc_id}")
    assert int(accepted.headers["Retry-After"]) >= 1
    assert accepted.json["state"] == "archiving"
    # Readable while the worker copies: the answer carries a download link to the old bytes.
    link = accepted.json["download"]["url"]
    downloaded = request("GET", link)
    if downloaded.status == 200:  # the worker may already have committed (moto is fast)
        assert downloaded.body == content
    wait_for(lambda: _state(api, doc_id) == "archived", message="the worker's commit")
    archived = api("GET", f"/documents/{doc_id}").json
    assert archived["storage_class"] == "GLACIER"
    assert archived["download"] is None


def _urllib_put(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """A PUT as Python's urllib sends it: with a body and no Content-Type, it says
    `application/x-www-form-urlencoded`. The timeout bounds the test if the emulator hangs."""
    put = urllib.request.Request(url, data=body, method="PUT", headers=headers or {})
    with urllib.request.urlopen(put, timeout=60) as reply:
        return reply.status, reply.headers["ETag"]


def test_a_part_put_with_urllibs_default_form_content_type_is_stored(api: Api) -> None:
    content = os.urandom(17 * MiB)
    doc = api(
        "POST",
        "/documents",
        {"file_name": "form-typed.bin", "size": len(content)},
    ).json
    upload = doc["upload"]
    assert upload["method"] == "MULTIPART"
    urls = {part["part_number"]: part["url"] for part in upload["parts"]}
    etags = []
    for number, piece in ((1, content[: 16 * MiB]), (2, content[16 * MiB :])):
        status, etag = _urllib_put(urls[number], piece)
        assert status == 200
        assert etag.strip('"') == hashlib.md5(piece).hexdigest()  # noqa: S324 - S3's ETag
        etags.append({"part_number": number, "etag": etag})
    done = api("POST", f"/documents/{doc['document_id']}/uploads/complete", {"parts": etags})
    assert done.status == 200, done.body
    assert done.json["sha256"] == hashlib.sha256(content).hexdigest()


def test_a_presigned_put_keeps_a_form_content_type_it_was_sent_with(
    api: Api, stack: LocalStack
) -> None:
    content = b"a=1&b=2&" + os.urandom(1024)
    doc = api(
        "POST",
        "/documents",
        {
            "file_name": "form.bin",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "content_type": "application/x-www-form-urlencoded",
        },
    ).json
    upload = doc["upload"]
    assert upload["method"] == "PUT"
    assert _urllib_put(upload["url"], content, upload["headers"])[0] == 200
    wait_for(lambda: _state(api, doc["document_id"]) == "active", message="PUT confirmed")
    link = api("GET", f"/documents/{doc['document_id']}/content", query={"redirect": "false"})
    assert request("GET", link.json["url"]).body == content
    bucket, _, key = urlsplit(upload["url"]).path.lstrip("/").partition("/")
    s3 = boto3.client(
        "s3",
        endpoint_url=_moto(stack),
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stored = s3.head_object(Bucket=bucket, Key=key)
    assert stored["ContentType"] == "application/x-www-form-urlencoded"


def test_presigned_put_and_post_single_uploads(api: Api) -> None:
    content = os.urandom(6 * MiB)
    doc = api(
        "POST",
        "/documents",
        {
            "file_name": "six.bin",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    ).json
    upload = doc["upload"]
    assert upload["method"] == "PUT"
    assert request("PUT", upload["url"], body=content, headers=upload["headers"]).status == 200
    wait_for(lambda: _state(api, doc["document_id"]) == "active", message="PUT confirmed")
    small = api(
        "POST", "/documents", {"file_name": "form.txt", "size": 5, "content_type": "text/plain"}
    ).json
    form = small["upload"]
    assert form["method"] == "POST"
    boundary = "e2eboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in form["fields"].items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="form.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n'.encode()
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    posted = request(
        "POST",
        form["url"],
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert posted.status in (200, 201, 204), posted.body
    wait_for(lambda: _state(api, small["document_id"]) == "active", message="POST confirmed")


def test_declared_checksum_mismatch_is_rejected(api: Api) -> None:
    declared = hashlib.sha256(b"what I promised").hexdigest()
    doc = api("POST", "/documents", {"file_name": "liar.txt", "size": 15, "sha256": declared}).json
    upload = doc["upload"]
    # Real S3 refuses the body (the checksum header is signed); moto does not, so the
    # confirmation has to catch it.
    request("PUT", upload["url"], body=b"something else!", headers=upload["headers"])
    wait_for(lambda: _state(api, doc["document_id"]) == "rejected", message="rejected")
    reply = api("GET", f"/documents/{doc['document_id']}/content")
    assert (reply.status, reply.json["code"]) == (409, "upload_rejected")


def test_archive_restore_202_then_200(api: Api) -> None:
    doc = api("POST", "/documents", {"file_name": "cold.txt", "content": "Y29sZA=="}).json
    doc_id = doc["document_id"]
    assert api("POST", f"/documents/{doc_id}/archive").json["state"] == "archived"
    started = api("POST", f"/documents/{doc_id}/restore", {"days": 1})
    assert started.status == 202
    assert started.headers["Location"] == f"/documents/{doc_id}"
    assert int(started.headers["Retry-After"]) >= 1
    waiting = api("GET", f"/documents/{doc_id}/content")
    assert waiting.status == 202
    assert waiting.json["code"] == "restore_in_progress"
    wait_for(
        lambda: api("GET", f"/documents/{doc_id}/content").status == 302,
        timeout=15,
        message="restore completes through the event path",
    )
    assert _state(api, doc_id) == "restored"
    again = api("POST", f"/documents/{doc_id}/restore", {"days": 2})
    assert again.status == 200


def test_conditional_requests_and_idempotent_post(api: Api) -> None:
    doc = api("POST", "/documents", {"file_name": "c.txt", "content": "YQ=="}).json
    doc_id = doc["document_id"]
    stale = api("PATCH", f"/documents/{doc_id}", {"a": 1}, If_Match='"9"')
    assert (stale.status, stale.json["code"]) == (412, "version_mismatch")
    ok = api("PATCH", f"/documents/{doc_id}", {"a": 1}, If_Match='"1"')
    assert ok.status == 200
    assert ok.headers["ETag"] == '"2"'
    cached = api("GET", f"/documents/{doc_id}", If_None_Match='"2"')
    assert (cached.status, cached.body, cached.headers["ETag"]) == (304, b"", '"2"')
    assert "Content-Length" not in cached.headers
    assert api("GET", f"/documents/{doc_id}", If_None_Match='"1"').status == 200
    body = {"file_name": "once.txt", "content": "b25jZQ=="}
    first = api("POST", "/documents", body, Idempotency_Key="e2e-once")
    second = api("POST", "/documents", body, Idempotency_Key="e2e-once")
    assert first.json == second.json
    assert (
        api("POST", "/documents", {**body, "file_name": "x"}, Idempotency_Key="e2e-once").json[
            "code"
        ]
        == "idempotency_key_reused"
    )


def test_auth_failures_are_problem_json(api: Api) -> None:
    for key in ("kumo_not-a-real-key-0000000000000000", "short"):
        reply = api("GET", "/documents", key=key)
        assert reply.status == 401
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert reply.json["code"] == "unauthorized"
    missing = request("GET", api.base_url + "/documents")
    assert (missing.status, missing.json["code"]) == (401, "unauthorized")
    reader = api("POST", "/users", {"name": "r", "role": "reader"}).json["api_key"]
    denied = api("DELETE", "/documents/01ARZ3NDEKTSV4RRFFQ69G5FAV", key=reader)
    assert (denied.status, denied.json["code"]) == (403, "forbidden")


def test_payload_limits_at_the_front(api: Api) -> None:
    too_big = api(
        "POST", "/documents", raw=b"x" * (11 * 1000 * 1000), Content_Type="application/octet-stream"
    )
    assert (too_big.status, too_big.json["code"]) == (413, "payload_too_large")
    # A 5 MiB form is binary: base64-encoded, 6.7 MiB of Lambda event.
    form, form_type = encode_multipart_formdata({"file": ("big.bin", b"x" * (5 * MiB), "x/y")})
    over_event = api("POST", "/documents", raw=form, Content_Type=form_type)
    assert (over_event.status, over_event.json["code"]) == (413, "payload_too_large")
    # JSON is text: over the event only past 6 MiB.
    text = b'{"file_name": "a", "content": "' + b"A" * (6 * MiB) + b'"}'
    over_event = api("POST", "/documents", raw=text, Content_Type="application/json")
    assert (over_event.status, over_event.json["code"]) == (413, "payload_too_large")


def test_a_direct_upload_at_the_default_limit_passes_in_both_body_forms(api: Api) -> None:
    # Issue 12: with `*/*` binary media types, 4,000,000 bytes as JSON got 413 locally.
    content = os.urandom(4 * MiB)
    as_json = api(
        "POST",
        "/documents",
        {"file_name": "a.bin", "content": base64.b64encode(content).decode()},
    )
    assert as_json.status == 201, as_json.body
    form, form_type = encode_multipart_formdata({"file": ("a.bin", content, "x/y")})
    as_form = api("POST", "/documents", raw=form, Content_Type=form_type)
    assert as_form.status == 201, as_form.body
    assert as_json.json["sha256"] == as_form.json["sha256"] == hashlib.sha256(content).hexdigest()
    limits = api("GET", "/limits").json
    assert limits["direct_upload_max_bytes"] == 4 * MiB


def test_a_poison_event_ends_in_parking_while_its_batch_succeeds(
    stack: LocalStack, api: Api
) -> None:
    assert stack.resources is not None
    good = api("POST", "/documents", {"file_name": "good.txt", "size": 4}).json
    form = good["upload"]
    sqs = boto3.client(
        "sqs",
        region_name="eu-west-1",
        endpoint_url=_moto(stack),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # A key whose document never exists and whose id stays "young" (created an hour from now):
    # the ingest asks for it again every time, so it is never processed.
    fresh = DocumentId.from_ulid(ULID.from_timestamp(time.time() + 3600))
    poison = {
        "version": "0",
        "id": "poison",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "version": "0",
            "bucket": {"name": stack.resources.bucket},
            "object": {"key": content_key(ContentRef(fresh, 1)), "size": 1},
            "reason": "PutObject",
        },
    }
    sqs.send_message(QueueUrl=stack.resources.ingest_queue_url, MessageBody=json.dumps(poison))
    boundary = "b0undary"
    fields = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in form["fields"].items()
    )
    body = (
        fields
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="g"\r\n\r\ngood\r\n--{boundary}--\r\n'
        ).encode()
    )
    request(
        "POST",
        form["url"],
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    wait_for(lambda: _state(api, good["document_id"]) == "active", message="good confirmed")

    def parked() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.resources.parking_queue_url,  # type: ignore[union-attr]
            AttributeNames=["ApproximateNumberOfMessages"],
        )["Attributes"]
        return attributes["ApproximateNumberOfMessages"] == "1"

    wait_for(parked, timeout=30, message="the poison message is parked")
    message = sqs.receive_message(
        QueueUrl=stack.resources.parking_queue_url, MessageAttributeNames=["All"]
    )["Messages"][0]
    assert json.loads(message["Body"])["id"] == "poison"
    assert message["MessageAttributes"]["kumocms-retries"]["StringValue"] == "2"


def _moto(stack: LocalStack) -> str:
    assert stack.runtimes["documents_read"].settings.endpoint_url is not None
    return stack.runtimes["documents_read"].settings.endpoint_url
