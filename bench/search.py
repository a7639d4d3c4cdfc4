"""Benchmarks: what one filtered page (§10) costs at 1,000 and 100,000 documents.

Each table size gets its own DynamoDB table on an in-process moto, seeded directly in the
repository's own item shapes (documents and their index entries, BatchWriteItem). Three
fields are declared: `flag` (boolean, true on half the corpus: a low-cardinality value),
`code` (string, unique: a high-cardinality value) and `score` (number, for a range). The
repository then answers one page (limit 50) of each filter while a botocore hook counts its
requests and the items DynamoDB returned to it.

On DynamoDB a Query reads only what it returns, so requests and items read per page are the
figures that carry over; moto filters a whole table for every index Query, so its seconds grow
with the table and say nothing about AWS.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import attrs

SHARDS = 16
LIMIT = 50
FIELDS = {"flag": "boolean", "code": "string", "score": "number"}
QUERIES: Mapping[str, Mapping[str, str]] = {
    "equality, low cardinality (half the corpus)": {"meta.flag": "true"},
    "equality, high cardinality (one document)": {"meta.code": "c-000007"},
    "range on a number field (10 %)": {"meta.score.min": "100", "meta.score.max": "199"},
}


@attrs.frozen(kw_only=True)
class PageCost:
    """One filtered page on one table size."""

    documents: int
    query: str
    requests: Mapping[str, int]
    items_read: int
    returned: int
    seconds: float


@attrs.frozen(kw_only=True)
class WriteCost:
    """What one upload writes with and without indexed fields."""

    requests: int
    items: int


class _Counter:
    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.items = 0

    def __call__(self, http_response: Any, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        del http_response
        self.requests[model.name] = self.requests.get(model.name, 0) + 1
        if model.name == "Query":
            self.items += int(parsed.get("Count", 0))
        elif model.name == "BatchGetItem":
            self.items += sum(len(found) for found in parsed.get("Responses", {}).values())


@contextmanager
def _counting(client: Any) -> Iterator[_Counter]:
    counter = _Counter()
    client.meta.events.register("after-call.dynamodb", counter)
    try:
        yield counter
    finally:
        client.meta.events.unregister("after-call.dynamodb", counter)


def _corpus(count: int) -> Iterator[Any]:
    from bench import seed  # noqa: PLC0415

    rng = random.Random(20261202)  # noqa: S311 - a reproducible corpus, not a secret
    for index in range(count):
        document = seed.active_document()
        metadata = {
            "flag": index % 2 == 0,
            "code": f"c-{index:06d}",
            "score": Decimal(rng.randrange(0, 1000)),
        }
        yield attrs.evolve(document, metadata=metadata)


def _seed(client: Any, table: str, count: int) -> None:
    from adapters import _dynamo_items as items  # noqa: PLC0415
    from kumocms.search import IndexedFields, index_entries  # noqa: PLC0415

    fields = IndexedFields(FIELDS)
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        pending = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while pending:
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
        batch.clear()

    for document in _corpus(count):
        batch.append(items.document_to_item(document, shards=SHARDS))
        for name, encoded in index_entries(document, fields).items():
            ranged = fields.fields[name].ranged
            batch.append(
                items.entry_to_item(document.id, name, encoded, ranged=ranged, shards=SHARDS)
            )
            if len(batch) == 25:
                flush()
        if len(batch) >= 22:
            flush()
    if batch:
        flush()


def measure(sizes: tuple[int, ...]) -> tuple[list[PageCost], WriteCost, WriteCost]:
    """Page costs per size and query; one upload's writes with no fields and with three."""
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from adapters.dynamodb import DynamoDocumentRepository, documents_table_spec  # noqa: PLC0415
    from kumocms.search import IndexedFields, parse_filter  # noqa: PLC0415

    fields = IndexedFields(FIELDS)
    costs: list[PageCost] = []
    with mock_aws():
        client = boto3.client(
            "dynamodb",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        )
        for size in sizes:
            table = f"bench-search-{size}"
            client.create_table(**documents_table_spec(table))
            _seed(client, table, size)
            repository = DynamoDocumentRepository(
                client, table, shards=SHARDS, indexed_fields=fields
            )
            for label, params in QUERIES.items():
                query = parse_filter(params, fields)
                with _counting(client) as counter:
                    started = time.perf_counter()
                    page = repository.search(query, limit=LIMIT, cursor=None)
                    seconds = time.perf_counter() - started
                costs.append(
                    PageCost(
                        documents=size,
                        query=label,
                        requests=dict(counter.requests),
                        items_read=counter.items,
                        returned=len(page.items),
                        seconds=seconds,
                    )
                )
            repository.close()
        plain = _upload_cost(client, IndexedFields())
        indexed = _upload_cost(client, fields)
    return costs, plain, indexed


def _upload_cost(client: Any, fields: Any) -> WriteCost:
    from adapters.dynamodb import DynamoDocumentRepository, documents_table_spec  # noqa: PLC0415

    table = f"bench-writes-{len(fields.fields)}"
    client.create_table(**documents_table_spec(table))
    repository = DynamoDocumentRepository(client, table, shards=SHARDS, indexed_fields=fields)
    document = next(_corpus(1))
    written = 0

    def count(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        nonlocal written
        if model.name == "TransactWriteItems":
            written += len(params["TransactItems"])
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            written += 1

    client.meta.events.register("before-parameter-build.dynamodb", count)
    try:
        with _counting(client) as counter:
            repository.add(document)
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", count)
    repository.close()
    return WriteCost(requests=sum(counter.requests.values()), items=written)


def report(sizes: tuple[int, ...] = (1_000, 100_000)) -> str:
    """The table `nox -s bench` prints for §10."""
    costs, plain, indexed = measure(sizes)
    lines = [
        "| documents | filter | requests | items read | returned | moto s |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for cost in costs:
        requests = ", ".join(f"{n} {name}" for name, n in sorted(cost.requests.items()))
        lines.append(
            f"| {cost.documents:,} | {cost.query} | {requests} | {cost.items_read} "
            f"| {cost.returned} | {cost.seconds:.2f} |"
        )
    lines += [
        "",
        f"one upload without indexed fields: {plain.requests} request(s), {plain.items} item(s)",
        (
            f"one upload with {len(FIELDS)} indexed values: {indexed.requests} request(s), "
            f"{indexed.items} item(s) (+{(indexed.items - plain.items) / len(FIELDS):.0f} item "
            "per field, in the same transaction)"
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    quick = "--quick" in sys.argv
    sys.stdout.write(report((1_000, 10_000) if quick else (1_000, 100_000)) + "\n")
