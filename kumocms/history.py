"""Domain layer: the audit trail — one history entry per change, derived from its events.

Every change a use case commits publishes domain events; `entries_for` turns them into the
entries of §11 (`uploaded`, `replaced`, `deleted`, ...), with the actor who made the change
and the document's version after it. The repository writes the entries in the same
transaction as the change, so there is never a change without its entry, nor the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

import attrs

from kumocms.ids import DocumentId
from kumocms.jsonvalue import JsonObject
from kumocms.rules import normalize_metadata
from kumocms.states import StorageClass
from kumocms.users import Actor

if TYPE_CHECKING:
    from kumocms import events as ev
    from kumocms.model import Changed, Document

EVENTS = (
    "uploaded",
    "upload_confirmed",
    "upload_rejected",
    "upload_expired",
    "upload_aborted",
    "metadata_updated",
    "replace_started",
    "replaced",
    "replace_rejected",
    "revision_restored",
    "archiving_started",
    "archived",
    "copy_failed",
    "copy_cancelled",
    "restore_requested",
    "restored",
    "restore_expired",
    "made_permanent",
    "deleted",
    "undeleted",
    "purged",
    "legal_hold_set",
    "legal_hold_released",
)
"""Every `event` an entry can name (§11 and its completeness rule)."""


@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One change of one document: what, when, by whom, and the version it led to.

    `sequence` orders the entries of one change (a delete that cancels a copy writes two);
    `expires_at` is set once the document is gone (purged, expired or aborted).
    """

    document_id: DocumentId
    event: str
    at: datetime
    actor: Actor
    version: int
    details: JsonObject = attrs.field(factory=dict, converter=normalize_metadata)
    sequence: int = 0
    expires_at: datetime | None = None


def position(entry: HistoryEntry) -> str:
    """The entry's place in its document's history: time, then version, then sequence.

    Fixed width, so text order is history order (the DynamoDB sort key, and the cursor).
    """
    moment = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{moment}#{entry.version:012d}#{entry.sequence:03d}"


@attrs.frozen(kw_only=True)
class HistoryPage:
    """One page of a document's history, newest first."""

    items: tuple[HistoryEntry, ...]
    next_cursor: str | None


def entries_for(
    before: Document | None,
    changed: Changed,
    actor: Actor,
    *,
    expires_at: datetime | None = None,
) -> tuple[HistoryEntry, ...]:
    """The entries of one change (`before` is None for a new document).

    `expires_at` is given for a change that ends the document (purge, expiry, abort): its
    entries, like the earlier ones, then expire `history_retention` later.
    """
    entries: list[HistoryEntry] = []
    for event in changed.events:
        if not _is_document_event(event):
            continue
        named = _describe(before, changed.document, event)
        if named is None:
            continue
        name, details = named
        entries.append(
            HistoryEntry(
                document_id=event.document_id,
                event=name,
                at=event.occurred_at,
                actor=actor,
                version=event.version,
                details=details,
                sequence=len(entries),
                expires_at=expires_at,
            )
        )
    return tuple(entries)


def _is_document_event(event: ev.DomainEvent) -> TypeGuard[ev.DocumentEvent]:
    return hasattr(event, "document_id") and hasattr(event, "version")


def _describe(
    before: Document | None, after: Document, event: ev.DocumentEvent
) -> tuple[str, JsonObject] | None:
    """The entry name and details of one event (None: the event records no change).

    Events are told apart by name, so that reading history never loads the event types.
    """
    simple = _SIMPLE.get(event.name)
    if simple is not None:
        return simple, {}
    describe = _DESCRIBED.get(event.name)
    return None if describe is None else describe(before, after, event)


def _uploaded(before: Document | None, after: Document, event: Any) -> tuple[str, JsonObject]:
    name = "uploaded" if before is None else "upload_confirmed"
    return name, {"revision": after.revision_number, "size": event.size}


def _metadata(before: Document | None, after: Document, _: Any) -> tuple[str, JsonObject]:
    keys = _changed_keys(before.metadata if before else {}, after.metadata)
    return "metadata_updated", {"keys": list(keys)}


def _holds(_: Document | None, after: Document, event: Any) -> tuple[str, JsonObject]:
    name = "legal_hold_set" if after.legal_hold is not None else "legal_hold_released"
    return name, {"storage_holds": event.held}


_Describe = Callable[[Any, Any, Any], tuple[str, JsonObject]]
_SIMPLE: Mapping[str, str] = {
    "DocumentUploadExpired": "upload_expired",
    "DocumentCopyCancelled": "copy_cancelled",
    "DocumentRestored": "restored",
    "DocumentRestoreExpired": "restore_expired",
    "DocumentMadePermanent": "made_permanent",
    "DocumentDeleted": "deleted",
    "DocumentUndeleted": "undeleted",
    "DocumentPurged": "purged",
    "DocumentLegalHoldReleased": "legal_hold_released",
}
_DESCRIBED: Mapping[str, _Describe] = {
    "DocumentUploaded": _uploaded,
    "DocumentUploadStarted": lambda _b, _a, e: ("uploaded", {"mode": e.mode, "size": e.size}),
    "DocumentReplaceStarted": lambda _b, _a, e: (
        "replace_started",
        {"mode": e.mode, "size": e.size},
    ),
    "DocumentReplaced": lambda _b, a, e: (
        "replaced",
        {"revision": a.revision_number, "size": e.size},
    ),
    "DocumentUploadRejected": lambda _b, _a, e: _rejected(e),
    "DocumentReplaceRejected": lambda _b, _a, e: _rejected(e),
    "DocumentMetadataUpdated": _metadata,
    "DocumentUploadAborted": lambda _b, _a, e: ("upload_aborted", {"replace": e.replace}),
    "DocumentRevisionRestored": lambda _b, _a, e: (
        "revision_restored",
        {"from_revision": e.from_revision, "revision": e.revision},
    ),
    "DocumentCopyStarted": lambda _b, a, e: _copy_started(a, e),
    "DocumentCopyFailed": lambda _b, _a, e: (
        "copy_failed",
        {"storage_class": e.storage_class, "reason": e.reason},
    ),
    "DocumentArchived": lambda _b, _a, e: ("archived", {"storage_class": e.storage_class}),
    "DocumentRestoreRequested": lambda _b, _a, e: (
        "restore_requested",
        {"tier": e.tier, "days": e.days, "permanent": e.permanent},
    ),
    "DocumentRestoreExtended": lambda _b, _a, _e: ("restore_requested", {"extended": True}),
    "DocumentLegalHoldSet": lambda _b, _a, e: ("legal_hold_set", {"reason": e.reason}),
    "DocumentLegalHoldApplied": _holds,
}


def _rejected(
    event: ev.DocumentUploadRejected | ev.DocumentReplaceRejected,
) -> tuple[str, JsonObject]:
    if event.name == "DocumentUploadRejected":
        return "upload_rejected", {"reason": event.reason}
    if event.reason == "upload expired":
        return "upload_expired", {"replace": True}
    return "replace_rejected", {"reason": event.reason}


def _copy_started(after: Document, event: ev.DocumentCopyStarted) -> tuple[str, JsonObject]:
    ticket = after.copy
    if ticket is not None and ticket.from_revision is not None:
        return "replace_started", {"from_revision": ticket.from_revision, "copy": True}
    if StorageClass(event.storage_class).is_archive:
        return "archiving_started", {"storage_class": event.storage_class}
    return "restore_requested", {"permanent": True, "copy": True}


def _changed_keys(old: JsonObject, new: JsonObject) -> Sequence[str]:
    """The top-level metadata keys a change set, changed or removed (never their values)."""
    return sorted(key for key in {*old, *new} if old.get(key) != new.get(key))


def actor_json(actor: Actor) -> JsonObject:
    """`{user_id, name}` for an API caller, `{system}` for a processor."""
    if actor.system is not None:
        return {"system": actor.system}
    return {
        "user_id": None if actor.user_id is None else actor.user_id.value,
        "name": actor.name,
    }
