"""Domain layer: index the documents stored before a field was declared (`kumocms admin reindex`).

Writes keep the index current from the moment a field is declared; documents stored before
that are visited here in batches. The run is resumable (each batch returns the cursor of the
next) and marks the declared fields ready when it has seen every document; until then a
search on such a field answers 409.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from kumocms.ports import Ports
from kumocms.search import ReindexBatch


@attrs.frozen(kw_only=True)
class ReindexReport:
    """The whole run."""

    documents: int
    unindexed: tuple[tuple[str, str], ...]
    """`(document id, field)` whose older value has another type than the declaration."""


def reindex(
    ports: Ports,
    *,
    batch_size: int = 100,
    cursor: str | None = None,
    on_batch: Callable[[ReindexBatch], None] | None = None,
) -> ReindexReport:
    """Index every document for the declared fields, then mark them ready.

    `cursor` resumes an interrupted run (the last batch's `next_cursor`); `on_batch` sees
    each batch (progress, and the cursor to resume from).

    Raises:
        InvalidCursorError: `cursor` is not one a batch returned.
        DependencyError: the table failed; run again from the last cursor.
    """
    documents = 0
    unindexed: list[tuple[str, str]] = []
    while True:
        batch = ports.documents.reindex_batch(cursor=cursor, limit=batch_size)
        documents += batch.documents
        unindexed += batch.unindexed
        if on_batch is not None:
            on_batch(batch)
        cursor = batch.next_cursor
        if cursor is None:
            break
    ports.documents.mark_ready(ports.settings.indexed_fields)
    return ReindexReport(documents=documents, unindexed=tuple(unindexed))
