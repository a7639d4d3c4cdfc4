"""Entrypoints layer: the emulator's TransactWriteItems without a deep copy of every table.

moto backs up each table a transaction names with `copy.deepcopy` before applying it, so that
a failed condition can put the tables back: every transaction costs time in proportion to the
whole table. Since §11 every document write is a transaction (the change and its history
entry), so a local stack (and the test suite, which installs this too) grew slower with every
document it held.

The backup this installs is what a rollback needs, made cheaply: a shallow clone of the table
whose item maps are new dicts over the same item objects (a Put or a Delete replaces or drops
an entry, never changes an item in place), with a real deep copy of each item an Update of the
transaction names (moto applies an Update to the stored item in place). Restoring the clone
therefore undoes exactly what the transaction did, as the deep copy would. Only the backup is
replaced: moto's checks, writes and rollback run as they are.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

__all__ = ["install"]


def _updated_hashes(transact_items: Sequence[Mapping[str, Any]]) -> dict[str, set[DynamoType]]:
    """Per table, the hash keys of the items an Update of the transaction changes in place."""
    updated: dict[str, set[DynamoType]] = defaultdict(set)
    for entry in transact_items:
        update = entry.get("Update")
        if update is None:
            continue
        updated[update["TableName"]].update(DynamoType(value) for value in update["Key"].values())
    return updated


def _backup(table: Table, updated: set[DynamoType]) -> Table:
    clone = copy.copy(table)
    items: defaultdict[Any, Any] = defaultdict(dict)
    for hash_value, stored in table.items.items():
        touched = hash_value in updated
        if table.range_key_attr is not None:
            items[hash_value] = {
                range_value: copy.deepcopy(item) if touched else item
                for range_value, item in stored.items()
            }
        else:
            items[hash_value] = copy.deepcopy(stored) if touched else stored
    clone.items = items
    return clone


class _CheapCopy:
    """Stands in for the `copy` module inside moto's DynamoDB backend during a transaction."""

    def __init__(self, updated: dict[str, set[DynamoType]]) -> None:
        self._updated = updated

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            return _backup(value, self._updated.get(value.name, set()))
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_LOCK = threading.Lock()
"""One transaction at a time: the stand-in is installed on the shared module."""


_installed = threading.Event()


def install() -> None:
    """Make every moto TransactWriteItems in this process back its tables up cheaply."""
    with _LOCK:
        if _installed.is_set():
            return
        _installed.set()
    backend = models.DynamoDBBackend
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK, _copy_module(_CheapCopy(_updated_hashes(transact_items))):
            original(self, transact_items)

    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


@contextmanager
def _copy_module(replacement: Any) -> Iterator[None]:
    real = models.copy  # type: ignore[attr-defined]
    models.copy = replacement  # type: ignore[attr-defined]
    try:
        yield
    finally:
        models.copy = real  # type: ignore[attr-defined]
