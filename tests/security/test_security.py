"""Security properties: keys never stored or logged raw, constant-time checks, revocation within
the authorizer cache TTL, bounded presigned URLs, and file names that cannot break headers."""

from __future__ import annotations

import base64
import inspect
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from entrypoints import observability
from entrypoints.bootstrap import build_runtime, fixed
from entrypoints.functions.authorizer import make_authorizer
from entrypoints.http.api import make_http_handler
from entrypoints.http.routes import FUNCTIONS as HTTP_FUNCTIONS
from entrypoints.local.gateway import Gateway
from entrypoints.local.provision import provision
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import EnvSettings
from kumocms.usecases import users as user_usecases
from kumocms.usecases.users import bootstrap_admin

REGION = "eu-west-1"
ADMIN = "kumo_security-admin-key-000000000000000"
HOSTILE_NAMES = [
    "a\r\nSet-Cookie: stolen=1.txt",
    'quote"and\\backslash.pdf',
    "报告 2026年.docx",
    "emoji 😀 file.png",
    "semi;colon=equals,comma.txt",
    "%0d%0aHeader: injected.txt",
    "\u2028line\u2029separators.txt",
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Stack:
    def __init__(self, logs: io.StringIO) -> None:
        session = boto3.Session(region_name=REGION)
        self.resources = provision(session)
        env = self.resources.environment()
        self.runtimes = {
            name: build_runtime(EnvSettings.from_environ(env), function.needs, session)
            for name, function in FUNCTIONS.items()
        }
        handlers = {n: make_http_handler(n, fixed(self.runtimes[n])) for n in HTTP_FUNCTIONS}
        self.clock = Clock()
        self.ttl = 300.0
        self.gateway = Gateway(
            handlers,
            make_authorizer(fixed(self.runtimes["authorizer"])),
            region=REGION,
            cache_ttl_seconds=self.ttl,
            clock=self.clock,
        )
        bootstrap_admin(self.runtimes["users"].ports, name="admin", api_key=ADMIN)
        self.session = session
        self.logs = logs
        self.headers_seen: list[dict[str, str]] = []
        self.issued_keys = [ADMIN]

    def call(self, method: str, path: str, body: Any = None, key: str = ADMIN) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        response = self.gateway.handle(
            method,
            path,
            body=data,
            headers=[("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")],
        )
        self.headers_seen.append(dict(response.headers))
        payload = json.loads(response.body) if response.body else None
        if isinstance(payload, dict) and "api_key" in payload:
            self.issued_keys.append(payload["api_key"])
        return response.status, payload


@pytest.fixture
def stack() -> Iterator[Stack]:
    logs = io.StringIO()
    observability.configure_logging("INFO")
    observability.redirect(logs)
    try:
        with mock_aws():
            yield Stack(logs)
    finally:
        observability.redirect(None)


def _all_items(stack: Stack) -> list[dict[str, Any]]:
    dynamodb = stack.session.client("dynamodb")
    items = []
    for table in (stack.resources.documents_table, stack.resources.users_table):
        items.extend(dynamodb.scan(TableName=table)["Items"])
    return items


def test_raw_keys_are_never_stored_or_logged(stack: Stack) -> None:
    status, user = stack.call("POST", "/users", {"name": "carol", "role": "editor"})
    assert status == 201
    status, _rotated = stack.call("POST", f"/users/{user['user_id']}/keys")
    assert status == 201
    for key in stack.issued_keys:
        stack.call("GET", "/me", key=key)
        stack.call("GET", "/me", key=key + "x")  # unknown keys are logged as failures, not text
    stored = json.dumps(_all_items(stack))
    logged = stack.logs.getvalue()
    assert '"event": "authorized"' in logged  # the logs really were captured
    for key in stack.issued_keys:
        assert key not in stored
        assert key not in logged
        assert key[:12] not in logged  # not even a prefix beyond "kumo_"


def test_key_comparison_is_constant_time_and_failures_look_alike() -> None:
    source = inspect.getsource(user_usecases.authenticate)
    assert "hmac.compare_digest" in source
    assert "==" not in source.split('"""')[-1].replace("!=", "")


def test_revocation_takes_effect_within_the_authorizer_cache_ttl(stack: Stack) -> None:
    status, user = stack.call("POST", "/users", {"name": "dave", "role": "reader"})
    key = user["api_key"]
    assert stack.call("GET", "/me", key=key)[0] == 200  # now cached
    stack.call("PATCH", f"/users/{user['user_id']}", {"disabled": True})
    assert stack.call("GET", "/me", key=key)[0] == 200  # the cache may still say yes ...
    stack.clock.now += stack.ttl
    assert stack.call("GET", "/me", key=key)[0] == 401  # ... but never past its TTL
    _status, other = stack.call("POST", "/users", {"name": "erin", "role": "reader"})
    assert stack.call("GET", "/me", key=other["api_key"])[0] == 200
    stack.call("POST", f"/users/{other['user_id']}/keys")
    stack.clock.now += stack.ttl
    assert stack.call("GET", "/me", key=other["api_key"])[0] == 401


def test_presigned_urls_live_no_longer_than_the_setting(stack: Stack) -> None:
    ttl = stack.runtimes["documents_write"].settings.domain.presign_ttl.total_seconds()
    status, doc = stack.call("POST", "/documents", {"file_name": "a", "size": 200 * 1024**2})
    urls = [part["url"] for part in doc["upload"]["parts"]]
    status, small = stack.call(
        "POST", "/documents", {"file_name": "b", "size": 10, "sha256": "0" * 64}
    )
    urls.append(small["upload"]["url"])
    _status, direct = stack.call("POST", "/documents", {"file_name": "c", "content": "YWJj"})
    urls.append(direct["download"]["url"])
    for url in urls:
        expires = int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])
        assert 0 < expires <= ttl


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_file_names_cannot_split_or_break_headers(stack: Stack, name: str) -> None:
    status, doc = stack.call(
        "POST", "/documents", {"file_name": name, "content": base64.b64encode(b"x").decode()}
    )
    assert status == 201, doc
    status, _link = stack.call("GET", f"/documents/{doc['document_id']}/content")
    assert status == 302
    location = stack.headers_seen[-1]["Location"]
    disposition = parse_qs(urlsplit(location).query)["response-content-disposition"][0]
    assert disposition.isascii()
    assert disposition.isprintable()
    assert disposition.count('"') == 2  # only the fallback's own quotes
    assert disposition.startswith('attachment; filename="')
    assert "filename*=UTF-8''" in disposition
    for headers in stack.headers_seen:
        for header, value in headers.items():
            assert "\r" not in value
            assert "\n" not in value, (header, value)
            assert value.isascii(), (header, value)
