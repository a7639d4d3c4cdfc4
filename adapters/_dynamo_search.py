"""Adapters layer: how a DynamoDB search reads the sharded indexes (§10).

A search has one leading condition that an index answers with key conditions alone: the range
index of the ranged field, else the equality index of one `meta.NAME=VALUE`, else the state or
creation listing. Every other condition is the re-check (`DocumentFilter.matches`) of the
current document. This module turns a filter into that plan: which index, which partition of
each shard, which sort-key interval, and in which direction positions run.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from adapters import _dynamo_items as items
from adapters.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

    from kumocms.search import DocumentFilter

ID_SLACK = timedelta(seconds=1)
"""How far a document id's time may lie from its `created_at` (both come from the same write,
milliseconds apart); the sort-key bound is widened by it and the re-check is exact."""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MAX_MILLIS = (1 << 48) - 1
_PAST_VALUE = "#~"
"""Appended to an encoded bound: sorts after every position `<value>#<inverted id>`."""


def time_prefix(moment: datetime) -> str:
    """The 10-character ULID time prefix of `moment` (milliseconds, clamped to ULID's range)."""
    millis = min(max(int(moment.timestamp() * 1000), 0), _MAX_MILLIS)
    chars = []
    for _ in range(10):
        chars.append(_CROCKFORD[millis % 32])
        millis //= 32
    return "".join(reversed(chars))


@attrs.frozen(kw_only=True)
class SearchPlan:
    """One Query per partition, each over the same sort-key interval."""

    index: str
    partitions: Sequence[tuple[str, str]]
    """(attribute, value) of each shard's partition."""
    position: str
    """The sort-key attribute: a hit's position, what a cursor resumes after."""
    forward: bool
    """Ascending positions (ranges) or descending (newest first)."""
    low: str | None = None
    """Inclusive lower bound of the sort key."""
    high: str | None = None
    """Inclusive upper bound of the sort key."""

    @property
    def empty(self) -> bool:
        """Whether the interval holds nothing (DynamoDB refuses BETWEEN with low > high)."""
        return self.low is not None and self.high is not None and self.low > self.high

    def position_of(self, item: Mapping[str, Any]) -> str:
        """A hit's position."""
        return str(item[self.position]["S"])


def plan_search(query: DocumentFilter, *, shards: int, after: str | None) -> SearchPlan:
    """The index, partitions and interval that answer `query` after position `after`."""
    if query.range is not None:
        name = query.range.name
        low = query.range.low
        if after is not None and (low is None or after > low):
            low = after  # inclusive: the hit at `after` itself is dropped by the caller
        high = None if query.range.high is None else query.range.high + _PAST_VALUE
        return SearchPlan(
            index=items.BY_FIELD_RANGE,
            partitions=[(items.FR_PK, items.range_partition(name, s)) for s in range(shards)],
            position=items.FR_SK,
            forward=True,
            low=low,
            high=high,
        )
    if query.equals:
        name = sorted(query.equals)[0]
        value = query.equals[name]
        index = items.BY_FIELD_VALUE
        partitions = [(items.FV_PK, items.value_partition(name, s, value)) for s in range(shards)]
    elif query.state is not None:
        state = query.state
        index = items.BY_STATE
        partitions = [(items.STATE_PK, items.state_partition(state, s)) for s in range(shards)]
    else:
        index = items.BY_CREATED
        partitions = [(items.LIST_PK, items.list_partition(s)) for s in range(shards)]
    low = None if query.created_after is None else time_prefix(query.created_after - ID_SLACK)
    high = None if query.created_before is None else time_prefix(query.created_before + ID_SLACK)
    if after is not None and (high is None or after < high):
        high = after  # inclusive: the hit at `after` itself is dropped by the caller
    return SearchPlan(
        index=index, partitions=partitions, position=items.SK, forward=False, low=low, high=high
    )


def query_positions(
    client: DynamoDBClient,
    table_name: str,
    plan: SearchPlan,
    partition: tuple[str, str],
    *,
    want: int,
) -> tuple[builtins.list[dict[str, Any]], bool]:
    """Up to `want` hits of one partition in position order, and whether more may follow.

    One request unless DynamoDB's 1 MB page limit cuts the answer short.
    """
    names = {"#p": partition[0], "#r": plan.position}
    values: dict[str, Any] = {":p": items.string_value(partition[1])}
    condition = "#p = :p"
    if plan.low is not None and plan.high is not None:
        condition += " AND #r BETWEEN :lo AND :hi"
    elif plan.low is not None:
        condition += " AND #r >= :lo"
    elif plan.high is not None:
        condition += " AND #r <= :hi"
    if plan.low is not None:
        values[":lo"] = items.string_value(plan.low)
    if plan.high is not None:
        values[":hi"] = items.string_value(plan.high)
    params: QueryInputTypeDef = {
        "TableName": table_name,
        "IndexName": plan.index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": plan.forward,
    }
    if plan.index in (items.BY_CREATED, items.BY_STATE):
        # Those indexes project whole documents; the hit is re-read, so its keys are enough.
        params["ProjectionExpression"] = "#k, #r"
        names["#k"] = items.PK
    elif plan.low is None and plan.high is None:
        del names["#r"]
    found: builtins.list[dict[str, Any]] = []
    while True:
        params["Limit"] = want - len(found)
        with aws_errors("DynamoDB Query"):
            response = client.query(**params)
        found.extend(response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if start is None:
            return found, False
        if len(found) >= want:
            return found, True
        params["ExclusiveStartKey"] = start
