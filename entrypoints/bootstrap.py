"""Entrypoints layer: the composition root — AWS clients and adapters, built once per container.

Nothing is created at import. `Wiring.get_ports()` builds the ports a function needs on its
first call (or before a SnapStart snapshot) and returns the same ports for every later
invocation of that execution environment; ports a function does not need are left unwired so
it creates no client it would never use.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from entrypoints.coldstart import collection_paused
from entrypoints.settings import EnvSettings
from kumocms.ports import (
    BlobStore,
    DocumentRepository,
    EventBus,
    IdempotencyStore,
    MessageQueue,
    Ports,
    UserRepository,
)

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient


class Unwired:
    """Stands in for a port a function does not use; touching it is a programming error."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise RuntimeError(f"the {self._name} port is not wired in this function")


def unwired(name: str) -> Any:
    """A stand-in for the port called `name`, typed as whichever port it replaces."""
    return Unwired(name)


@attrs.frozen(kw_only=True)
class Needs:
    """Which ports (and so which AWS clients) a function uses."""

    blobs: bool = False
    documents: bool = False
    users: bool = False
    events: bool = False
    idempotency: bool = False
    queues: bool = False
    """The ingest dead-letter and parking queues."""
    transfers: bool = False
    """The transfer worker's queue (functions that start or hand over large copies)."""
    copy_dead_letters: bool = False
    """The transfer worker's dead-letter queue (reconcile rolls back the copies found there)."""

    def required_settings(self) -> tuple[str, ...]:
        """The settings these ports cannot be built without."""
        names = []
        if self.blobs:
            names.append("bucket")
        if self.documents or self.idempotency:
            names.append("documents_table")
        if self.documents:
            names.append("history_table")
        if self.users:
            names.append("users_table")
        if self.events:
            names.append("event_bus")
        if self.queues:
            names.extend(("ingest_dlq_url", "parking_queue_url"))
        if self.transfers:
            names.append("transfer_queue_url")
        if self.copy_dead_letters:
            names.append("transfer_dlq_url")
        return tuple(names)


@attrs.frozen(kw_only=True)
class Runtime:
    """What a function's handlers get: settings, ports and (for queue work) the queues."""

    settings: EnvSettings
    ports: Ports
    dead_letters: MessageQueue = attrs.field(factory=lambda: unwired("dead-letter queue"))
    parking: MessageQueue = attrs.field(factory=lambda: unwired("parking queue"))


def build_runtime(settings: EnvSettings, needs: Needs, session: boto3.Session) -> Runtime:
    """Create the AWS clients `needs` calls for and the adapters around them."""
    from adapters.aws import client_config  # noqa: PLC0415 - keeps boto3 out of import time
    from adapters.system import RandomIds, SystemClock  # noqa: PLC0415

    clock = SystemClock()
    endpoint = settings.endpoint_url
    config = client_config(path_style=endpoint is not None)

    @functools.cache
    def dynamodb() -> DynamoDBClient:  # one client, made only if a port needs it
        return session.client("dynamodb", config=config, endpoint_url=endpoint)

    blobs: BlobStore = unwired("blob store")
    documents: DocumentRepository = unwired("document repository")
    users: UserRepository = unwired("user repository")
    events: EventBus = unwired("event bus")
    idempotency: IdempotencyStore = unwired("idempotency store")
    if needs.blobs:
        from adapters.s3 import S3BlobStore  # noqa: PLC0415

        s3_config = client_config(s3=True, path_style=endpoint is not None)
        blobs = S3BlobStore(
            session.client("s3", config=s3_config, endpoint_url=endpoint),
            settings.require("bucket"),
            clock=clock,
            credentials_expiry=_credentials_expiry(session),
        )
    if needs.documents:
        from adapters.dynamodb import DynamoDocumentRepository  # noqa: PLC0415
        from kumocms.model import RevisionPolicy  # noqa: PLC0415

        documents = DynamoDocumentRepository(
            dynamodb(),
            settings.require("documents_table"),
            shards=settings.list_shards,
            indexed_fields=settings.domain.indexed_fields,
            history_table=settings.history_table,
            retention=RevisionPolicy.of(settings.domain),
        )
    if needs.users:
        from adapters.dynamodb import DynamoUserRepository  # noqa: PLC0415

        users = DynamoUserRepository(dynamodb(), settings.require("users_table"))
    if needs.idempotency:
        from adapters.dynamodb import DynamoIdempotencyStore  # noqa: PLC0415

        idempotency = DynamoIdempotencyStore(
            dynamodb(), settings.require("documents_table"), clock=clock
        )
    if needs.events:
        from adapters.eventbridge import EventBridgeEventBus  # noqa: PLC0415
        from entrypoints.observability import CountingEventBus  # noqa: PLC0415

        events = CountingEventBus(
            EventBridgeEventBus(
                session.client("events", config=config, endpoint_url=endpoint),
                settings.require("event_bus"),
            )
        )
    queues: dict[str, MessageQueue] = {}
    if needs.queues or needs.transfers or needs.copy_dead_letters:
        from adapters.sqs import SqsQueue  # noqa: PLC0415

        sqs = session.client("sqs", config=config, endpoint_url=endpoint)
        if needs.transfers:
            queues["transfers"] = SqsQueue(sqs, settings.require("transfer_queue_url"))
        if needs.copy_dead_letters:
            queues["copy_dead_letters"] = SqsQueue(sqs, settings.require("transfer_dlq_url"))
    ports = Ports(
        blobs=blobs,
        documents=documents,
        users=users,
        events=events,
        clock=clock,
        ids=RandomIds(),
        idempotency=idempotency,
        settings=settings.domain,
        **queues,
    )
    if not needs.queues:
        return Runtime(settings=settings, ports=ports)
    return Runtime(
        settings=settings,
        ports=ports,
        dead_letters=SqsQueue(sqs, settings.require("ingest_dlq_url")),
        parking=SqsQueue(sqs, settings.require("parking_queue_url")),
    )


def _credentials_expiry(session: boto3.Session) -> Callable[[], datetime | None]:
    """When the signing credentials expire, if they are temporary and say so."""

    def expiry() -> datetime | None:
        credentials = session.get_credentials()
        moment = getattr(credentials, "_expiry_time", None)  # RefreshableCredentials only
        if isinstance(moment, datetime):
            return moment.astimezone(UTC)
        return None

    return expiry


class Wiring:
    """Builds a function's runtime once, on first use, and keeps it for the container's life."""

    def __init__(
        self,
        needs: Needs,
        *,
        environ: Mapping[str, str] | None = None,
        factory: Callable[[EnvSettings, Needs], Runtime] | None = None,
    ) -> None:
        self._needs = needs
        self._environ = environ
        self._factory = factory
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()
        _register_snapstart_hooks(self)

    def get(self) -> Runtime:
        """The runtime, built on the first call."""
        runtime = self._runtime
        if runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = self._build()
                runtime = self._runtime
        return runtime

    def reset(self) -> None:
        """Forget the runtime (after a SnapStart restore, credentials and clients are new)."""
        with self._lock:
            self._runtime = None

    def _build(self) -> Runtime:
        environ = os.environ if self._environ is None else self._environ
        settings = EnvSettings.from_environ(environ, required=self._needs.required_settings())
        from entrypoints.observability import use_metrics_namespace  # noqa: PLC0415

        use_metrics_namespace(settings.metrics_namespace)
        if self._factory is not None:
            return self._factory(settings, self._needs)
        with collection_paused():
            import boto3  # noqa: PLC0415 - imported when the first invocation needs it

            session = boto3.Session(region_name=settings.region)
            return build_runtime(settings, self._needs, session)


def _register_snapstart_hooks(wiring: Wiring) -> None:
    """With Lambda SnapStart, build before the snapshot and rebuild after each restore.

    The snapshot then holds the imported modules and a warm composition root; after a restore,
    clients (which hold credentials and connections) are made again, so nothing credential-
    bound or unique is shared between restored copies. Outside SnapStart the runtime's hook
    module does not exist and nothing is registered.
    """
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]  # noqa: PLC0415
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return

    def after_restore() -> None:
        wiring.reset()
        wiring.get()

    register_before_snapshot(wiring.get)
    register_after_restore(after_restore)


def fixed(runtime: Runtime) -> Callable[[], Runtime]:
    """A runtime getter for tests: always the given runtime (ports built from fakes)."""
    return lambda: runtime


__all__ = ["Needs", "Runtime", "Unwired", "Wiring", "build_runtime", "fixed", "unwired"]
