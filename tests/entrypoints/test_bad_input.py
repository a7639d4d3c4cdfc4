"""Bad input on every route answers a 4xx problem with the §4 code — never a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.entrypoints.conftest import Api

JSON = {"Content-Type": "application/json"}
B64 = base64.b64encode(b"data").decode()


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


# (method, path, request kwargs, status, code)
CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    # ---- upload body framing
    ("POST", "/documents", {"body": b"null", "headers": JSON}, 400, "validation_failed"),
    ("POST", "/documents", {"body": b"", "headers": JSON}, 400, "validation_failed"),
    ("POST", "/documents", {"body": b"{not json", "headers": JSON}, 400, "validation_failed"),
    ("POST", "/documents", {"body": b"\xff\xfe", "headers": JSON}, 400, "validation_failed"),
    ("POST", "/documents", {"body": b"[1,2]", "headers": JSON}, 400, "validation_failed"),
    ("POST", "/documents", {"body": b'"text"', "headers": JSON}, 400, "validation_failed"),
    ("POST", "/documents", {"body": b"[" * 5000, "headers": JSON}, 400, "validation_failed"),
    (
        "POST",
        "/documents",
        {"body": b"file_name=x", "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported_media_type",
    ),
    # ---- upload fields
    ("POST", "/documents", {"json_body": {"size": 1}}, 400, "validation_failed"),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "extra": 1}},
        400,
        "validation_failed",
    ),
    ("POST", "/documents", {"json_body": {"file_name": 7, "size": 1}}, 400, "validation_failed"),
    ("POST", "/documents", {"json_body": {"file_name": None, "size": 1}}, 400, "validation_failed"),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": "1"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": True}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1.5}},
        400,
        "validation_failed",
    ),
    ("POST", "/documents", {"json_body": {"file_name": "a", "size": 0}}, 400, "validation_failed"),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 5 * 1024**4 + 1}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 10**30}},
        400,
        "validation_failed",
    ),
    ("POST", "/documents", {"json_body": {"file_name": "", "size": 1}}, 400, "validation_failed"),
    ("POST", "/documents", {"json_body": {"file_name": "..", "size": 1}}, 400, "validation_failed"),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "x" * 2000, "size": 1}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "é" * 200, "size": 1}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "content_type": "nope"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "content_type": "a/b\r\nX: y"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "sha256": "abc"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "content": "***not base64***"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "content": ""}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "metadata": []}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "metadata": "x"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "metadata": None}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "metadata": deep(17)}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1, "metadata": {"k": "x" * 70000}}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"body": b'{"file_name":"a","size":1,"metadata":{"n":NaN}}', "headers": JSON},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"body": b'{"file_name":"a","size":1,"metadata":{"n":1e999}}', "headers": JSON},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"body": b'{"file_name":"a","size":1,"metadata":{"n":1e-200}}', "headers": JSON},
        400,
        "validation_failed",
    ),
    # ---- multipart/form-data
    (
        "POST",
        "/documents",
        {"body": b"--b\r\n\r\n--b--", "headers": {"Content-Type": "multipart/form-data"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {"body": b"garbage", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n',
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--b--\r\n',
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n[1]\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nx\r\n'
            b"--b--\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%ff\r\n"
            b"\r\nx\r\n--b--\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nx--b--',
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b'--b\r\nContent-Disposition form-data; name="file"\r\n\r\nx\r\n--b--\r\n',
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b'--b\r\nContent-Disposition: form-data; name="file"; filename="\xff"\r\n'
            b"\r\nx\r\n--b--\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\neA==\r\n--b--\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents",
        {
            "body": b"--b--\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=" + "b" * 71},
        },
        400,
        "validation_failed",
    ),
    # ---- ids and queries
    ("GET", "/documents/not-a-ulid", {"key": "reader"}, 400, "validation_failed"),
    ("GET", "/documents/8ZZZZZZZZZZZZZZZZZZZZZZZZZ", {"key": "reader"}, 400, "validation_failed"),
    (
        "GET",
        "/documents/{doc}/content",
        {"key": "reader", "query": {"redirect": "maybe"}},
        400,
        "validation_failed",
    ),
    ("GET", "/documents", {"key": "reader", "query": {"limit": "0"}}, 400, "validation_failed"),
    ("GET", "/documents", {"key": "reader", "query": {"limit": "101"}}, 400, "validation_failed"),
    ("GET", "/documents", {"key": "reader", "query": {"limit": "ten"}}, 400, "validation_failed"),
    (
        "GET",
        "/documents",
        {"key": "reader", "query": {"limit": "9" * 40}},
        400,
        "validation_failed",
    ),
    ("GET", "/documents", {"key": "reader", "query": {"state": "gone"}}, 400, "validation_failed"),
    (
        "GET",
        "/documents",
        {"key": "reader", "query": {"cursor": "tampered"}},
        400,
        "validation_failed",
    ),
    (
        "GET",
        "/documents",
        {"key": "reader", "query": {"cursor": "x" * 300}},
        400,
        "validation_failed",
    ),
    (
        "GET",
        "/documents",
        {"key": "reader", "query": {"cursor": "eyJ2IjoxLCJhIjoiWCIsInMiOiJkb2N1bWVudHMifQ"}},
        400,
        "validation_failed",
    ),
    ("GET", "/users", {"key": "admin", "query": {"limit": "-3"}}, 400, "validation_failed"),
    ("GET", "/users/not-a-ulid", {"key": "admin"}, 400, "validation_failed"),
    # ---- patch
    ("PATCH", "/documents/{doc}", {"body": b"null", "headers": JSON}, 400, "validation_failed"),
    ("PATCH", "/documents/{doc}", {"body": b"", "headers": JSON}, 400, "validation_failed"),
    ("PATCH", "/documents/{doc}", {"json_body": [1]}, 400, "validation_failed"),
    ("PATCH", "/documents/{doc}", {"json_body": {"deep": deep(16)}}, 400, "validation_failed"),
    (
        "PATCH",
        "/documents/{doc}",
        {"json_body": {"k": 1}, "headers": {"If-Match": "banana"}},
        400,
        "validation_failed",
    ),
    (
        "PATCH",
        "/documents/{doc}",
        {"json_body": {"k": 1}, "headers": {"If-Match": 'W/"1"'}},
        412,
        "version_mismatch",
    ),
    (
        "PATCH",
        "/documents/{doc}",
        {"body": b"{}", "headers": {"Content-Type": "text/csv"}},
        415,
        "unsupported_media_type",
    ),
    # ---- replace
    ("PUT", "/documents/{doc}", {"body": b"null", "headers": JSON}, 400, "validation_failed"),
    ("PUT", "/documents/{doc}", {"json_body": {"size": 3}}, 400, "validation_failed"),
    (
        "PUT",
        "/documents/{doc}",
        {"json_body": {"file_name": "a", "content": "%%%"}},
        400,
        "validation_failed",
    ),
    # ---- archive and restore
    (
        "POST",
        "/documents/{doc}/archive",
        {"body": b"null", "headers": JSON},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{doc}/archive",
        {"json_body": {"storage_class": "STANDARD"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{doc}/archive",
        {"json_body": {"storage_class": "ICE"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{doc}/archive",
        {"json_body": {"storage": "GLACIER"}},
        400,
        "validation_failed",
    ),
    ("POST", "/documents/{archived}/restore", {"json_body": {"days": 0}}, 400, "validation_failed"),
    (
        "POST",
        "/documents/{archived}/restore",
        {"json_body": {"days": 366}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{archived}/restore",
        {"json_body": {"days": "3"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{archived}/restore",
        {"json_body": {"tier": "Fast"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{archived}/restore",
        {"json_body": {"permanent": "yes"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{archived}/restore",
        {"json_body": {"days": 1, "x": 1}},
        400,
        "validation_failed",
    ),
    # ---- multipart helpers
    ("POST", "/documents/{multipart}/uploads/parts", {"json_body": {}}, 400, "validation_failed"),
    (
        "POST",
        "/documents/{multipart}/uploads/parts",
        {"json_body": {"part_numbers": []}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{multipart}/uploads/parts",
        {"json_body": {"part_numbers": [0]}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{multipart}/uploads/parts",
        {"json_body": {"part_numbers": [999]}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{multipart}/uploads/parts",
        {"json_body": {"part_numbers": ["1"]}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{multipart}/uploads/complete",
        {"json_body": {"parts": [{}]}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{multipart}/uploads/complete",
        {
            "json_body": {
                "parts": [{"part_number": 2, "etag": "a"}, {"part_number": 1, "etag": "b"}]
            }
        },
        400,
        "validation_failed",
    ),
    # ---- users
    ("POST", "/users", {"key": "admin", "json_body": {"name": "x"}}, 400, "validation_failed"),
    (
        "POST",
        "/users",
        {"key": "admin", "json_body": {"name": "x", "role": "root"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/users",
        {"key": "admin", "json_body": {"name": "x" * 200, "role": "reader"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/users",
        {"key": "admin", "json_body": {"name": "a\nb", "role": "reader"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/users",
        {"key": "admin", "json_body": {"name": "x", "role": "reader", "api_key": "mine"}},
        400,
        "validation_failed",
    ),
    (
        "PATCH",
        "/users/{user}",
        {"key": "admin", "json_body": {"disabled": "no"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/users/{user}/keys",
        {"key": "admin", "json_body": {"key": "x"}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/users/{user}/keys",
        {"key": "admin", "body": b"null", "headers": JSON},
        400,
        "validation_failed",
    ),
    # ---- §11: revisions, history, legal holds, the trash
    ("GET", "/documents/{doc}/revisions/0/content", {}, 400, "validation_failed"),
    ("GET", "/documents/{doc}/revisions/x/content", {}, 400, "validation_failed"),
    ("GET", "/documents/{doc}/revisions/99/content", {}, 404, "not_found"),
    ("POST", "/documents/{doc}/revisions/99/restore", {"json_body": {}}, 404, "not_found"),
    ("POST", "/documents/{doc}/revisions/-1/restore", {"json_body": {}}, 400, "validation_failed"),
    (
        "POST",
        "/documents/{doc}/revisions/1/restore",
        {"json_body": {"to": 2}},
        400,
        "validation_failed",
    ),
    (
        "POST",
        "/documents/{doc}/revisions/1/restore",
        {"json_body": {}, "headers": {"If-Match": '"7"'}},
        412,
        "version_mismatch",
    ),
    ("GET", "/documents/{doc}/revisions", {"query": {"limit": "0"}}, 400, "validation_failed"),
    ("GET", "/documents/{doc}/revisions", {"query": {"cursor": "x"}}, 400, "validation_failed"),
    ("GET", "/documents/{doc}/revisions", {"query": {"sort": "up"}}, 400, "validation_failed"),
    ("GET", "/documents/{doc}/history", {"query": {"limit": "101"}}, 400, "validation_failed"),
    ("GET", "/documents/{doc}/history", {"query": {"cursor": "bogus"}}, 400, "validation_failed"),
    ("GET", "/documents/01J00000000000000000000000/history", {}, 404, "not_found"),
    ("GET", "/documents/not-an-id/history", {}, 400, "validation_failed"),
    (
        "PUT",
        "/documents/{doc}/legal-hold",
        {"key": "admin", "json_body": {"enabled": True}},
        400,
        "validation_failed",
    ),
    (
        "PUT",
        "/documents/{doc}/legal-hold",
        {"key": "admin", "json_body": {"enabled": True, "reason": ""}},
        400,
        "validation_failed",
    ),
    (
        "PUT",
        "/documents/{doc}/legal-hold",
        {"key": "admin", "json_body": {"enabled": "yes", "reason": "x"}},
        400,
        "validation_failed",
    ),
    (
        "PUT",
        "/documents/{doc}/legal-hold",
        {"key": "admin", "json_body": {"reason": "x"}},
        400,
        "validation_failed",
    ),
    (
        "PUT",
        "/documents/{doc}/legal-hold",
        {"key": "admin", "json_body": {"enabled": True, "reason": "x" * 1025}},
        400,
        "validation_failed",
    ),
    (
        "PUT",
        "/documents/01J00000000000000000000000/legal-hold",
        {"key": "admin", "json_body": {"enabled": False}},
        404,
        "not_found",
    ),
    ("DELETE", "/documents/{held}", {}, 409, "legal_hold"),
    (
        "PUT",
        "/documents/{held}",
        {"json_body": {"file_name": "b", "content": B64}},
        409,
        "legal_hold",
    ),
    ("POST", "/documents/{held}/revisions/1/restore", {"json_body": {}}, 409, "legal_hold"),
    ("DELETE", "/trash/{held_trashed}", {"key": "admin"}, 409, "legal_hold"),
    ("GET", "/documents/{trashed}", {}, 404, "not_found"),
    ("GET", "/documents/{trashed}/revisions", {}, 404, "not_found"),
    ("GET", "/documents/{trashed}/revisions/1/content", {}, 404, "not_found"),
    ("DELETE", "/documents/{trashed}", {}, 404, "not_found"),
    ("POST", "/trash/{doc}/restore", {"json_body": {}}, 404, "not_found"),
    ("DELETE", "/trash/{doc}", {"key": "admin"}, 404, "not_found"),
    ("POST", "/trash/not-an-id/restore", {"json_body": {}}, 400, "validation_failed"),
    ("POST", "/trash/{trashed}/restore", {"json_body": {"x": 1}}, 400, "validation_failed"),
    ("GET", "/trash", {"query": {"state": "active"}}, 400, "validation_failed"),
    ("GET", "/trash", {"query": {"limit": "many"}}, 400, "validation_failed"),
    ("GET", "/trash", {"query": {"cursor": "nope"}}, 400, "validation_failed"),
    # ---- idempotency keys
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "size": 1}, "headers": {"Idempotency-Key": "x" * 300}},
        400,
        "validation_failed",
    ),
    # ---- limits
    ("POST", "/limits", {"key": "reader", "json_body": {}}, 405, "method_not_allowed"),
    ("GET", "/limits", {"key": "not-a-known-key-000000000000"}, 401, "unauthorized"),
    # ---- direct content over the limit's base64 length
    (
        "POST",
        "/documents",
        {"json_body": {"file_name": "a", "content": "A" * (4 * 1024 * 1024 // 3 * 4 + 8)}},
        413,
        "payload_too_large",
    ),
]


def _path(api: Api, template: str) -> str:
    values: dict[str, str] = {}
    if "{doc}" in template:
        values["doc"] = api.upload()["document_id"]
    if "{archived}" in template:
        doc_id = api.upload()["document_id"]
        api("POST", f"/documents/{doc_id}/archive")
        values["archived"] = doc_id
    if "{multipart}" in template:
        values["multipart"] = api(
            "POST", "/documents", json_body={"file_name": "big", "size": 200 * 1024 * 1024}
        ).json["document_id"]
    if "{held}" in template or "{held_trashed}" in template:
        doc_id = api.upload()["document_id"]
        hold = {"enabled": True, "reason": "case 7"}
        if "{held_trashed}" in template:
            api("DELETE", f"/documents/{doc_id}")
            values["held_trashed"] = doc_id
        else:
            values["held"] = doc_id
        api("PUT", f"/documents/{doc_id}/legal-hold", key="admin", json_body=hold)
    if "{trashed}" in template:
        doc_id = api.upload()["document_id"]
        api("DELETE", f"/documents/{doc_id}")
        values["trashed"] = doc_id
    if "{user}" in template:
        values["user"] = api(
            "POST", "/users", key="admin", json_body={"name": "u", "role": "reader"}
        ).json["user_id"]
    return template.format(**values)


@pytest.mark.parametrize(
    ("method", "template", "request_kwargs", "status", "code"),
    CASES,
    ids=[f"{i}-{c[0]} {c[1]}" for i, c in enumerate(CASES)],
)
def test_bad_input_is_a_4xx_problem(
    api: Api, method: str, template: str, request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    path = _path(api, template)
    kwargs = dict(request_kwargs)
    reply = api(method, path, **kwargs)
    assert reply.status == status, reply.body
    assert reply.media_type == "application/problem+json"
    assert reply.json["code"] == code
    assert reply.json["status"] == status


def test_reused_idempotency_key_with_another_body_is_422(api: Api) -> None:
    headers = {"Idempotency-Key": "same"}
    api("POST", "/documents", json_body={"file_name": "a", "size": 1}, headers=headers)
    reply = api("POST", "/documents", json_body={"file_name": "b", "size": 1}, headers=headers)
    assert reply.status == 422
    assert reply.json["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "a\r\nSet-Cookie: x=1.txt",
        "报告 2026.pdf",
        'quo"te\\s.txt',
        "\x00null.bin",
    ],
)
def test_awkward_file_names_are_sanitised_not_refused(api: Api, name: str) -> None:
    doc = api.upload(file_name=name)
    assert "/" not in doc["file_name"]
    assert "\r" not in doc["file_name"]
    assert "\n" not in doc["file_name"]
    link = api("GET", f"/documents/{doc['document_id']}/content", key="reader")
    assert link.status == 302
    assert "\r" not in link.headers["Location"]
    assert "\n" not in link.headers["Location"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"0.1", 0.1),
        (b"1e-7", 1e-7),
        (b"12345678901234567890", 12345678901234567890),
        (b"1E+125", 10**125),
        (b"-0.5", -0.5),
        (b"3.14159265358979323846264338327950288", "3.14159265358979323846264338327950288"),
    ],
)
def test_numbers_round_trip_with_equal_value(api: Api, raw: bytes, expected: object) -> None:
    body = b'{"file_name":"n","size":1,"metadata":{"n":' + raw + b"}}"
    reply = api("POST", "/documents", body=body, headers=JSON)
    assert reply.status == 201, reply.body
    text = api("GET", f"/documents/{reply.json['document_id']}", key="reader").body.decode()
    number = text.split('"n":', 1)[1].split("}", 1)[0]
    from decimal import Decimal

    assert (
        Decimal(number) == Decimal(str(expected))
        if not isinstance(expected, float)
        else (float(number) == expected)
    )
