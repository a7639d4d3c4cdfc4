"""The HTTP contract of §4, route by route, through the gateway and the real handlers."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from urllib3.filepost import encode_multipart_formdata

from entrypoints.http.representations import DOCUMENT_FIELDS
from entrypoints.http.routes import ROUTES
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, content_key
from tests.entrypoints.conftest import ORIGIN, Api

DOC_FIELDS = {field.name for field in DOCUMENT_FIELDS}
"""The one definition the responses and the OpenAPI schema are made from."""
MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _problem(reply, status: int, code: str) -> dict:
    assert reply.status == status, reply.body
    assert reply.media_type == "application/problem+json"
    body = reply.json
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    # RFC 9110 §11.6.1: a 401 names the scheme that would work, and only a 401 challenges.
    assert reply.headers.get("WWW-Authenticate") == (
        'Bearer realm="kumocms"' if status == 401 else None
    )
    return body


# ---- meta -----------------------------------------------------------------------------------


def test_healthcheck(api: Api) -> None:
    reply = api("GET", "/healthcheck", key=None)
    assert reply.status == 200
    assert reply.json["status"] == "ok"
    assert reply.json["version"]
    deep = api("GET", "/healthcheck", key=None, query={"deep": "true"})
    assert deep.status == 200
    assert deep.json["checks"] == {"s3": "ok", "dynamodb": "ok"}


def test_deep_healthcheck_is_503_without_error_text_when_a_dependency_is_down(api: Api) -> None:
    api.blobs.available = False
    reply = api("GET", "/healthcheck", key=None, query={"deep": "true"})
    body = _problem(reply, 503, "service_unavailable")
    assert body["checks"] == {"s3": "unavailable", "dynamodb": "ok"}
    assert "unavailable" in body["detail"]


def test_me(api: Api) -> None:
    reply = api("GET", "/me", key="reader")
    assert reply.status == 200
    assert reply.json["role"] == "reader"
    assert set(reply.json) == {"user_id", "name", "role"}


# ---- upload ---------------------------------------------------------------------------------


def test_direct_json_upload(api: Api) -> None:
    content = b"hello world"
    reply = api(
        "POST",
        "/documents",
        json_body={
            "file_name": "hello.txt",
            "content_type": "text/plain",
            "content": base64.b64encode(content).decode(),
            "metadata": {"team": "blue", "n": 0.1},
        },
    )
    assert reply.status == 201
    doc = reply.json
    assert set(doc) == DOC_FIELDS
    assert reply.headers["Location"] == f"/documents/{doc['document_id']}"
    assert reply.headers["ETag"] == '"1"'
    assert doc["state"] == "active"
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert doc["size"] == len(content)
    assert doc["metadata"] == {"team": "blue", "n": 0.1}
    assert doc["upload"] is None
    assert doc["download"]["url"]
    assert doc["created_at"].endswith("Z")


def test_direct_multipart_form_upload(api: Api) -> None:
    boundary = "kumo-boundary-1234"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="metadata"\r\n\r\n'
            '{"a": [1, 2]}\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="r\\"e\\"p.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + b"%PDF-1.7\x00\xff\r\nbinary"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    reply = api(
        "POST",
        "/documents",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert reply.status == 201, reply.body
    doc = reply.json
    assert doc["file_name"] == 'r"e"p.pdf'
    assert doc["content_type"] == "application/pdf"
    assert doc["size"] == len(b"%PDF-1.7\x00\xff\r\nbinary")
    assert doc["metadata"] == {"a": [1, 2]}


def test_a_multipart_file_holding_its_own_boundary_text_uploads_intact(api: Api) -> None:
    boundary = "kumo-boundary-1234"
    content = (
        b"%PDF-1.7 --kumo-boundary-1234 then --kumo-boundary-1234--\r\n"
        b"x--kumo-boundary-1234\r\n\r--kumo-boundary-1234\n--kumo-boundary-12345\r\n\x00\xff"
    )
    body, content_type = encode_multipart_formdata(
        [
            ("metadata", '{"note": "--kumo-boundary-1234"}'),
            ("file", ("boundary.pdf", content, "application/pdf")),
        ],
        boundary=boundary,
    )
    reply = api("POST", "/documents", body=body, headers={"Content-Type": content_type})
    assert reply.status == 201, reply.body
    doc = reply.json
    assert doc["file_name"] == "boundary.pdf"
    assert doc["size"] == len(content)
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert doc["metadata"] == {"note": "--kumo-boundary-1234"}
    assert api.blobs.client_get(doc["download"]["url"]) == content


def test_a_multipart_replace_reads_the_same_way(api: Api) -> None:
    doc = api.upload()
    content = b"x--b\r\nx--b--\r--b\nb--b --b"  # "--b" never right after a CRLF
    body, content_type = encode_multipart_formdata(
        [("file", ("again.txt", content, "text/plain"))], boundary="b"
    )
    reply = api(
        "PUT", f"/documents/{doc['document_id']}", body=body, headers={"Content-Type": content_type}
    )
    assert reply.status == 200, reply.body
    assert reply.json["sha256"] == hashlib.sha256(content).hexdigest()
    assert api.blobs.client_get(reply.json["download"]["url"]) == content


def test_presigned_put_upload_then_confirmation(api: Api) -> None:
    content = b"x" * 5000
    reply = api(
        "POST",
        "/documents",
        json_body={
            "file_name": "big.bin",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    assert reply.status == 201
    doc = reply.json
    assert doc["state"] == "pending"
    assert doc["download"] is None
    upload = doc["upload"]
    assert set(upload) == {"method", "url", "headers", "expires_at"}
    assert upload["method"] == "PUT"
    api.blobs.client_put(upload["url"], content, headers=upload["headers"])
    api.deliver()
    after = api("GET", f"/documents/{doc['document_id']}", key="reader")
    assert after.json["state"] == "active"
    assert after.headers["ETag"] == '"2"'


def test_presigned_post_when_no_sha256(api: Api) -> None:
    doc = api("POST", "/documents", json_body={"file_name": "f.bin", "size": 10}).json
    assert doc["upload"]["method"] == "POST"
    assert set(doc["upload"]) == {"method", "url", "fields", "expires_at"}
    assert doc["upload"]["fields"]["key"]


def test_multipart_upload_flow(api: Api) -> None:
    size = 150 * 1024 * 1024
    doc = api("POST", "/documents", json_body={"file_name": "huge.iso", "size": size}).json
    upload = doc["upload"]
    assert set(upload) == {"method", "part_size", "parts", "expires_at"}
    assert upload["method"] == "MULTIPART"
    assert upload["part_size"] == 16 * 1024 * 1024
    assert len(upload["parts"]) == 10
    doc_id = doc["document_id"]
    parts = api("POST", f"/documents/{doc_id}/uploads/parts", json_body={"part_numbers": [1, 10]})
    assert parts.status == 200
    assert [p["part_number"] for p in parts.json["parts"]] == [1, 10]
    assert parts.json["expires_at"]
    bad = api(
        "POST",
        f"/documents/{doc_id}/uploads/complete",
        json_body={"parts": [{"part_number": 1, "etag": '"nope"'}]},
    )
    _problem(bad, 400, "validation_failed")


def test_too_large_direct_upload_is_413_naming_the_presigned_flow(api: Api) -> None:
    content = base64.b64encode(b"x" * (4 * 1024 * 1024 + 1)).decode()
    reply = api("POST", "/documents", json_body={"file_name": "a", "content": content})
    body = _problem(reply, 413, "payload_too_large")
    assert "presigned" in body["detail"]


def test_bodies_over_the_lambda_event_limit_never_reach_a_handler(api: Api) -> None:
    # A 5 MiB form is binary: base64-encoded it is 6.7 MiB of event.
    form, content_type = encode_multipart_formdata(
        {"file": ("big.bin", b"x" * (5 * 1024 * 1024), "application/octet-stream")}
    )
    reply = api("POST", "/documents", body=form, headers={"Content-Type": content_type})
    _problem(reply, 413, "payload_too_large")
    reply = api(
        "POST",
        "/documents",
        body=b'{"file_name": "a", "content": "' + b"A" * (6_300_000) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    _problem(reply, 413, "payload_too_large")
    reply = api(
        "POST",
        "/documents",
        body=b"x" * (11 * 1000 * 1000),
        headers={"Content-Type": "application/json"},
    )
    _problem(reply, 413, "payload_too_large")


def test_unsupported_body_type_is_415(api: Api) -> None:
    reply = api(
        "POST",
        "/documents",
        body=b"file_name=a",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _problem(reply, 415, "unsupported_media_type")


def test_checksum_mismatch_on_direct_upload_is_422(api: Api) -> None:
    reply = api(
        "POST",
        "/documents",
        json_body={
            "file_name": "a",
            "content": base64.b64encode(b"abc").decode(),
            "sha256": "0" * 64,
        },
    )
    _problem(reply, 422, "validation_failed")


# ---- read -----------------------------------------------------------------------------------


def test_get_document_and_content(api: Api) -> None:
    doc = api.upload(b"content!", file_name='报告 "Q1".txt')
    doc_id = doc["document_id"]
    got = api("GET", f"/documents/{doc_id}", key="reader")
    assert got.status == 200
    assert got.headers["ETag"] == '"1"'
    assert got.json["download"]["expires_at"]
    redirect = api("GET", f"/documents/{doc_id}/content", key="reader")
    assert redirect.status == 302
    assert api.blobs.client_get(redirect.headers["Location"]) == b"content!"
    disposition = parse_qs(urlsplit(redirect.headers["Location"]).query)[
        "response-content-disposition"
    ][0]
    assert disposition.isascii()
    assert "\r" not in disposition
    assert "\n" not in disposition
    link = api("GET", f"/documents/{doc_id}/content", key="reader", query={"redirect": "false"})
    assert link.status == 200
    assert set(link.json) == {"url", "expires_at"}


@pytest.mark.parametrize("header", ['"1"', 'W/"1"', '"7", "1"', "*", ' W/"9" ,W/"1"'], ids=repr)
def test_if_none_match_with_the_current_etag_is_304(api: Api, header: str) -> None:
    doc_id = api.upload(b"cached")["document_id"]
    reply = api("GET", f"/documents/{doc_id}", key="reader", headers={"If-None-Match": header})
    assert reply.status == 304
    assert reply.headers["ETag"] == '"1"'
    assert reply.body == b""


def test_if_none_match_with_another_etag_is_the_document(api: Api) -> None:
    doc_id = api.upload(b"cached")["document_id"]
    api("PATCH", f"/documents/{doc_id}", json_body={"x": 1})  # now version 2
    for header in ('"1"', 'W/"1"', "garbage", ""):
        reply = api("GET", f"/documents/{doc_id}", key="reader", headers={"If-None-Match": header})
        assert reply.status == 200, header
        assert reply.headers["ETag"] == '"2"'
        assert set(reply.json) == DOC_FIELDS
    missing = api("GET", f"/documents/{MISSING}", key="reader", headers={"If-None-Match": "*"})
    _problem(missing, 404, "not_found")


def test_unknown_document_is_404(api: Api) -> None:
    for path in (f"/documents/{MISSING}", f"/documents/{MISSING}/content"):
        _problem(api("GET", path, key="reader"), 404, "not_found")


def test_content_while_pending_rejected_archived_and_restoring(api: Api) -> None:
    pending = api("POST", "/documents", json_body={"file_name": "p", "size": 3}).json
    _problem(api("GET", f"/documents/{pending['document_id']}/content"), 409, "upload_pending")
    key = content_key(ContentRef(DocumentId.parse(pending["document_id"]), 1))
    api.blobs.client_put(
        api.blobs._url(key, "PUT", api.clock.now() + timedelta(hours=1)), b"four", headers={}
    )
    api.deliver()
    _problem(api("GET", f"/documents/{pending['document_id']}/content"), 409, "upload_rejected")
    doc = api.upload()
    doc_id = doc["document_id"]
    assert api("POST", f"/documents/{doc_id}/archive").status == 200
    _problem(api("GET", f"/documents/{doc_id}/content"), 409, "document_archived")
    restore = api("POST", f"/documents/{doc_id}/restore", json_body={"days": 2})
    assert restore.status == 202
    reply = api("GET", f"/documents/{doc_id}/content")
    _problem(reply, 202, "restore_in_progress")
    assert reply.headers["Retry-After"] == "2"


def test_list_with_limit_cursor_and_state(api: Api) -> None:
    ids = []
    for _ in range(3):
        ids.append(api.upload()["document_id"])
        api.clock.advance(timedelta(milliseconds=3))
    first = api("GET", "/documents", key="reader", query={"limit": "2"})
    assert first.status == 200
    assert set(first.json) == {"items", "next_cursor"}
    assert [d["document_id"] for d in first.json["items"]] == ids[::-1][:2]
    second = api(
        "GET", "/documents", key="reader", query={"limit": "2", "cursor": first.json["next_cursor"]}
    )
    assert [d["document_id"] for d in second.json["items"]] == ids[:1]
    assert second.json["next_cursor"] is None
    archived = api("GET", "/documents", key="reader", query={"state": "archived"})
    assert archived.json["items"] == []


# ---- patch, replace, delete -----------------------------------------------------------------


def test_patch_merge_patch_and_conditional_requests(api: Api) -> None:
    doc = api.upload(metadata={"a": 1, "b": {"c": 2}})
    doc_id = doc["document_id"]
    reply = api(
        "PATCH",
        f"/documents/{doc_id}",
        body=json.dumps({"a": None, "b": {"d": 3}}).encode(),
        headers={"Content-Type": "application/merge-patch+json", "If-Match": '"1"'},
    )
    assert reply.status == 200, reply.body
    assert reply.json["metadata"] == {"b": {"c": 2, "d": 3}}
    assert reply.headers["ETag"] == '"2"'
    stale = api("PATCH", f"/documents/{doc_id}", json_body={"x": 1}, headers={"If-Match": '"1"'})
    body = _problem(stale, 412, "version_mismatch")
    assert body["detail"]
    assert stale.headers["ETag"] == '"2"'
    _problem(api("PATCH", f"/documents/{doc_id}", json_body=[1]), 400, "validation_failed")
    assert (
        api("PATCH", f"/documents/{doc_id}", json_body={"x": 1}, headers={"If-Match": "*"}).status
        == 200
    )


def test_replace_direct_and_presigned(api: Api) -> None:
    doc = api.upload(b"v1")
    doc_id = doc["document_id"]
    direct = api(
        "PUT",
        f"/documents/{doc_id}",
        json_body={"file_name": "v2.txt", "content": base64.b64encode(b"v2").decode()},
    )
    assert direct.status == 200, direct.body
    assert direct.json["file_name"] == "v2.txt"
    presigned = api(
        "PUT",
        f"/documents/{doc_id}",
        json_body={"file_name": "v3.txt", "size": 2},
        headers={"If-Match": direct.headers["ETag"]},
    )
    assert presigned.status == 202
    assert presigned.json["state"] == "active"
    assert presigned.json["upload"]["method"] == "POST"
    assert presigned.json["file_name"] == "v2.txt"
    _problem(
        api(
            "PUT",
            f"/documents/{doc_id}",
            json_body={"file_name": "x", "size": 1},
            headers={"If-Match": '"1"'},
        ),
        412,
        "version_mismatch",
    )


def test_replace_unless_active_is_409(api: Api) -> None:
    doc_id = api.upload()["document_id"]
    api("POST", f"/documents/{doc_id}/archive")
    _problem(
        api("PUT", f"/documents/{doc_id}", json_body={"file_name": "x", "size": 1}), 409, "conflict"
    )
    _problem(
        api("PUT", f"/documents/{MISSING}", json_body={"file_name": "x", "size": 1}),
        404,
        "not_found",
    )


def test_delete(api: Api) -> None:
    doc_id = api.upload()["document_id"]
    _problem(
        api("DELETE", f"/documents/{doc_id}", headers={"If-Match": '"7"'}), 412, "version_mismatch"
    )
    reply = api("DELETE", f"/documents/{doc_id}")
    assert reply.status == 204
    assert reply.body == b""
    _problem(api("GET", f"/documents/{doc_id}", key="reader"), 404, "not_found")
    _problem(api("DELETE", f"/documents/{doc_id}"), 404, "not_found")


# ---- archive and restore --------------------------------------------------------------------


def test_archive_and_restore_flow(api: Api) -> None:
    doc_id = api.upload()["document_id"]
    archived = api(
        "POST", f"/documents/{doc_id}/archive", json_body={"storage_class": "DEEP_ARCHIVE"}
    )
    assert archived.status == 200
    assert archived.json["state"] == "archived"
    assert archived.json["storage_class"] == "DEEP_ARCHIVE"
    _problem(api("POST", f"/documents/{doc_id}/archive"), 409, "conflict")
    _problem(
        api("POST", f"/documents/{doc_id}/restore", json_body={"tier": "Expedited"}),
        400,
        "validation_failed",
    )
    started = api("POST", f"/documents/{doc_id}/restore")
    assert started.status == 202
    assert started.headers["Location"] == f"/documents/{doc_id}"
    assert started.headers["Retry-After"] == "2"
    assert started.json["state"] == "restoring"
    assert started.json["restore"]["tier"] == "Standard"
    again = api("POST", f"/documents/{doc_id}/restore")
    assert again.status == 202
    assert again.json["version"] == started.json["version"]
    api.clock.advance(api.blobs.restore_delay)
    api.deliver()
    restored = api("GET", f"/documents/{doc_id}", key="reader").json
    assert restored["state"] == "restored"
    assert restored["download"] is not None
    extended = api("POST", f"/documents/{doc_id}/restore", json_body={"days": 5})
    assert extended.status == 200
    permanent = api("POST", f"/documents/{doc_id}/restore", json_body={"permanent": True})
    assert permanent.status == 200
    assert permanent.json["state"] == "active"
    assert permanent.json["storage_class"] == "STANDARD"


def test_restore_when_active_or_pending_is_409(api: Api) -> None:
    doc_id = api.upload()["document_id"]
    _problem(api("POST", f"/documents/{doc_id}/restore"), 409, "conflict")
    pending = api("POST", "/documents", json_body={"file_name": "p", "size": 3}).json
    _problem(api("POST", f"/documents/{pending['document_id']}/restore"), 409, "conflict")
    _problem(api("POST", f"/documents/{pending['document_id']}/archive"), 409, "conflict")


def test_zero_length_body_means_defaults(api: Api) -> None:
    doc_id = api.upload()["document_id"]
    reply = api(
        "POST",
        f"/documents/{doc_id}/archive",
        body=b"",
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 200
    assert reply.json["storage_class"] == "GLACIER"


def test_uploads_routes_need_a_pending_multipart(api: Api) -> None:
    doc_id = api.upload()["document_id"]
    _problem(
        api("POST", f"/documents/{doc_id}/uploads/parts", json_body={"part_numbers": [1]}),
        409,
        "conflict",
    )
    _problem(
        api(
            "POST",
            f"/documents/{doc_id}/uploads/complete",
            json_body={"parts": [{"part_number": 1, "etag": "x"}]},
        ),
        409,
        "conflict",
    )


# ---- idempotency ----------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_response(api: Api) -> None:
    body = {"file_name": "a.txt", "content": base64.b64encode(b"once").decode()}
    first = api("POST", "/documents", json_body=body, headers={"Idempotency-Key": "k-1"})
    second = api("POST", "/documents", json_body=body, headers={"Idempotency-Key": "k-1"})
    assert first.status == second.status == 201
    assert first.json == second.json
    assert second.headers["Location"] == first.headers["Location"]
    listed = api("GET", "/documents", key="reader").json["items"]
    assert len(listed) == 1
    other = api(
        "POST",
        "/documents",
        json_body={**body, "file_name": "b.txt"},
        headers={"Idempotency-Key": "k-1"},
    )
    _problem(other, 422, "idempotency_key_reused")
    by_other_user = api(
        "POST", "/documents", key="admin", json_body=body, headers={"Idempotency-Key": "k-1"}
    )
    assert by_other_user.status == 201
    assert by_other_user.json["document_id"] != first.json["document_id"]


def test_idempotency_replays_client_errors_too(api: Api) -> None:
    body = {"file_name": "", "size": 1}
    first = api("POST", "/documents", json_body=body, headers={"Idempotency-Key": "bad"})
    again = api("POST", "/documents", json_body=body, headers={"Idempotency-Key": "bad"})
    _problem(first, 400, "validation_failed")
    assert again.json == first.json


def test_idempotency_key_expires_after_a_day(api: Api) -> None:
    body = {"file_name": "a", "size": 5}
    first = api("POST", "/documents", json_body=body, headers={"Idempotency-Key": "day"})
    api.clock.advance(timedelta(hours=24, seconds=1))
    later = api("POST", "/documents", json_body=body, headers={"Idempotency-Key": "day"})
    assert later.json["document_id"] != first.json["document_id"]


# ---- users ----------------------------------------------------------------------------------


def test_user_management(api: Api) -> None:
    created = api("POST", "/users", key="admin", json_body={"name": "carol", "role": "reader"})
    assert created.status == 201
    user = created.json
    assert set(user) >= {"user_id", "name", "role", "disabled", "api_key"}
    assert created.headers["Location"] == f"/users/{user['user_id']}"
    assert api("GET", "/me", key=user["api_key"]).json["name"] == "carol"
    listed = api("GET", "/users", key="admin").json
    assert all("api_key" not in u and "key_hash" not in u for u in listed["items"])
    assert "api_key" not in api("GET", f"/users/{user['user_id']}", key="admin").json
    promoted = api("PATCH", f"/users/{user['user_id']}", key="admin", json_body={"role": "editor"})
    assert promoted.json["role"] == "editor"
    rotated = api("POST", f"/users/{user['user_id']}/keys", key="admin")
    assert rotated.status == 201
    _problem(api("GET", "/me", key=user["api_key"]), 401, "unauthorized")
    assert api("GET", "/me", key=rotated.json["api_key"]).status == 200
    disabled = api("PATCH", f"/users/{user['user_id']}", key="admin", json_body={"disabled": True})
    assert disabled.json["disabled"] is True
    _problem(api("GET", "/me", key=rotated.json["api_key"]), 401, "unauthorized")
    assert api("DELETE", f"/users/{user['user_id']}", key="admin").status == 204
    _problem(api("GET", f"/users/{user['user_id']}", key="admin"), 404, "not_found")
    _problem(api("POST", f"/users/{MISSING}/keys", key="admin"), 404, "not_found")


def _created(api: Api) -> dict[tuple[str, str], tuple[str, dict[str, object], str]]:
    """A request for every route answering 201, and the Location each must carry."""
    carol = api("POST", "/users", key="admin", json_body={"name": "carol", "role": "reader"}).json
    dave_body = {"name": "dave", "role": "reader"}
    content = {"file_name": "a.txt", "content": base64.b64encode(b"a").decode()}
    return {
        ("POST", "/documents"): ("/documents", content, "/documents/"),
        ("POST", "/users"): ("/users", dave_body, "/users/"),
        ("POST", "/users/{id}/keys"): (
            f"/users/{carol['user_id']}/keys",
            {},
            f"/users/{carol['user_id']}",
        ),
    }


def test_every_route_answering_201_sets_location(api: Api) -> None:
    created = _created(api)
    assert set(created) == {(r.method, r.path) for r in ROUTES if r.success == 201}
    for (method, _template), (path, body, location) in created.items():
        reply = api(method, path, key="admin", json_body=body)
        assert reply.status == 201, (path, reply.body)
        assert reply.headers["Location"].startswith(location), path
        if not location.endswith("/"):
            assert reply.headers["Location"] == location


def test_last_admin_is_protected(api: Api) -> None:
    me = api("GET", "/me", key="admin").json
    _problem(
        api("PATCH", f"/users/{me['user_id']}", key="admin", json_body={"disabled": True}),
        409,
        "conflict",
    )
    _problem(api("DELETE", f"/users/{me['user_id']}", key="admin"), 409, "conflict")


# ---- auth, CORS, routing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer nope",
        "Basic abc",
        "bearer kumo_unknown-key-0000000000000000",
    ],
)
def test_bad_credentials_are_401_problems(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    _problem(api("GET", "/documents", key=None, headers=headers), 401, "unauthorized")


def test_authorization_header_name_is_case_insensitive(api: Api) -> None:
    reply = api("GET", "/me", key=None, headers={"aUtHoRiZaTiOn": f"Bearer {api.keys['reader']}"})
    assert reply.status == 200


def test_cors_headers_only_for_allowed_origins(api: Api) -> None:
    allowed = api("GET", "/healthcheck", key=None, headers={"Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    other = api("GET", "/healthcheck", key=None, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = api(
        "OPTIONS",
        "/documents",
        key=None,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    denied = api("GET", "/documents", key=None, headers={"Origin": ORIGIN})
    assert denied.headers["Access-Control-Allow-Origin"] == ORIGIN  # errors carry CORS too


def test_unknown_route_and_method(api: Api) -> None:
    _problem(api("GET", "/nope", key=None), 404, "not_found")
    _problem(api("POST", "/me"), 405, "method_not_allowed")


def test_openapi_document_is_served(api: Api) -> None:
    reply = api("GET", "/docs", key=None)
    assert reply.status == 200
    assert reply.json["openapi"].startswith("3.1")
