"""HTTP-level fixtures: the real handlers behind the in-process gateway, on in-memory ports."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import attrs
import pytest

from adapters.memory import InMemoryBlobStore, ManualClock, in_memory_ports
from entrypoints.bootstrap import Runtime, fixed
from entrypoints.functions.authorizer import make_authorizer
from entrypoints.http.api import make_http_handler
from entrypoints.http.routes import FUNCTIONS
from entrypoints.local.gateway import Gateway
from entrypoints.settings import EnvSettings
from kumocms.ports import Ports
from kumocms.settings import Settings
from kumocms.usecases.ingest import handle_storage_event
from kumocms.usecases.users import bootstrap_admin, create_user
from kumocms.users import Role

ADMIN_KEY = "kumo_admin-key-for-the-http-tests-000000"
ORIGIN = "https://app.example"


@attrs.frozen
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def media_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]


class Api:
    """An HTTP client of the gateway that records every response for leak scanning."""

    def __init__(self, gateway: Gateway, ports: Ports, settings: EnvSettings) -> None:
        self.gateway = gateway
        self.ports = ports
        self.settings = settings
        self.replies: list[Reply] = []
        self.keys: dict[str, str] = {"admin": ADMIN_KEY}

    def __call__(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "editor",
        json_body: object = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        sent_headers = dict(headers or {})
        if key is not None:
            sent_headers.setdefault("Authorization", f"Bearer {self.keys.get(key, key)}")
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        response = self.gateway.handle(
            method,
            path,
            query=list((query or {}).items()),
            headers=list(sent_headers.items()),
            body=body or b"",
        )
        reply = Reply(response.status, response.headers, response.body)
        self.replies.append(reply)
        return reply

    # -- conveniences -----------------------------------------------------------------------

    @property
    def blobs(self) -> InMemoryBlobStore:
        assert isinstance(self.ports.blobs, InMemoryBlobStore)
        return self.ports.blobs

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.ports.clock, ManualClock)
        return self.ports.clock

    def deliver(self) -> None:
        for event in self.blobs.notifications():
            handle_storage_event(self.ports, event)

    def upload(self, content: bytes = b"hello world", **fields: Any) -> dict[str, Any]:
        body = {
            "file_name": "hello.txt",
            "content_type": "text/plain",
            "content": base64.b64encode(content).decode(),
            **fields,
        }
        reply = self("POST", "/documents", json_body=body)
        assert reply.status == 201, reply.body
        self.deliver()
        return reply.json


FORBIDDEN_IN_RESPONSES = (
    "Traceback",
    'File "',
    "Error(",
    "botocore",
    "boto3",
    "ClientError",
    "kumocms-test",
    "kumocms-documents",
    "kumocms-users",
    "arn:aws",
    "sqs.",
    ".py",
    "line ",
)


def _scrub(value: Any) -> Any:
    """A response body without the parts that may name the bucket: presigned URLs and forms."""
    if isinstance(value, dict):
        return {
            k: _scrub(v)
            for k, v in value.items()
            if k not in ("url", "download", "upload", "parts", "fields", "api_key")
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def scan_for_leaks(api: Api) -> None:
    """No response carries exception text, tracebacks, AWS resource names or raw keys."""
    raw_keys = list(api.keys.values())
    for reply in api.replies:
        try:
            text = json.dumps(_scrub(json.loads(reply.body))) if reply.body else ""
        except ValueError:
            text = reply.body.decode("utf-8", "replace")
        headers = {k: v for k, v in reply.headers.items() if k != "Location"}
        for forbidden in FORBIDDEN_IN_RESPONSES:
            assert forbidden not in text, (forbidden, text[:300])
            assert forbidden not in json.dumps(headers), (forbidden, headers)
        for key in raw_keys:
            assert key not in text


@pytest.fixture
def api() -> Iterator[Api]:
    client = build_api(Settings(restore_poll_interval=timedelta(seconds=2)))
    yield client
    scan_for_leaks(client)


def build_api(domain: Settings) -> Api:
    """The real handlers behind the gateway on in-memory ports with these settings."""
    clock = ManualClock()
    ports = in_memory_ports(clock=clock, settings=domain)
    settings = EnvSettings(
        region="eu-west-1",
        bucket="kumocms-test",
        documents_table="kumocms-documents",
        users_table="kumocms-users",
        event_bus="kumocms",
        cors_allowed_origins=(ORIGIN,),
        domain=ports.settings,
    )
    runtime = Runtime(settings=settings, ports=ports)
    handlers = {name: make_http_handler(name, fixed(runtime)) for name in FUNCTIONS}
    gateway = Gateway(
        handlers,
        make_authorizer(fixed(runtime)),
        region="eu-west-1",
        cache_ttl_seconds=0,
        cors_allowed_origins=(ORIGIN,),
    )
    client = Api(gateway, ports, settings)
    bootstrap_admin(ports, name="admin", api_key=ADMIN_KEY)
    admin = next(iter(ports.users.list(limit=1, cursor=None).items)).principal()
    for role in (Role.EDITOR, Role.READER):
        issued = create_user(ports, admin, name=role.value, role=role)
        client.keys[role.value] = issued.api_key
    return client
