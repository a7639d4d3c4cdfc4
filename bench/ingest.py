"""Benchmarks: the ingest function confirming presigned uploads, ten events per SQS batch.

Each event is S3's `Object Created` for a pending document's content (uploaded with its signed
SHA-256 header, as a presigned PUT with a declared checksum is), wrapped by EventBridge and
delivered by SQS. Both sides get fresh pending documents for every batch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from bench import seed
from bench.aws import RECORDER, Operations, require_same
from bench.events import CONTEXT, object_created, sqs_batch
from bench.warm import Stack, Timing
from kumocms.keys import ContentRef, content_key, sidecar_key
from kumocms.model import Document

BATCH = 10

Handler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


@attrs.define
class _Sequencer:
    """S3 sequencers: hex, growing with every write to a key."""

    value: int = 0x0055AED6DCD90281E5

    def next(self) -> str:
        self.value += 1
        return f"{self.value:018X}"


_SEQUENCER = _Sequencer()


def pending_documents(stack: Stack, count: int) -> list[Document]:
    """Documents waiting for their content, whose objects have just arrived."""
    documents = [seed.pending_document() for _ in range(count)]
    seed.write_documents(stack.dynamodb, stack.table, documents)
    seed.put_content(stack.s3, stack.bucket, documents, sidecar=False)
    return documents


def confirming_events(stack: Stack, documents: Sequence[Document]) -> list[dict[str, Any]]:
    """The Object Created events of the documents' content."""
    return [
        object_created(
            stack.bucket,
            content_key(ContentRef(document.id, 1)),
            size=len(seed.CONTENT),
            sequencer=_SEQUENCER.next(),
        )
        for document in documents
    ]


def _batches(stack: Stack, batches: int) -> list[dict[str, Any]]:
    events = confirming_events(stack, pending_documents(stack, batches * BATCH))
    return [sqs_batch(events[start : start + BATCH]) for start in range(0, len(events), BATCH)]


def _run(handler: Handler, batch: Mapping[str, Any], side: str) -> None:
    result = handler(batch, CONTEXT)
    if result.get("batchItemFailures"):
        raise AssertionError(f"ingest ({side}) reported failures: {result}")


def measure(stack: Stack, *, batches: int, warmup: int = 1) -> Timing:
    """Median time per event over `batches` interleaved batches of ten per side."""
    from entrypoints.functions.ingest import handler  # noqa: PLC0415

    ours = _batches(stack, batches + warmup + 1)
    plain = _batches(stack, batches + warmup + 1)
    for index in range(warmup):
        _run(handler, ours[index], "ours")
        _run(stack.plain.ingest, plain[index], "baseline")
    with RECORDER.recording() as ours_requests:
        _run(handler, ours[warmup], "ours")
    with RECORDER.recording() as baseline_requests:
        _run(stack.plain.ingest, plain[warmup], "baseline")
    operations = require_same("ingest", ours_requests, baseline_requests)
    ours_times: list[float] = []
    plain_times: list[float] = []
    for index in range(batches):
        pair: Sequence[tuple[Handler, dict[str, Any], list[float], str]] = [
            (handler, ours[warmup + 1 + index], ours_times, "ours"),
            (stack.plain.ingest, plain[warmup + 1 + index], plain_times, "baseline"),
        ]
        for call, batch, samples, side in pair if index % 2 == 0 else reversed(pair):
            started = time.perf_counter()
            _run(call, batch, side)
            samples.append((time.perf_counter() - started) / BATCH)
    names = operations.names
    per_event = names[: len(names) // BATCH]
    if per_event * BATCH != names:
        raise AssertionError(f"the events of one batch made different requests: {names}")
    return Timing(
        name="ingest per event (batch of 10)",
        ours=statistics.median(ours_times),
        baseline=statistics.median(plain_times),
        operations=Operations(names=per_event),
        iterations=batches,
    )


def sidecar_requests(stack: Stack) -> Operations:
    """The requests of one sidecar `Object Created` event (verified, nothing changes)."""
    from entrypoints.functions.ingest import handler  # noqa: PLC0415

    (document,) = stack.seed_active(1)
    event = object_created(
        stack.bucket, sidecar_key(document.id), size=18, sequencer=_SEQUENCER.next()
    )
    with RECORDER.recording() as requests:
        _run(handler, sqs_batch([event]), "ours")
    return Operations(names=tuple(requests))
