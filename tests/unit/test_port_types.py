"""Every adapter and every fake is its port: checked by mypy (this file is in `nox -s typecheck`)
and, method by method, at run time.

The static half is the functions below: each returns an adapter where its port is declared, so
mypy fails on any drift in a method's name, parameters or return type. The run-time half
compares signatures, so a test run catches the same drift without mypy.
"""

from __future__ import annotations

import inspect

import pytest

from adapters.dynamodb import DynamoDocumentRepository, DynamoIdempotencyStore, DynamoUserRepository
from adapters.eventbridge import EventBridgeEventBus
from adapters.memory import (
    InMemoryBlobStore,
    InMemoryDocumentRepository,
    InMemoryIdempotencyStore,
    InMemoryQueue,
    InMemoryUserRepository,
    ManualClock,
    RecordingEventBus,
    SequentialIds,
)
from adapters.s3 import S3BlobStore
from adapters.sqs import SqsQueue
from adapters.system import RandomIds, SystemClock
from entrypoints.observability import CountingEventBus
from kumocms.ports import (
    BlobStore,
    Clock,
    DocumentRepository,
    EventBus,
    IdempotencyStore,
    IdGenerator,
    MessageQueue,
    UserRepository,
)

# ---- static: mypy checks each assignment ---------------------------------------------------


def blob_stores(s3: S3BlobStore, memory: InMemoryBlobStore) -> list[BlobStore]:
    return [s3, memory]


def document_repositories(
    dynamo: DynamoDocumentRepository, memory: InMemoryDocumentRepository
) -> list[DocumentRepository]:
    return [dynamo, memory]


def user_repositories(
    dynamo: DynamoUserRepository, memory: InMemoryUserRepository
) -> list[UserRepository]:
    return [dynamo, memory]


def idempotency_stores(
    dynamo: DynamoIdempotencyStore, memory: InMemoryIdempotencyStore
) -> list[IdempotencyStore]:
    return [dynamo, memory]


def event_buses(
    eventbridge: EventBridgeEventBus, counting: CountingEventBus, memory: RecordingEventBus
) -> list[EventBus]:
    return [eventbridge, counting, memory]


def queues(sqs: SqsQueue, memory: InMemoryQueue) -> list[MessageQueue]:
    return [sqs, memory]


def clocks(system: SystemClock, manual: ManualClock) -> list[Clock]:
    return [system, manual]


def id_generators(random: RandomIds, sequential: SequentialIds) -> list[IdGenerator]:
    return [random, sequential]


# ---- run time: the same pairs, method by method --------------------------------------------

IMPLEMENTATIONS: list[tuple[type, tuple[type, ...]]] = [
    (BlobStore, (S3BlobStore, InMemoryBlobStore)),
    (DocumentRepository, (DynamoDocumentRepository, InMemoryDocumentRepository)),
    (UserRepository, (DynamoUserRepository, InMemoryUserRepository)),
    (IdempotencyStore, (DynamoIdempotencyStore, InMemoryIdempotencyStore)),
    (EventBus, (EventBridgeEventBus, CountingEventBus, RecordingEventBus)),
    (MessageQueue, (SqsQueue, InMemoryQueue)),
    (Clock, (SystemClock, ManualClock)),
    (IdGenerator, (RandomIds, SequentialIds)),
]


def _methods(port: type) -> list[str]:
    return [
        name
        for name, value in vars(port).items()
        if not name.startswith("_") and inspect.isfunction(value)
    ]


def _parameters(function: object) -> list[tuple[str, object, bool]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [
        (p.name, p.kind, p.default is inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]


@pytest.mark.parametrize(
    ("port", "adapter"),
    [(port, adapter) for port, adapters in IMPLEMENTATIONS for adapter in adapters],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_every_adapter_has_its_ports_methods_with_the_same_parameters(
    port: type, adapter: type
) -> None:
    assert _methods(port), f"{port.__name__} declares no methods"
    for name in _methods(port):
        assert hasattr(adapter, name), f"{adapter.__name__} lacks {port.__name__}.{name}"
        assert _parameters(getattr(adapter, name)) == _parameters(getattr(port, name)), (
            f"{adapter.__name__}.{name} does not take what {port.__name__}.{name} takes"
        )


def test_every_port_is_listed() -> None:
    from kumocms import ports

    declared = {
        value
        for value in vars(ports).values()
        if isinstance(value, type)
        and value.__module__ == ports.__name__
        and getattr(value, "_is_protocol", False)
    }
    assert declared == {port for port, _ in IMPLEMENTATIONS}
