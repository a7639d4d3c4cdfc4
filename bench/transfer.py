"""Bench: the transfer worker at sizes no machine here can move, on a simulated S3 and clock.

The real use cases (archive request, transfer worker, hand-over through the queue) run on the
in-memory ports, except that the blob store keeps no bytes: every S3 request costs simulated
time on the manual clock — `REQUEST_LATENCY` for a control request (HEAD, Create/Complete/
Abort multipart) and that plus `part size / THROUGHPUT` for an UploadPartCopy. Parts of one
batch run concurrently, so a batch costs its slowest part. Each worker invocation gets a
Lambda deadline of `LAMBDA_TIMEOUT` on the same clock (`remaining` is what
`context.get_remaining_time_in_millis()` would say). The figures: the API request's simulated
duration (API Gateway ends a request after 29 s), the longest invocation (Lambda: 900 s), the
invocations and the total time a copy takes.

Assumed numbers (AWS publishes no server-side copy throughput; these are conservative):
THROUGHPUT 50 MiB/s per UploadPartCopy, REQUEST_LATENCY 100 ms. Limits relied on: parts of
5 MiB to 5 GiB, at most 10,000 parts, objects up to 5 TiB
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html); API Gateway's 29 s
integration timeout and Lambda's 15 minutes
(https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html,
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from adapters.memory import (
    InMemoryBlobStore,
    InMemoryQueue,
    ManualClock,
    _Object,
    in_memory_ports,
)
from kumocms.commands import ArchiveDocument
from kumocms.errors import CopyCancelledError
from kumocms.ids import UserId
from kumocms.keys import ContentRef, content_key
from kumocms.model import MAX_PART_SIZE, MAX_PARTS, CopiedPart, Document, PartRange
from kumocms.ports import Ports
from kumocms.settings import MiB, Settings
from kumocms.states import ArchiveState, StorageClass
from kumocms.usecases.archive import archive_document
from kumocms.usecases.transfer import CopyOrder, run_copy
from kumocms.users import Principal, Role

THROUGHPUT = 50 * MiB
"""Bytes per second one UploadPartCopy moves (assumed)."""
REQUEST_LATENCY = timedelta(milliseconds=100)
LAMBDA_TIMEOUT = timedelta(seconds=900)
API_TIMEOUT = timedelta(seconds=29)
GB = 10**9
TiB = 1024**4
EDITOR = Principal(user_id=UserId.parse("01J0000000000000000000ED17"), name="ed", role=Role.EDITOR)


class SimulatedS3(InMemoryBlobStore):
    """A bucket whose objects have sizes but no bytes, and whose requests take time."""

    def __init__(self, clock: ManualClock, throughput: int = THROUGHPUT) -> None:
        super().__init__(clock)
        self._sim_clock = clock
        self.throughput = throughput
        self.sizes: dict[str, int] = {}
        self.largest_request = 0
        self.part_requests = 0

    def place(self, ref: ContentRef, size: int) -> None:
        """An object of `size` bytes (no bytes kept)."""
        key = content_key(ref)
        self._put(key, _Object(b"", "application/octet-stream", None))
        self.sizes[key] = size

    def current_version(self, ref: ContentRef) -> str | None:
        """One HEAD."""
        self._wait(REQUEST_LATENCY)
        return super().current_version(ref)

    def start_copy(self, ref: ContentRef, *, storage_class: StorageClass, content_type: str) -> str:
        """One CreateMultipartUpload."""
        self._wait(REQUEST_LATENCY)
        return super().start_copy(ref, storage_class=storage_class, content_type=content_type)

    def copy_part(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        part: PartRange,
        source: ContentRef | None = None,
    ) -> CopiedPart:
        """One UploadPartCopy: latency plus the part's bytes at the throughput."""
        del ref, source_version, source
        if copy_upload not in self.open_uploads():
            raise CopyCancelledError("NoSuchUpload")
        self.largest_request = max(self.largest_request, part.size)
        self.part_requests += 1
        self._wait(REQUEST_LATENCY + timedelta(seconds=part.size / self.throughput))
        return CopiedPart(number=part.number, etag=f'"{part.number:05d}"')

    def complete_copy(
        self,
        ref: ContentRef,
        *,
        copy_upload: str,
        source_version: str,
        parts: Sequence[CopiedPart],
        source: ContentRef | None = None,
    ) -> str:
        """The source check and CompleteMultipartUpload; the object becomes GLACIER."""
        del source_version, parts, source
        self._wait(REQUEST_LATENCY * 2)  # the source check (HEAD) and the completion
        key = content_key(ref)
        self.abort_copy(ref, copy_upload=copy_upload)
        size = self.sizes[key]
        self._put(
            key, _Object(b"", "application/octet-stream", None, storage_class=StorageClass.GLACIER)
        )
        self.sizes[key] = size
        return self.objects[key].version_id

    def abort_copy(self, ref: ContentRef, *, copy_upload: str) -> None:
        """One AbortMultipartUpload."""
        self._wait(REQUEST_LATENCY)
        super().abort_copy(ref, copy_upload=copy_upload)

    def archive(self, ref: ContentRef, storage_class: StorageClass) -> None:
        """CopyObject within the request (at most sync_copy_limit bytes)."""
        del storage_class
        size = self.sizes[content_key(ref)]
        self._wait(REQUEST_LATENCY + timedelta(seconds=size / self.throughput))
        self.largest_request = max(self.largest_request, size)

    def _wait(self, delta: timedelta) -> None:
        self._sim_clock.advance(delta)


def concurrent_on(clock: ManualClock) -> Callable[..., Sequence[CopiedPart]]:
    """Run a batch's parts as if at once: the clock moves by the slowest one."""

    def run(
        copy: Callable[[PartRange], CopiedPart], parts: Sequence[PartRange]
    ) -> Sequence[CopiedPart]:
        start = clock.now()
        ends, copied = [], []
        for part in parts:
            clock.set(start)
            copied.append(copy(part))
            ends.append(clock.now())
        clock.set(max(ends, default=start))
        return copied

    return run


@attrs.frozen(kw_only=True)
class CopyRun:
    """What one simulated large archive did."""

    size: int
    part_size: int
    parts: int
    request_seconds: float
    invocations: int
    longest_invocation_seconds: float
    total_seconds: float
    largest_request_bytes: int
    state: str

    def holds_aws_limits(self) -> bool:
        """No request over 29 s, no invocation over 900 s, parts within S3's rules, done."""
        return (
            self.request_seconds <= API_TIMEOUT.total_seconds()
            and self.longest_invocation_seconds <= LAMBDA_TIMEOUT.total_seconds()
            and self.parts <= MAX_PARTS
            and self.largest_request_bytes <= MAX_PART_SIZE
            and self.state == ArchiveState.ARCHIVED.value
        )


def simulate_archive(
    size: int, *, throughput: int = THROUGHPUT, settings: Settings | None = None
) -> CopyRun:
    """Archive one object of `size` bytes through the API use case and the worker."""
    clock = ManualClock()
    base = in_memory_ports(settings=settings or Settings(), clock=clock)
    blobs = SimulatedS3(clock, throughput)
    ports: Ports = attrs.evolve(base, blobs=blobs)
    document = _document(ports, blobs, size)
    started = clock.now()
    archive_document(ports, EDITOR, ArchiveDocument(document_id=document.id))
    request = clock.now() - started
    job = ports.documents.get_copy(document.id)
    part_size = job.part_size if job is not None else size
    invocations, longest = _drain(ports, clock)
    return CopyRun(
        size=size,
        part_size=part_size,
        parts=-(-size // part_size),
        request_seconds=request.total_seconds(),
        invocations=invocations,
        longest_invocation_seconds=longest.total_seconds(),
        total_seconds=(clock.now() - started).total_seconds(),
        largest_request_bytes=blobs.largest_request,
        state=ports.documents.get(document.id).state.value,
    )


def _document(ports: Ports, blobs: SimulatedS3, size: int) -> Document:
    now = ports.clock.now()
    document = Document(
        id=ports.ids.document_id(),
        file_name="huge.bin",
        content_type="application/octet-stream",
        size=size,
        sha256=None,
        metadata={},
        state=ArchiveState.ACTIVE,
        created_at=now,
        updated_at=now,
        revision=1,
    )
    ports.documents.add(document)
    blobs.place(ContentRef(document.id, 1), size)
    return document


def _drain(ports: Ports, clock: ManualClock) -> tuple[int, timedelta]:
    queue = ports.transfers
    assert isinstance(queue, InMemoryQueue)
    parallel = concurrent_on(clock)
    longest = timedelta(0)
    for invocations in range(10_000):
        messages = queue.receive(limit=1)
        if not messages:
            return invocations, longest
        message = messages[0]
        clock.advance(timedelta(milliseconds=200))  # the poller's delivery
        start = clock.now()
        run_copy(
            ports,
            CopyOrder.decode(message.body),
            attempts=message.attempts,
            remaining=_lambda_clock(clock, start + LAMBDA_TIMEOUT),
            parallel=parallel,
        )
        queue.delete(message)
        longest = max(longest, clock.now() - start)
    raise AssertionError("the copy never finished")


def _lambda_clock(clock: ManualClock, deadline: datetime) -> Callable[[], timedelta]:
    """What `context.get_remaining_time_in_millis()` says, on the simulated clock."""
    return lambda: deadline - clock.now()


def figures() -> list[tuple[str, CopyRun]]:
    """The bench's runs: 50 GB and 5 TiB, and the largest copy still made in the request."""
    return [
        ("archive 256 MiB (sync_copy_limit, in the request)", simulate_archive(256 * MiB)),
        ("archive 50 GB (transfer worker)", simulate_archive(50 * GB)),
        ("archive 5 TiB (transfer worker)", simulate_archive(5 * TiB)),
        (
            "archive 5 TiB at 10 MiB/s per part",
            simulate_archive(5 * TiB, throughput=10 * MiB),
        ),
    ]


def report() -> str:
    """The figures as a table."""
    lines = [
        (
            f"simulated S3: {THROUGHPUT // MiB} MiB/s per UploadPartCopy (unless stated), "
            f"{REQUEST_LATENCY.total_seconds() * 1000:.0f} ms per request; Lambda timeout "
            f"{LAMBDA_TIMEOUT.total_seconds():.0f} s, API Gateway "
            f"{API_TIMEOUT.total_seconds():.0f} s"
        ),
        (
            f"{'run':52} {'part':>9} {'parts':>6} {'request':>9} {'invocations':>11} "
            f"{'longest':>9} {'total':>10} ok"
        ),
    ]
    for name, run in figures():
        lines.append(
            f"{name:52} {run.part_size // MiB:>5} MiB {run.parts:>6} "
            f"{run.request_seconds:>7.2f} s {run.invocations:>11} "
            f"{run.longest_invocation_seconds:>7.1f} s {run.total_seconds:>8.0f} s "
            f"{'yes' if run.holds_aws_limits() else 'NO'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())  # noqa: T201
