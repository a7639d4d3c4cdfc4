"""Entrypoints layer: the CLI's `--wait` for copies the API finishes after answering 202.

A large archive or permanent restore answers 202 with `Retry-After`; the transfer worker then
copies the object and the document settles: in the state asked for, or — when the copy was given
up — back in the state it started from, with no copy in progress. Waiting polls the document as
often as `Retry-After` says and tells which of the two happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from entrypoints.cli.errors import CliError
from entrypoints.cli.output import note

DEFAULT_PAUSE = 5.0
"""Seconds between polls when no answer said `Retry-After`."""

Document = Mapping[str, Any]
Fetch = Callable[[], tuple[Document, int | None]]
"""GET the document: its representation and the answer's `Retry-After`, if any."""


@attrs.frozen(kw_only=True)
class Settling:
    """What a started copy ends in, and how to tell that it is still on its way."""

    action: str
    goal: str
    busy: Callable[[Document], bool]


def _archiving(document: Document) -> bool:
    return document.get("state") == "archiving"


def _copying_back(document: Document) -> bool:
    restore = document.get("restore")
    permanent = isinstance(restore, Mapping) and restore.get("permanent") is True
    return document.get("state") == "restoring" or (
        document.get("state") == "restored" and permanent
    )


ARCHIVE = Settling(action="archive", goal="archived", busy=_archiving)
PERMANENT_RESTORE = Settling(action="permanent restore", goal="active", busy=_copying_back)


@attrs.frozen(kw_only=True)
class Pacing:
    """How long to wait: the first pause, a limit, and the clock and sleep to use."""

    retry_after: int | None
    timeout: float | None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    report: Callable[[str], None] = note


def settle(settling: Settling, document: Document, fetch: Fetch, pacing: Pacing) -> Document:
    """Poll until the document reaches `settling.goal`; the settled document.

    Raises:
        CliError: the copy was given up (the document is back where it started, no copy in
            progress), or `pacing.timeout` passed first.
    """
    started = pacing.clock()
    pause = float(pacing.retry_after or DEFAULT_PAUSE)
    document_id = document.get("document_id", "?")
    while document.get("state") != settling.goal:
        state = document.get("state")
        if not settling.busy(document):
            raise CliError(
                f"the {settling.action} of document {document_id} did not complete: it is "
                f"{state} again with no copy in progress"
            )
        waited = pacing.clock() - started
        if pacing.timeout is not None:
            if waited >= pacing.timeout:
                raise CliError(
                    f"document {document_id} is still {state} after {pacing.timeout:g} s"
                )
            pause = min(pause, pacing.timeout - waited)
        pacing.report(f"{document_id} is {state} ({waited:.0f} s); asking again in {pause:g} s")
        pacing.sleep(pause)
        document, retry_after = fetch()
        if retry_after is not None:
            pause = float(retry_after)
    return document
