"""Unit-test fixtures: every use case runs against the in-memory adapters on a manual clock."""

from __future__ import annotations

import hashlib
import socket

import pytest

from adapters.memory import (
    InMemoryBlobStore,
    InMemoryDocumentRepository,
    ManualClock,
    RecordingEventBus,
    in_memory_ports,
)
from kumocms.commands import UploadDocument
from kumocms.errors import RetryLaterError
from kumocms.ids import UserId
from kumocms.ports import Ports
from kumocms.usecases.common import DocumentView
from kumocms.usecases.documents import upload_document
from kumocms.usecases.ingest import Outcome, StorageEvent, handle_storage_event
from kumocms.users import Principal, Role


class NetworkBlockedError(RuntimeError):
    """A unit test tried to open a network connection."""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests run on the fakes: any socket connection or lookup is a bug in the test."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise NetworkBlockedError("unit tests may not use the network")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


class World:
    """The in-memory ports plus typed handles on the fakes and a few test verbs."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        assert isinstance(ports.blobs, InMemoryBlobStore)
        assert isinstance(ports.documents, InMemoryDocumentRepository)
        assert isinstance(ports.events, RecordingEventBus)
        assert isinstance(ports.clock, ManualClock)
        self.blobs = ports.blobs
        self.repo = ports.documents
        self.bus = ports.events
        self.clock = ports.clock
        self.retry: list[StorageEvent] = []
        self.editor = Principal(
            user_id=UserId.parse("01J0000000000000000000ED17"), name="ed", role=Role.EDITOR
        )
        self.reader = Principal(
            user_id=UserId.parse("01J0000000000000000000READ"), name="rd", role=Role.READER
        )
        self.admin = Principal(
            user_id=UserId.parse("01J00000000000000000000ADM"), name="ad", role=Role.ADMIN
        )

    def deliver(self) -> list[Outcome]:
        """Hand storage notifications to the ingest use case in order, like the queue would.

        An event the ingest asks to see again later stays queued for the next delivery.
        """
        events, self.retry = [*self.retry, *self.blobs.notifications()], []
        outcomes = []
        for event in events:
            try:
                outcomes.append(handle_storage_event(self.ports, event))
            except RetryLaterError:
                self.retry.append(event)
        return outcomes

    def upload_direct(self, content: bytes = b"hello", **fields: object) -> DocumentView:
        command = UploadDocument(
            file_name=str(fields.pop("file_name", "a.txt")),
            content_type="text/plain",
            content=content,
            **fields,
        )  # type: ignore[arg-type]
        view = upload_document(self.ports, self.editor, command)
        self.deliver()
        return view

    def upload_presigned(
        self, content: bytes = b"x" * 1000, *, declare_sha: bool = True, **fields: object
    ) -> DocumentView:
        sha = hashlib.sha256(content).hexdigest() if declare_sha else None
        command = UploadDocument(
            file_name=str(fields.pop("file_name", "big.bin")),
            content_type="application/octet-stream",
            size=int(fields.pop("size", len(content))),  # type: ignore[call-overload]
            sha256=fields.pop("sha256", sha),  # type: ignore[arg-type]
            **fields,  # type: ignore[arg-type]
        )
        return upload_document(self.ports, self.editor, command)


@pytest.fixture
def world() -> World:
    return World(in_memory_ports())
