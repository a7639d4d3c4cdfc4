"""Domain layer: what storage events do to documents — confirm uploads, follow restores.

Every handler is idempotent and order-safe: it re-reads the document, decides from the
document's own state (and S3 sequencers for the same key), writes only when something changes,
and retries (bounded) when another write got there first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

import attrs

from kumocms.errors import DependencyError, RetryLaterError
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef, SidecarRef, parse_key
from kumocms.model import (
    Changed,
    Document,
    RestoreRequest,
    RevisionRole,
    StoredContent,
    is_newer_sequencer,
)
from kumocms.ports import Ports
from kumocms.states import ArchiveState, StorageClass
from kumocms.usecases import transfer
from kumocms.usecases.common import commit, find, with_conflict_retries
from kumocms.users import Actor

INGEST = Actor.of_system("ingest")
"""The author of the changes storage events make."""


class Outcome(enum.Enum):
    """What an event did."""

    APPLIED = "applied"
    """The document changed (its version went up)."""
    UNCHANGED = "unchanged"
    """The event was understood and nothing needed to change (duplicates, copies, sidecars)."""
    CLEANED = "cleaned"
    """A leftover object (a replaced, rejected or abandoned revision) was deleted."""
    REPAIRED = "repaired"
    """The metadata sidecar differed from the record and was rewritten."""
    IGNORED = "ignored"
    """The key is not one of ours, or its document does not exist."""


@attrs.frozen(kw_only=True)
class ObjectCreated:
    """Storage says an object was written (`is_copy` for server-side copies)."""

    key: str
    occurred_at: datetime
    size: int | None = None
    sequencer: str | None = None
    is_copy: bool = False
    version_id: str | None = None


@attrs.frozen(kw_only=True)
class RestoreInitiated:
    """Storage says a restore of an object started."""

    key: str
    occurred_at: datetime


@attrs.frozen(kw_only=True)
class RestoreCompleted:
    """Storage says a restored copy is readable until `expires_at`."""

    key: str
    occurred_at: datetime
    expires_at: datetime | None = None


@attrs.frozen(kw_only=True)
class RestoreExpired:
    """Storage says a restored copy was removed."""

    key: str
    occurred_at: datetime


StorageEvent = ObjectCreated | RestoreInitiated | RestoreCompleted | RestoreExpired


def handle_storage_event(ports: Ports, event: StorageEvent, *, by: Actor = INGEST) -> Outcome:
    """Apply one storage event to the document its key belongs to (changes authored `by`).

    Raises:
        RetryLaterError: an object arrived for a document that does not exist yet (its record
            may still be being written); deliver the event again later.
    """
    target = parse_key(event.key)
    if target is None:
        return Outcome.IGNORED
    if isinstance(event, ObjectCreated):
        document = find(ports, target.document_id)
        if document is None:
            return _orphan(ports, target)
        if isinstance(target, SidecarRef):
            return _verify_sidecar(ports, document)
        return _retrying(
            ports,
            target.document_id,
            lambda doc: _object_created(ports, doc, target, event, by),
            first=document,
        )
    if isinstance(target, SidecarRef):
        return Outcome.IGNORED
    if isinstance(event, RestoreCompleted):
        return _retrying(
            ports,
            target.document_id,
            lambda doc: _restore_completed(ports, doc, target, event, by),
        )
    if isinstance(event, RestoreInitiated):
        return _retrying(
            ports, target.document_id, lambda doc: _restore_initiated(ports, doc, target, by)
        )
    return _retrying(
        ports, target.document_id, lambda doc: _restore_expired(ports, doc, target, event, by)
    )


def confirm_pending(
    ports: Ports, ref: ContentRef, *, sequencer: str | None, by: Actor = INGEST
) -> Document:
    """Confirm (or reject) the pending revision `ref` from what storage holds now.

    Used by multipart completion; events reach the same code through handle_storage_event.

    Raises:
        DocumentNotFoundError: the document is gone.
    """
    event = ObjectCreated(key="", occurred_at=ports.clock.now(), sequencer=sequencer)
    _retrying(
        ports,
        ref.document_id,
        lambda doc: _object_created(ports, doc, ref, event, by),
        missing_ok=False,
    )
    return ports.documents.get(ref.document_id)


# ---- object created -----------------------------------------------------------------------


def _object_created(
    ports: Ports, document: Document, ref: ContentRef, event: ObjectCreated, by: Actor
) -> Outcome:
    role = document.revision_role(ref.revision)
    if role is RevisionRole.PENDING:
        return _confirm(ports, document, ref, event, by)
    if role is RevisionRole.STALE:
        # A rejected, abandoned or pruned revision: every version of its key is garbage.
        if not _may_delete(document):
            return Outcome.UNCHANGED
        ports.blobs.delete_key(ref)
        return Outcome.CLEANED
    if role is RevisionRole.KEPT:
        return _kept_revision_written(ports, document, ref, event)
    if role in (RevisionRole.UNKNOWN, RevisionRole.COPYING):
        # A revision from a request (or a worker copy) still in flight: its own save makes it
        # current.
        return Outcome.IGNORED if role is RevisionRole.UNKNOWN else Outcome.UNCHANGED
    if document.stale_revision is not None and _may_delete(document):
        # Repeat the cleanup a failed attempt may have missed (deletes are idempotent).
        ports.blobs.delete_key(ContentRef(document.id, document.stale_revision))
    if event.version_id is not None and event.version_id == document.content_version:
        return Outcome.UNCHANGED  # the transfer worker's commit (AWS: CompleteMultipartUpload)
    if document.copy is not None:
        # The worker's completion, delivered before its record was saved: the copy's own
        # commit checks the source version, so nothing here may change the document.
        return Outcome.UNCHANGED
    if event.is_copy or not is_newer_sequencer(event.sequencer, document.sequencer):
        return Outcome.UNCHANGED  # a duplicate, an older event, or our own archive copy
    info = ports.blobs.inspect(ref)
    if info is None or event.sequencer is None:
        return Outcome.UNCHANGED
    changed = document.record_rewrite(
        observed=_observe(ports, ref, info.content),
        sequencer=event.sequencer,
        now=ports.clock.now(),
    )
    return _commit(ports, document, changed, by)


def _may_delete(document: Document) -> bool:
    """Nothing of a trashed or held document is deleted, not even a leftover."""
    return document.trash is None and document.legal_hold is None and not document.held_versions


def _kept_revision_written(
    ports: Ports, document: Document, ref: ContentRef, event: ObjectCreated
) -> Outcome:
    """An event for an earlier revision's key: keep its own version, delete another by id.

    Its own version comes from a late or repeated event; another version from a presigned
    URL used again after a replace.
    """
    kept = {r.version_id for r in document.kept_revisions if r.key == ref.revision}
    version = event.version_id
    if version is None or version in kept or not _may_delete(document):
        return Outcome.UNCHANGED
    if any(
        held.key == ref.revision and held.version_id == version for held in document.held_versions
    ):
        return Outcome.UNCHANGED
    current = ports.blobs.current_version(ref)
    if current is not None and current != version and current not in kept:
        return Outcome.UNCHANGED  # not ours to judge: a newer write will have its own event
    ports.blobs.delete_version(ref, version)
    return Outcome.CLEANED


def _confirm(
    ports: Ports, document: Document, ref: ContentRef, event: ObjectCreated, by: Actor
) -> Outcome:
    assert document.pending is not None
    info = ports.blobs.inspect(ref)
    if info is None:
        return Outcome.UNCHANGED  # overwritten or aborted since; a later event will tell
    observed = info.content
    if observed.size == document.pending.declared.size:
        observed = _observe(ports, ref, observed)
    changed = document.confirm_upload(
        observed=observed, sequencer=event.sequencer, now=ports.clock.now()
    )
    outcome = _commit(ports, document, changed, by)
    stale = changed.document.stale_revision
    if stale is not None and _may_delete(changed.document):
        ports.blobs.delete_key(ContentRef(document.id, stale))
    if changed.document.revision != document.revision:
        tag_superseded(ports, document)
    return outcome


def tag_superseded(ports: Ports, before: Document) -> None:
    """Tag the revision that stopped being current, for the operator's lifecycle rule.

    Best effort: an untagged revision only stays in its storage class.
    """
    kept = before.kept_revisions
    version = kept[-1].version_id if kept else None
    if version is None:
        return
    try:
        ports.blobs.tag_noncurrent(ContentRef(before.id, kept[-1].key), version)
    except DependencyError:
        return


def _observe(ports: Ports, ref: ContentRef, observed: StoredContent) -> StoredContent:
    """Fill in the sha256 storage could not report, for objects small enough to hash."""
    if observed.sha256 is None and observed.size <= ports.settings.verify_sha256_limit:
        return attrs.evolve(observed, sha256=ports.blobs.compute_sha256(ref))
    return observed


# ---- restores -----------------------------------------------------------------------------


def _restore_completed(
    ports: Ports, document: Document, ref: ContentRef, event: RestoreCompleted, by: Actor
) -> Outcome:
    if ref.revision != document.revision:
        return Outcome.IGNORED
    now = ports.clock.now()
    state = document.state
    if state is ArchiveState.ARCHIVED:
        # No restore on record: believe storage only if it really holds a readable copy now
        # (a restore started elsewhere, or one whose record write was lost).
        info = ports.blobs.inspect(ref)
        status = info.restore if info is not None else None
        if (
            status is None
            or status.ongoing
            or (status.expires_at is not None and status.expires_at <= now)
        ):
            return Outcome.UNCHANGED
        changed = document.complete_restore(expires_at=status.expires_at, now=now)
        return _commit(ports, document, changed, by)
    if state is ArchiveState.RESTORED and document.restore is not None:
        if document.restore.permanent:
            return _make_permanent(ports, document, ref, by)
        return _commit(
            ports, document, document.complete_restore(expires_at=event.expires_at, now=now), by
        )
    if state is not ArchiveState.RESTORING:
        return Outcome.UNCHANGED
    changed = document.complete_restore(expires_at=event.expires_at, now=now)
    outcome = _commit(ports, document, changed, by)
    restored = changed.document if changed is not None else document
    if restored.restore is not None and restored.restore.permanent:
        return _make_permanent(ports, restored, ref, by)
    return outcome


def _make_permanent(ports: Ports, document: Document, ref: ContentRef, by: Actor) -> Outcome:
    if document.copy is not None:
        return Outcome.UNCHANGED  # the transfer worker is copying it back already
    if transfer.needs_worker(ports, document):
        transfer.start_copy(ports, document, StorageClass.STANDARD, document.start_permanent, by=by)
        return Outcome.APPLIED
    version = ports.blobs.make_permanent(ref)
    changed = document.make_permanent(ports.clock.now(), version_id=version)
    return _commit(ports, document, changed, by)


def _restore_initiated(ports: Ports, document: Document, ref: ContentRef, by: Actor) -> Outcome:
    if ref.revision != document.revision or document.state is not ArchiveState.ARCHIVED:
        return Outcome.UNCHANGED
    info = ports.blobs.inspect(ref)
    if info is None or info.restore is None or not info.restore.ongoing:
        return Outcome.UNCHANGED
    request = RestoreRequest(days=ports.settings.default_restore_days)
    return _commit(ports, document, document.request_restore(request, ports.clock.now()), by)


def _restore_expired(
    ports: Ports, document: Document, ref: ContentRef, event: RestoreExpired, by: Actor
) -> Outcome:
    if ref.revision != document.revision:
        return Outcome.IGNORED
    changed = document.expire_restore(expired_at=event.occurred_at, now=ports.clock.now())
    return _commit(ports, document, changed, by)


def _orphan(ports: Ports, target: ContentRef | SidecarRef) -> Outcome:
    """An object of ours whose document does not exist: never make a record from it.

    A young document id may belong to a request still writing its record, so the event is
    retried; once the id is older than the grace period the document is gone for good (deleted
    while a presigned URL was still valid, or never saved) and the object is deleted.
    """
    document_id = target.document_id
    if ports.clock.now() - document_id.created_at < ports.settings.orphan_grace:
        raise RetryLaterError(
            f"no record for document {document_id} yet", document_id=document_id.value
        )
    # No record and none coming: everything under the document's folder goes, by version.
    ports.blobs.purge(document_id)
    return Outcome.CLEANED


# ---- sidecars -----------------------------------------------------------------------------


def _verify_sidecar(ports: Ports, document: Document) -> Outcome:
    if ports.blobs.read_sidecar(document.id) == document.metadata:
        return Outcome.UNCHANGED
    ports.blobs.write_sidecar(document.id, document.metadata)
    return Outcome.REPAIRED


# ---- plumbing -----------------------------------------------------------------------------


def _commit(ports: Ports, before: Document, changed: Changed | None, by: Actor) -> Outcome:
    if changed is None:
        return Outcome.UNCHANGED
    commit(ports, before, changed, by=by)
    return Outcome.APPLIED


def _retrying(
    ports: Ports,
    document_id: DocumentId,
    handle: Callable[[Document], Outcome],
    *,
    missing_ok: bool = True,
    first: Document | None = None,
) -> Outcome:
    """Run `handle` on the document, re-reading it after each version conflict.

    An event never creates a record: with `missing_ok`, a document that is not there is
    IGNORED; otherwise it is DocumentNotFoundError.
    """
    return with_conflict_retries(
        ports,
        document_id,
        handle,
        loader=find if missing_ok else _get,
        absent=lambda: Outcome.IGNORED,
        first=first,
    )


def _get(ports: Ports, document_id: DocumentId) -> Document:
    return ports.documents.get(document_id)
