"""Regressions for what `nox -s fuzz` (schemathesis) found."""

from __future__ import annotations

from entrypoints.http.openapi import IF_MATCH_PATTERN, openapi_document
from tests.entrypoints.conftest import Api


def test_undeclared_methods_are_405_with_allow(api: Api) -> None:
    reply = api("TRACE", "/users/01ARZ3NDEKTSV4RRFFQ69G5FAV", key="admin")
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, PATCH, DELETE"
    assert reply.json["code"] == "method_not_allowed"


def test_an_empty_if_match_means_no_precondition(api: Api) -> None:
    doc = api.upload()
    reply = api(
        "PATCH", f"/documents/{doc['document_id']}", json_body={"a": 1}, headers={"If-Match": ""}
    )
    assert reply.status == 200


def test_integral_json_numbers_are_integers(api: Api) -> None:
    reply = api("POST", "/documents", json_body={"file_name": "a", "size": 10.0})
    assert reply.status == 201, reply.body
    assert reply.json["size"] == 10


def test_documented_if_match_pattern_matches_what_is_accepted() -> None:
    import re

    for ok in ('"3"', "3", "*", 'W/"3"', ""):
        assert re.match(IF_MATCH_PATTERN, ok)
    for bad in ("three", "3.5", '"-1"'):
        assert not re.match(IF_MATCH_PATTERN, bad)


def test_created_documents_link_to_their_operations() -> None:
    links = openapi_document()["paths"]["/documents"]["post"]["responses"]["201"]["links"]
    assert links["GetDocument"]["parameters"] == {"id": "$response.body#/document_id"}


def test_a_patch_may_not_name_an_empty_key_even_to_remove_it(api: Api) -> None:
    doc = api.upload()
    for patch in ({"": None}, {"a": {"": None}}, {"": 1}):
        reply = api("PATCH", f"/documents/{doc['document_id']}", json_body=patch)
        assert reply.status == 400, (patch, reply.body)
        assert reply.json["code"] == "validation_failed"


def test_form_metadata_must_be_a_json_object_part(api: Api) -> None:
    for metadata in (b"5", b'"text"', b"abc"):
        body = (
            b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            + metadata
            + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n1\r\n'
            b"--b--\r\n"
        )
        reply = api(
            "POST",
            "/documents",
            body=body,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert reply.status == 400, (metadata, reply.body)
    schema = openapi_document()["paths"]["/documents"]["post"]["requestBody"]["content"]
    form = schema["multipart/form-data"]
    assert form["schema"]["properties"]["metadata"]["type"] == "object"
    assert form["encoding"] == {"metadata": {"contentType": "application/json"}}


def test_a_part_etag_with_control_characters_is_a_400_not_a_503(api: Api) -> None:
    # schemathesis (seed 20261128, stateful) sent "\u0005\u008e…" as an ETag; S3 refused the
    # request and the API answered 503.
    started = api(
        "POST",
        "/documents",
        json_body={"file_name": "big.bin", "size": 200 * 1024 * 1024},
    )
    assert started.status == 201, started.body
    doc = started.json["document_id"]
    reply = api(
        "POST",
        f"/documents/{doc}/uploads/complete",
        json_body={"parts": [{"etag": "\u0005\u008e\U0007e60d\u00bf", "part_number": 1}]},
    )
    assert reply.status == 400, reply.body
    assert reply.json["code"] == "validation_failed"
