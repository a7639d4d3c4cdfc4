"""Upload limits that hold on API Gateway (§9): binary media types, the event envelope, /limits."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from urllib3.filepost import encode_multipart_formdata

from entrypoints.http import envelope
from entrypoints.http.apigw import parse_event
from entrypoints.http.openapi import openapi_document
from entrypoints.http.routes import BINARY_MEDIA_TYPES, ROUTES, is_binary
from entrypoints.local.gateway import Gateway
from entrypoints.settings import ConfigurationError, EnvSettings
from kumocms.rules import MAX_SIZE
from kumocms.settings import Settings
from tests.entrypoints.conftest import Api, build_api, scan_for_leaks

MiB = 1024**2
ENV = {"AWS_REGION": "eu-west-1"}
EMOJI = "\N{GRINNING FACE}"


# ---- the arithmetic -------------------------------------------------------------------------


def test_the_largest_limit_fills_the_event_with_its_base64_and_the_allowance() -> None:
    largest = envelope.MAX_DIRECT_UPLOAD_LIMIT
    assert largest == 4_325_376
    assert envelope.ENVELOPE_ALLOWANCE == 512 * 1024
    assert envelope.ENVELOPE_HEADROOM > 0
    assert envelope.base64_length(largest) + envelope.ENVELOPE_ALLOWANCE <= 6_291_456
    assert envelope.base64_length(largest + 3) + envelope.ENVELOPE_ALLOWANCE > 6_291_456


def test_the_default_limit_fits_and_a_larger_setting_fails_at_start_naming_it() -> None:
    assert Settings().direct_upload_limit == 4 * MiB <= envelope.MAX_DIRECT_UPLOAD_LIMIT
    fits = EnvSettings.from_environ({**ENV, "DIRECT_UPLOAD_LIMIT": "4325376"})
    assert fits.domain.direct_upload_limit == envelope.MAX_DIRECT_UPLOAD_LIMIT
    with pytest.raises(ConfigurationError, match=r"DIRECT_UPLOAD_LIMIT must be at most 4325376"):
        EnvSettings.from_environ({**ENV, "DIRECT_UPLOAD_LIMIT": "4325377"})


@pytest.mark.parametrize(
    ("content_type", "binary"),
    [
        ("multipart/form-data; boundary=x", True),
        ("Multipart/Form-Data", True),
        ("application/json", False),
        ("application/merge-patch+json", False),
        ("application/octet-stream", False),
        ("", False),
    ],
)
def test_only_the_route_tables_raw_media_types_are_binary(content_type: str, binary: bool) -> None:
    assert BINARY_MEDIA_TYPES == ("multipart/form-data",)
    assert is_binary(content_type) is binary


# ---- what the gateway hands the function ----------------------------------------------------


def _recording_gateway(events: list[Mapping[str, Any]]) -> Gateway:
    def record(event: Mapping[str, Any], _context: object) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 204, "headers": {}, "body": ""}

    def allow_all(event: Mapping[str, Any], _context: object) -> dict[str, Any]:
        statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ["*"]}
        return {
            "policyDocument": {"Statement": [statement]},
            "context": {"user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "role": "editor"},
        }

    handlers = {route.function: record for route in ROUTES}
    return Gateway(handlers, allow_all, region="eu-west-1", cache_ttl_seconds=0)


def test_json_arrives_as_text_and_forms_base64_and_parse_event_reads_both() -> None:
    events: list[Mapping[str, Any]] = []
    gateway = _recording_gateway(events)
    json_body = json.dumps({"file_name": "a", "content": "aGk="}).encode()
    form, form_type = encode_multipart_formdata({"file": ("a.bin", b"\x00\xff", "x/y")})
    for content_type, body in (("application/json", json_body), (form_type, form)):
        gateway.handle(
            "POST",
            "/documents",
            headers=[("Authorization", "Bearer k"), ("Content-Type", content_type)],
            body=body,
        )
    as_text, as_form = events
    assert as_text["isBase64Encoded"] is False
    assert as_text["body"] == json_body.decode()
    assert as_form["isBase64Encoded"] is True
    assert base64.b64decode(as_form["body"]) == form
    assert parse_event(as_text).body == json_body
    assert parse_event(as_form).body == form


# ---- the limit holds for both body forms ----------------------------------------------------


@pytest.fixture
def largest() -> Iterator[Api]:
    """The API with the largest direct-upload limit the event allows."""
    client = build_api(Settings(direct_upload_limit=envelope.MAX_DIRECT_UPLOAD_LIMIT))
    yield client
    scan_for_leaks(client)


def _worst_metadata() -> dict[str, str]:
    """64 KiB as stored (compact UTF-8), 12 bytes per 4 as json.dumps sends it."""
    return {"k": EMOJI * ((64 * 1024 - len('{"k":""}')) // 4)}


def _padding_headers() -> dict[str, str]:
    """Header values near API Gateway's 10,240 bytes, each `"` escaped twice in the event."""
    return {"X-Padding": '"' * 9_000}


def test_a_json_upload_at_the_largest_limit_with_the_worst_envelope_fits(largest: Api) -> None:
    content = b"\xfb" * envelope.MAX_DIRECT_UPLOAD_LIMIT
    body = {
        "file_name": EMOJI * 63,
        "content_type": "application/octet-stream",
        "metadata": _worst_metadata(),
        "content": base64.b64encode(content).decode(),
    }
    reply = largest("POST", "/documents", json_body=body, headers=_padding_headers())
    assert reply.status == 201, reply.body
    assert reply.json["size"] == envelope.MAX_DIRECT_UPLOAD_LIMIT


def test_a_form_upload_at_the_largest_limit_with_the_worst_envelope_fits(largest: Api) -> None:
    content = b"\xfb" * envelope.MAX_DIRECT_UPLOAD_LIMIT
    form, content_type = encode_multipart_formdata(
        {
            "file": (EMOJI * 63, content, "application/octet-stream"),
            "metadata": (None, json.dumps(_worst_metadata()), "application/json"),
        }
    )
    headers = {"Content-Type": content_type, **_padding_headers()}
    reply = largest("POST", "/documents", body=form, headers=headers)
    assert reply.status == 201, reply.body
    assert reply.json["size"] == envelope.MAX_DIRECT_UPLOAD_LIMIT


def test_the_longest_file_name_still_reaches_the_handler(largest: Api) -> None:
    body = {
        "file_name": EMOJI * 1024,
        "metadata": _worst_metadata(),
        "content": base64.b64encode(b"\xfb" * envelope.MAX_DIRECT_UPLOAD_LIMIT).decode(),
    }
    reply = largest("POST", "/documents", json_body=body, headers=_padding_headers())
    assert reply.status == 400, reply.body  # the handler's verdict on the name, not a 413
    assert reply.json["field"] == "file_name"


# ---- the OpenAPI document and the JSON validation state it ----------------------------------


def _content_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    body = document["paths"][path][method]["requestBody"]["content"]
    schema: dict[str, Any] = body["application/json"]["schema"]["properties"]["content"]
    return schema


def test_openapi_states_the_direct_limit_as_the_max_length_of_content(api: Api) -> None:
    served = api("GET", "/docs", key=None).json
    for path, method in (("/documents", "post"), ("/documents/{id}", "put")):
        assert _content_schema(served, path, method)["maxLength"] == 5_592_408  # 4 MiB
        assert "multipart/form-data" in served["paths"][path][method]["requestBody"]["content"]
    smaller = openapi_document(direct_upload_limit=1000)
    assert _content_schema(smaller, "/documents", "post")["maxLength"] == 1336


def test_content_longer_than_the_max_length_is_413_naming_the_limit_and_the_presigned_flow(
    api: Api,
) -> None:
    too_long = "A" * (envelope.base64_length(4 * MiB) + 4)
    reply = api("POST", "/documents", json_body={"file_name": "a", "content": too_long})
    assert reply.status == 413, reply.body
    problem = reply.json
    assert problem["code"] == "payload_too_large"
    assert problem["limit"] == 4 * MiB
    assert "presigned" in problem["detail"]
    assert "5592408 base64 characters" in problem["detail"]


# ---- GET /limits ----------------------------------------------------------------------------


def test_limits_reports_the_servers_settings(api: Api) -> None:
    reply = api("GET", "/limits", key="reader")
    assert reply.status == 200
    settings = api.ports.settings
    assert reply.json == {
        "direct_upload_max_bytes": settings.direct_upload_limit,
        "multipart_threshold_bytes": settings.multipart_threshold,
        "part_size_bytes": settings.part_size,
        "max_size_bytes": MAX_SIZE,
        "presign_ttl_seconds": int(settings.presign_ttl.total_seconds()),
        "sync_copy_limit_bytes": settings.sync_copy_limit,
    }
    assert reply.json["presign_ttl_seconds"] == timedelta(hours=1).total_seconds()
    schema = api("GET", "/docs", key=None).json["components"]["schemas"]["Limits"]
    assert set(schema["required"]) == set(reply.json)
