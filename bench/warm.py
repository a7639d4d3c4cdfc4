"""Benchmarks: warm requests — the real handlers, invoked as Lambda does, against plain boto3.

The module-level `handler` of each function module is called with an API Gateway proxy event
and a context, in a process whose environment is the function's (so the composition root
reads it, builds its clients once and keeps them, exactly as in a warm Lambda). Logs are
written, to /dev/null. Each use case first runs until warm; one ours/baseline pair is recorded
and must make the same AWS requests; then iterations alternate which side goes first and the
medians are compared.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from bench import seed
from bench.aws import RECORDER, Operations, require_same
from bench.events import CONTEXT, proxy_event
from bench.plain import Plain
from kumocms.model import Document

Call = Callable[[], Mapping[str, Any]]


@attrs.frozen(kw_only=True)
class Case:
    """One use case on both sides."""

    name: str
    ours: Call
    baseline: Call
    status: int
    ordered: bool = True
    """False when the requests run concurrently (compared as multisets)."""


@attrs.frozen(kw_only=True)
class Timing:
    """Medians of one use case."""

    name: str
    ours: float
    baseline: float
    operations: Operations
    iterations: int


def _checked(call: Call, status: int, side: str, name: str) -> None:
    response = call()
    code = response.get("statusCode", 200)
    if code != status:
        raise AssertionError(f"{name} ({side}) answered {code}, not {status}: {response}")


def measure(case: Case, *, iterations: int, warmup: int) -> Timing:
    """Warm up, check both sides make the same requests, then time interleaved iterations."""
    for _ in range(warmup):
        _checked(case.ours, case.status, "ours", case.name)
        _checked(case.baseline, case.status, "baseline", case.name)
    with RECORDER.recording() as ours_requests:
        _checked(case.ours, case.status, "ours", case.name)
    with RECORDER.recording() as baseline_requests:
        _checked(case.baseline, case.status, "baseline", case.name)
    operations = require_same(case.name, ours_requests, baseline_requests, ordered=case.ordered)
    ours: list[float] = []
    baseline: list[float] = []
    for index in range(iterations):
        pair = [(case.ours, ours, "ours"), (case.baseline, baseline, "baseline")]
        for call, samples, side in pair if index % 2 == 0 else reversed(pair):
            started = time.perf_counter()
            response = call()
            samples.append(time.perf_counter() - started)
            if response.get("statusCode") != case.status:  # a timed failure is no sample
                raise AssertionError(f"{case.name} ({side}) answered {response}")
    return Timing(
        name=case.name,
        ours=statistics.median(ours),
        baseline=statistics.median(baseline),
        operations=operations,
        iterations=iterations,
    )


def _handler(function: str) -> Callable[[Mapping[str, Any], Any], Mapping[str, Any]]:
    module = __import__(f"entrypoints.functions.{function}", fromlist=["handler"])
    handler: Callable[[Mapping[str, Any], Any], Mapping[str, Any]] = module.handler
    return handler


def _one_each(documents: Sequence[Document]) -> Iterator[Document]:
    yield from documents
    raise RuntimeError("the bench ran out of seeded documents")


@attrs.frozen(kw_only=True)
class Stack:
    """What the bench set up on the emulator."""

    environment: Mapping[str, str]
    dynamodb: Any
    s3: Any
    plain: Plain

    @property
    def table(self) -> str:
        """The documents table."""
        return self.environment["DOCUMENTS_TABLE"]

    @property
    def bucket(self) -> str:
        """The bucket."""
        return self.environment["S3_BUCKET"]

    def seed_active(self, count: int) -> list[Document]:
        """Active documents with content and sidecars."""
        documents = [seed.active_document() for _ in range(count)]
        seed.write_documents(self.dynamodb, self.table, documents)
        seed.put_content(self.s3, self.bucket, documents)
        return documents

    def seed_archived(self, count: int) -> list[Document]:
        """Documents archived to GLACIER (the objects are in GLACIER too)."""
        documents = [seed.archived_document() for _ in range(count)]
        seed.write_documents(self.dynamodb, self.table, documents)
        seed.put_content(self.s3, self.bucket, documents, storage_class=documents[0].storage_class)
        return documents


def _document_event(method: str, resource: str, document: Document, body: object = None) -> Any:
    path = resource.replace("{id}", document.id.value)
    return proxy_event(method, resource, path, path_parameters={"id": document.id.value}, body=body)


def cases(stack: Stack, *, consumable: int) -> Iterator[Case]:
    """The timed use cases, each seeded just before it runs (a list page costs what it reads).

    Archive and restore get `consumable` fresh documents per side.
    """
    read = _handler("documents_read")
    write = _handler("documents_write")
    plain = stack.plain
    (shown,) = stack.seed_active(1)
    get_event = _document_event("GET", "/documents/{id}", shown)
    yield Case(
        name="get document",
        ours=lambda: read(get_event, CONTEXT),
        baseline=lambda: plain.get_document(get_event, CONTEXT),
        status=200,
    )
    stack.seed_active(60)  # a full page, and more
    list_event = proxy_event("GET", "/documents", "/documents", query={"limit": "50"})
    yield Case(
        name="list page (limit 50)",
        ours=lambda: read(list_event, CONTEXT),
        baseline=lambda: plain.list_page(list_event, CONTEXT),
        status=200,
        ordered=False,
    )
    content = os.urandom(1024)
    upload_event = proxy_event(
        "POST",
        "/documents",
        "/documents",
        body={
            "file_name": "quarterly report.pdf",
            "content_type": "application/pdf",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "metadata": {"project": "kumo", "tags": ["bench"], "pages": 12},
        },
    )
    yield Case(
        name="upload presigned",
        ours=lambda: write(upload_event, CONTEXT),
        baseline=lambda: plain.upload_presigned(upload_event, CONTEXT),
        status=201,
    )

    def each(
        handler: Callable[..., Mapping[str, Any]], resource: str, documents: list[Document]
    ) -> Call:
        remaining = _one_each(documents)
        body = {"storage_class": "GLACIER"} if resource.endswith("archive") else {"days": 1}
        return lambda: handler(_document_event("POST", resource, next(remaining), body), CONTEXT)

    archive = "/documents/{id}/archive"
    yield Case(
        name="archive",
        ours=each(write, archive, stack.seed_active(consumable)),
        baseline=each(plain.archive, archive, stack.seed_active(consumable)),
        status=200,
    )
    restore = "/documents/{id}/restore"
    yield Case(
        name="restore",
        ours=each(write, restore, stack.seed_archived(consumable)),
        baseline=each(plain.restore, restore, stack.seed_archived(consumable)),
        status=202,
    )
