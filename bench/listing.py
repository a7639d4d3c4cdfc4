"""Benchmarks: what one list page (limit 50) costs as the table grows from 1,000 to 10,000.

Two more stacks on the same emulator get 1,000 and 10,000 documents, written in the
repository's own item shape with BatchWriteItem. On each, the real `documents_read` handler
(built by the same factory, wired to that stack's environment) serves a page, its requests are
recorded, and it is timed against the plain boto3 page on the same table.

On DynamoDB a Query reads only the items it returns, so a page costs the same at any size.
moto filters the whole table for an index Query and serialises every item it returns slowly
(most of a page's seconds), so the emulator's times say little about AWS; the request count is
the figure that carries over.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from typing import Any

import attrs

from bench import seed
from bench.aws import RECORDER, Operations, require_same
from bench.events import CONTEXT, proxy_event
from bench.plain import Plain


@attrs.frozen(kw_only=True)
class PageCost:
    """One page at one table size."""

    documents: int
    operations: Operations
    ours: float
    baseline: float


def seed_documents(dynamodb: Any, table: str, count: int) -> None:
    """`count` active documents, in batches of 25."""
    step = 1_000
    for start in range(0, count, step):
        documents = [seed.active_document() for _ in range(min(step, count - start))]
        seed.write_documents(dynamodb, table, documents)


def page_cost(
    session: Any,
    *,
    endpoint: str,
    environment: Mapping[str, str],
    documents: int,
    iterations: int,
) -> PageCost:
    """Requests and median time of a full page on a table of `documents` documents.

    The emulator takes seconds per page (it serialises every item a Query returns slowly, and
    a page reads up to 51 items from each of 16 shards), so the recorded first page of each
    side is also a sample.
    """
    from entrypoints.bootstrap import Wiring  # noqa: PLC0415
    from entrypoints.http.api import make_http_handler  # noqa: PLC0415
    from entrypoints.manifest import FUNCTIONS  # noqa: PLC0415

    wiring = Wiring(FUNCTIONS["documents_read"].needs, environ=environment)
    wiring.get()  # clients built, as in a warm container
    handler = make_http_handler("documents_read", wiring.get)
    plain = Plain(session, endpoint=endpoint, environment=environment)
    event = proxy_event("GET", "/documents", "/documents", query={"limit": "50"})

    def ours() -> Mapping[str, Any]:
        response = handler(event, CONTEXT)
        if response["statusCode"] != 200 or '"next_cursor":null' in response["body"]:
            raise AssertionError(f"the page at {documents} documents is not a full page")
        return response

    def baseline() -> Mapping[str, Any]:
        return plain.list_page(event, CONTEXT)

    ours_times: list[float] = []
    baseline_times: list[float] = []

    def timed(call: Any, samples: list[float]) -> None:
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)

    with RECORDER.recording() as ours_requests:
        timed(ours, ours_times)
    with RECORDER.recording() as baseline_requests:
        timed(baseline, baseline_times)
    operations = require_same(
        f"list page at {documents}", ours_requests, baseline_requests, ordered=False
    )
    for index in range(iterations):
        pair = [(ours, ours_times), (baseline, baseline_times)]
        for call, samples in pair if index % 2 else reversed(pair):
            timed(call, samples)
    return PageCost(
        documents=documents,
        operations=operations,
        ours=statistics.median(ours_times),
        baseline=statistics.median(baseline_times),
    )
