"""A Hypothesis state machine drives documents through their whole life and compares the
system with a small reference model written without the transition table.

Storage notifications are delivered late, shuffled and duplicated; clients upload matching
and mismatching content; restores finish and expire on the clock; reconciliation runs,
emptying the trash and pruning revisions. Documents go to the trash and come back, are
purged, get earlier revisions restored and legal holds set and released. After every step
the model checks the documents, their kept revisions (each readable by its key and version),
the trash, and the history: exactly the sequence of changes, in order, with the right actors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from adapters.memory import InMemoryBlobStore, InMemoryDocumentRepository, in_memory_ports
from kumocms.commands import (
    ArchiveDocument,
    DeleteDocument,
    ReplaceDocument,
    RestoreDocument,
    UpdateMetadata,
    UploadDocument,
)
from kumocms.errors import (
    ConflictError,
    DocumentNotFoundError,
    KumoError,
    LegalHoldError,
    RetryLaterError,
)
from kumocms.history import actor_json
from kumocms.ids import DocumentId, UserId
from kumocms.keys import ContentRef, content_key, parse_key, sidecar_key
from kumocms.model import RestoreRequest
from kumocms.ports import UploadTarget
from kumocms.settings import Settings
from kumocms.states import StorageClass
from kumocms.usecases import archive, documents, holds, revisions, trash
from kumocms.usecases.ingest import handle_storage_event
from kumocms.usecases.reconcile import reconcile
from kumocms.users import Principal, Role

EDITOR = Principal(user_id=UserId.parse("01J0000000000000000000ED17"), name="e", role=Role.EDITOR)
ADMIN = Principal(user_id=UserId.parse("01J0000000000000000000AD17"), name="a", role=Role.ADMIN)
HOUR = timedelta(hours=1)
TRASH_HOURS = 48
KEEP_REVISIONS = 2
KEEP_HOURS = 24
ED, AD = "user:e", "user:a"
INGEST, RECONCILE, WORKER = "system:ingest", "system:reconcile", "system:transfer"


@dataclass
class Pending:
    """A client upload the model expects: what was declared and what the client sent."""

    declared: bytes
    target: UploadTarget
    first: bool
    url_expires: float
    sent: bytes | None = None


@dataclass
class Rev:
    """A kept revision in the model: its number, content and when it was made."""

    number: int
    content: bytes
    hours: float


@dataclass
class Doc:
    """The reference model of one document."""

    state: str
    version: int
    content: bytes | None
    created_hours: float
    metadata: dict[str, object] = field(default_factory=dict)
    pending: Pending | None = None
    permanent: bool = False
    gone: bool = False
    history: list[tuple[str, str]] = field(default_factory=list)
    revisions: list[Rev] = field(default_factory=list)
    trashed_hours: float | None = None
    held: bool = False
    storage_holds: bool = False
    """Whether the worker placed storage holds that a release must still lift."""
    holds_synced: bool = True

    def log(self, event: str, actor: str) -> None:
        self.history.append((event, actor))

    def add_revision(self, content: bytes, hours: float) -> None:
        number = self.revisions[-1].number + 1 if self.revisions else 1
        self.revisions.append(Rev(number, content, hours))

    @property
    def blocked(self) -> bool:
        """Nothing of it may be pruned (trash, a hold, holds still to lift)."""
        return self.trashed_hours is not None or self.held or self.storage_holds


contents = st.binary(min_size=1, max_size=40)


class Lifecycle(RuleBasedStateMachine):
    docs = Bundle("docs")

    @initialize()
    def setup(self) -> None:
        self.ports = in_memory_ports(
            settings=Settings(
                trash_retention=timedelta(hours=TRASH_HOURS),
                max_revisions=KEEP_REVISIONS,
                revision_retention=timedelta(hours=KEEP_HOURS),
            )
        )
        self.blobs = self.ports.blobs
        self.clock = self.ports.clock
        self.hours = 0.0
        self.model: dict[DocumentId, Doc] = {}
        self.undelivered: set[str] = set()
        self.retry: list = []
        self.stale_targets: list[Pending] = []

    # ---- helpers --------------------------------------------------------------------------

    def advance(self, hours: float) -> None:
        self.clock.advance(timedelta(hours=hours))  # type: ignore[attr-defined]
        self.hours += hours
        for doc in self.model.values():
            if doc.state == "pending" and self.hours >= doc.created_hours + 24:
                doc.gone = True  # an expired first upload reads as deleted at once

    def deliver(self, events: list) -> None:
        """Deliver like the ingest queue: an event the ingest wants again comes back later."""
        queued, self.retry = [*self.retry, *events], []
        for event in queued:
            try:
                handle_storage_event(self.ports, event)
            except RetryLaterError:
                self.retry.append(event)
        self.undelivered = {event.key for event in self.retry}
        for doc in self.model.values():
            pending = doc.pending
            if doc.gone or pending is None or pending.sent is None:
                continue
            doc.version += 1
            doc.pending = None
            matches = pending.sent == pending.declared
            if pending.first:
                doc.state = "active" if matches else "rejected"
                doc.content = pending.sent if matches else None
                doc.log("upload_confirmed" if matches else "upload_rejected", INGEST)
            elif matches:
                doc.content = pending.sent
                doc.log("replaced", INGEST)
            else:
                doc.log("replace_rejected", INGEST)
            if matches:
                doc.add_revision(pending.declared, self.hours)
                if doc.held:
                    doc.holds_synced = False

    def expect(self, doc_id: DocumentId, allowed: bool, call, *, trashed_ok: bool = False) -> bool:
        doc = self.model[doc_id]
        if doc.gone or (doc.trashed_hours is not None and not trashed_ok):
            with pytest.raises(DocumentNotFoundError):
                call()
            return False
        if not allowed:
            with pytest.raises(ConflictError):
                call()
            return False
        call()
        return True

    # ---- rules ----------------------------------------------------------------------------

    @rule(
        target=docs,
        content=contents,
        meta=st.dictionaries(st.sampled_from("abc"), st.integers(0, 3), max_size=2),
    )
    def upload_direct(self, content: bytes, meta: dict[str, int]) -> DocumentId:
        view = documents.upload_document(
            self.ports, EDITOR, UploadDocument(file_name="f", content=content, metadata=meta)
        )
        self.undelivered |= {content_key_of(view), sidecar_key(view.document.id)}
        doc = Doc("active", 1, content, self.hours, dict(meta))
        doc.log("uploaded", ED)
        doc.add_revision(content, self.hours)
        self.model[view.document.id] = doc
        return view.document.id

    @rule(target=docs, content=contents, declare_sha=st.booleans())
    def upload_presigned(self, content: bytes, declare_sha: bool) -> DocumentId:
        sha = hashlib.sha256(content).hexdigest() if declare_sha else None
        view = documents.upload_document(
            self.ports, EDITOR, UploadDocument(file_name="f", size=len(content), sha256=sha)
        )
        assert view.upload is not None
        self.undelivered.add(sidecar_key(view.document.id))
        pending = Pending(content, view.upload, True, self.hours + 1)
        doc = Doc("pending", 1, None, self.hours, pending=pending)
        doc.log("uploaded", ED)
        self.model[view.document.id] = doc
        return view.document.id

    @rule(doc_id=docs, honest=st.booleans())
    def client_uploads(self, doc_id: DocumentId, honest: bool) -> None:
        doc = self.model[doc_id]
        pending = doc.pending
        if doc.gone or pending is None or pending.sent is not None:
            return
        if self.hours >= pending.url_expires:
            with pytest.raises(PermissionError):
                self.blobs.client_upload(pending.target, pending.declared)  # type: ignore[attr-defined]
            return
        if honest:
            self.blobs.client_upload(pending.target, pending.declared)  # type: ignore[attr-defined]
            pending.sent = pending.declared
        else:  # storage would refuse this; the fake lets a rogue write through
            pending.sent = pending.declared + b"!"
            key = target_key(pending.target)
            self.blobs.client_put(  # type: ignore[attr-defined]
                self.blobs._url(key, "PUT", self.clock.now() + HOUR),
                pending.sent,
                headers={},  # type: ignore[attr-defined]
            )
        self.undelivered.add(target_key(pending.target))

    @rule(data=st.data())
    def client_uses_a_superseded_url(self, data: st.DataObject) -> None:
        """A replaced or deleted document's upload URL is still valid for a while."""
        usable = [p for p in self.stale_targets if self.hours < p.url_expires]
        if not usable:
            return
        pending = data.draw(st.sampled_from(usable))
        self.blobs.client_upload(pending.target, pending.declared)  # type: ignore[attr-defined]
        self.undelivered.add(target_key(pending.target))

    @rule(data=st.data())
    def deliver_shuffled_with_duplicates(self, data: st.DataObject) -> None:
        events = self.blobs.notifications()  # type: ignore[attr-defined]
        if events:
            events = data.draw(st.permutations(events))
            events += data.draw(st.lists(st.sampled_from(events), max_size=3))
        self.deliver(events)

    @rule(doc_id=docs, glacier=st.booleans())
    def archive(self, doc_id: DocumentId, glacier: bool) -> None:
        doc = self.model[doc_id]
        storage = StorageClass.GLACIER if glacier else StorageClass.DEEP_ARCHIVE
        command = ArchiveDocument(document_id=doc_id, storage_class=storage)
        allowed = doc.state == "active" and doc.pending is None
        if self.expect(
            doc_id, allowed, lambda: archive.archive_document(self.ports, EDITOR, command)
        ):
            doc.state, doc.version = "archived", doc.version + 1
            doc.log("archived", ED)
            if doc.held:
                doc.holds_synced = False  # the archive copy is a new object version

    @rule(doc_id=docs, permanent=st.booleans())
    def restore(self, doc_id: DocumentId, permanent: bool) -> None:
        doc = self.model[doc_id]
        command = RestoreDocument(
            document_id=doc_id, request=RestoreRequest(days=1, permanent=permanent)
        )
        allowed = doc.state in ("archived", "restoring", "restored")
        if not self.expect(
            doc_id, allowed, lambda: archive.restore_document(self.ports, EDITOR, command)
        ):
            return
        if doc.state == "archived":
            doc.state, doc.version, doc.permanent = "restoring", doc.version + 1, permanent
            doc.log("restore_requested", ED)
        elif doc.state == "restoring":
            if permanent and not doc.permanent:
                doc.version, doc.permanent = doc.version + 1, True
                doc.log("restore_requested", ED)
        elif permanent:
            doc.state, doc.version, doc.permanent = "active", doc.version + 1, False
            doc.log("made_permanent", ED)
            if doc.held:
                doc.holds_synced = False
        else:
            doc.version += 1  # the restored copy's expiry is extended
            doc.log("restore_requested", ED)

    @rule()
    def restores_finish(self) -> None:
        self.advance(3)  # the fake's Glacier takes three hours
        self.deliver(self.blobs.notifications())  # type: ignore[attr-defined]
        for doc in self.model.values():
            if doc.state == "restoring" and not doc.gone:
                doc.state, doc.version = "restored", doc.version + 1
                doc.log("restored", INGEST)
                if doc.permanent:
                    doc.state, doc.version, doc.permanent = "active", doc.version + 1, False
                    doc.log("made_permanent", INGEST)
                    if doc.held:
                        doc.holds_synced = False

    @rule()
    def days_pass_and_reconcile(self) -> None:
        self.restores_finish()
        self.advance(72)
        self.deliver(self.blobs.notifications())  # type: ignore[attr-defined]
        reconcile(self.ports)
        for doc in self.model.values():
            expired = doc.state == "pending" and doc.pending is not None
            if expired and doc.history[-1][0] not in ("upload_expired", "upload_aborted"):
                doc.log("upload_expired", RECONCILE)  # read as gone already; now it ends
                doc.gone = True
                continue
            if doc.gone:
                continue
            if doc.state == "restored":
                doc.state, doc.version = "archived", doc.version + 1
                doc.log("restore_expired", INGEST)
            if doc.pending is not None:
                if doc.pending.first:
                    doc.log("upload_expired", RECONCILE)
                    doc.gone = True
                else:
                    doc.pending, doc.version = None, doc.version + 1
                    doc.log("upload_expired", RECONCILE)
        for doc in self.model.values():
            trashed = doc.trashed_hours
            due = trashed is not None and self.hours >= trashed + TRASH_HOURS
            if not doc.gone and due and not doc.held:
                doc.log("purged", RECONCILE)
                doc.gone = True
        for doc in self.model.values():
            if doc.gone or doc.blocked or len(doc.revisions) <= KEEP_REVISIONS:
                continue
            older, newest = doc.revisions[:-KEEP_REVISIONS], doc.revisions[-KEEP_REVISIONS:]
            kept = [r for r in older if self.hours < r.hours + KEEP_HOURS]
            if len(kept) < len(older):
                doc.revisions = [*kept, *newest]
                doc.version += 1  # pruning is housekeeping: a version, no history entry

    @rule(doc_id=docs, key=st.sampled_from("abc"), value=st.none() | st.integers(0, 3))
    def patch(self, doc_id: DocumentId, key: str, value: int | None) -> None:
        doc = self.model[doc_id]
        command = UpdateMetadata(document_id=doc_id, patch={key: value})
        allowed = doc.state != "rejected"
        if self.expect(
            doc_id, allowed, lambda: documents.update_metadata(self.ports, EDITOR, command)
        ):
            before = dict(doc.metadata)
            if value is None:
                doc.metadata.pop(key, None)
            else:
                doc.metadata[key] = value
            if doc.metadata != before:
                doc.version += 1
                doc.log("metadata_updated", ED)

    @rule(doc_id=docs, content=contents)
    def replace_direct(self, doc_id: DocumentId, content: bytes) -> None:
        doc = self.model[doc_id]
        command = ReplaceDocument(document_id=doc_id, file_name="g", content=content)
        if self.expect_held(
            doc_id,
            doc.state == "active",
            lambda: documents.replace_document(self.ports, EDITOR, command),
        ):
            if doc.pending is not None:
                self.stale_targets.append(doc.pending)
            doc.content, doc.version, doc.pending = content, doc.version + 1, None
            doc.log("replaced", ED)
            doc.add_revision(content, self.hours)
            self.undelivered.add(f"{sidecar_key(doc_id)[:-9]}r{doc.version}")

    @rule(doc_id=docs, content=contents, declare_sha=st.booleans())
    def replace_presigned(self, doc_id: DocumentId, content: bytes, declare_sha: bool) -> None:
        doc = self.model[doc_id]
        sha = hashlib.sha256(content).hexdigest() if declare_sha else None
        command = ReplaceDocument(document_id=doc_id, file_name="g", size=len(content), sha256=sha)
        views = []
        if self.expect_held(
            doc_id,
            doc.state == "active",
            lambda: views.append(documents.replace_document(self.ports, EDITOR, command)),
        ):
            assert views[0].upload is not None
            if doc.pending is not None:
                self.stale_targets.append(doc.pending)
            doc.version += 1
            doc.log("replace_started", ED)
            doc.pending = Pending(content, views[0].upload, False, self.hours + 1)

    def expect_held(self, doc_id: DocumentId, allowed: bool, call) -> bool:
        """Like `expect`, but a hold refuses first (409 legal_hold) when the rest allows."""
        doc = self.model[doc_id]
        if not doc.gone and doc.trashed_hours is None and allowed and doc.held:
            with pytest.raises(LegalHoldError):
                call()
            return False
        return self.expect(doc_id, allowed, call)

    @rule(doc_id=docs)
    def delete(self, doc_id: DocumentId) -> None:
        doc = self.model[doc_id]
        command = DeleteDocument(document_id=doc_id)
        if not self.expect_held(
            doc_id, True, lambda: documents.delete_document(self.ports, EDITOR, command)
        ):
            return
        if doc.pending is not None:
            self.stale_targets.append(doc.pending)
        if doc.state == "pending":
            doc.log("upload_aborted", ED)
            doc.gone = True
            return
        if doc.pending is not None:
            doc.log("upload_aborted", ED)
            doc.pending = None
        doc.log("deleted", ED)
        doc.version += 1
        doc.trashed_hours = self.hours

    @rule(doc_id=docs)
    def restore_from_trash(self, doc_id: DocumentId) -> None:
        doc = self.model[doc_id]
        if doc.gone or doc.trashed_hours is None:
            with pytest.raises(DocumentNotFoundError):
                trash.restore_from_trash(self.ports, EDITOR, doc_id)
            return
        trash.restore_from_trash(self.ports, EDITOR, doc_id)
        doc.trashed_hours = None
        doc.version += 1
        doc.log("undeleted", ED)

    @rule(doc_id=docs)
    def purge(self, doc_id: DocumentId) -> None:
        doc = self.model[doc_id]
        if doc.gone or doc.trashed_hours is None:
            with pytest.raises(DocumentNotFoundError):
                trash.purge_from_trash(self.ports, ADMIN, doc_id)
            return
        if doc.held:
            with pytest.raises(LegalHoldError):
                trash.purge_from_trash(self.ports, ADMIN, doc_id)
            return
        trash.purge_from_trash(self.ports, ADMIN, doc_id)
        doc.log("purged", AD)
        doc.gone = True

    @rule(doc_id=docs, data=st.data())
    def restore_revision(self, doc_id: DocumentId, data: st.DataObject) -> None:
        doc = self.model[doc_id]
        numbers = [r.number for r in doc.revisions] or [1]
        number = data.draw(st.sampled_from(numbers))

        def call() -> None:
            revisions.restore_revision(self.ports, EDITOR, doc_id, number)

        allowed = doc.state == "active" and doc.pending is None and bool(doc.revisions)
        if self.expect_held(doc_id, allowed, call):
            source = next(r for r in doc.revisions if r.number == number)
            doc.content, doc.version = source.content, doc.version + 1
            doc.log("revision_restored", ED)
            doc.add_revision(source.content, self.hours)
            self.undelivered.add(f"{sidecar_key(doc_id)[:-9]}r{doc.version}")

    @rule(doc_id=docs, enabled=st.booleans())
    def legal_hold(self, doc_id: DocumentId, enabled: bool) -> None:
        doc = self.model[doc_id]

        def call() -> None:
            holds.set_legal_hold(
                self.ports, ADMIN, doc_id, enabled=enabled, reason="case 7" if enabled else None
            )

        if not self.expect(doc_id, doc.state != "pending" or not enabled, call, trashed_ok=True):
            return
        if enabled and not doc.held:
            # Applied at once when no version is recorded (a rejected upload has none).
            doc.held, doc.holds_synced = True, not doc.revisions
            doc.version += 1
            doc.log("legal_hold_set", AD)
        elif not enabled and doc.held:
            doc.held = False
            doc.version += 1
            doc.log("legal_hold_released", AD)

    @rule()
    def worker_runs(self) -> None:
        """The transfer worker takes every order: here, hold orders (copies stay small)."""
        queue = self.ports.transfers
        while messages := queue.receive(limit=10):
            for message in messages:
                order = holds.HoldOrder.decode(message.body)
                assert order is not None
                holds.apply_holds(self.ports, order.document_id)
                queue.delete(message)
        for doc in self.model.values():
            if doc.gone:
                continue
            if doc.held and not doc.holds_synced:
                doc.version += 1
                doc.log("legal_hold_set", WORKER)
                doc.storage_holds = True
            elif not doc.held and doc.storage_holds:
                doc.version += 1
                doc.log("legal_hold_released", WORKER)
                doc.storage_holds = False
            doc.holds_synced = True

    # ---- invariants -----------------------------------------------------------------------

    @invariant()
    def documents_match_the_model(self) -> None:
        for doc_id, doc in self.model.items():
            if doc.gone or doc.trashed_hours is not None:
                with pytest.raises(DocumentNotFoundError):
                    documents.get_document(self.ports, EDITOR, doc_id)
                continue
            stored = documents.get_document(self.ports, EDITOR, doc_id).document
            assert stored.state.value == doc.state, doc_id
            assert stored.version == doc.version, doc_id
            assert dict(stored.metadata) == doc.metadata
            if doc.content is not None and doc.state != "rejected":
                assert stored.size == len(doc.content)
                assert stored.sha256 == hashlib.sha256(doc.content).hexdigest()
            if doc.state in ("active", "restored"):
                url = documents.get_content(self.ports, EDITOR, doc_id).url
                assert self.blobs.client_get(url) == doc.content  # type: ignore[attr-defined]
                # The link names the version the record holds, which is the current one.
                assert stored.revision is not None
                current = self.blobs.current_version(ContentRef(doc_id, stored.revision))
                assert parse_qs(urlsplit(url).query)["versionId"] == [current]
            else:
                with pytest.raises(KumoError):
                    documents.get_content(self.ports, EDITOR, doc_id)

    @invariant()
    def history_is_exactly_the_changes_in_order_with_their_actors(self) -> None:
        if not hasattr(self, "model"):
            return
        repo = self.ports.documents
        assert isinstance(repo, InMemoryDocumentRepository)
        for doc_id, doc in self.model.items():
            entries = [(e.event, _actor(e.actor)) for e in repo.entries(doc_id)]
            assert entries == doc.history, doc_id

    @invariant()
    def every_kept_revision_is_readable_by_its_key(self) -> None:
        if not hasattr(self, "model"):
            return
        blobs = self.blobs
        assert isinstance(blobs, InMemoryBlobStore)
        for doc_id, doc in self.model.items():
            if doc.gone:
                continue
            stored = self.ports.documents.get(doc_id)
            kept = stored.kept_revisions
            assert [r.number for r in kept] == [r.number for r in doc.revisions], doc_id
            for revision, expected in zip(kept, doc.revisions, strict=True):
                assert revision.version_id is not None
                obj = blobs.version(
                    content_key_of_revision(doc_id, revision.key), revision.version_id
                )
                assert obj is not None, (doc_id, revision)
                assert obj.data == expected.content
            for held in stored.held_versions:  # nothing held is ever deleted
                key = content_key_of_revision(doc_id, held.key)
                assert blobs.version(key, held.version_id) is not None
            if doc.trashed_hours is not None and not doc.gone:
                listed = trash.list_trash(self.ports, EDITOR, limit=100).items
                assert doc_id in {view.document.id for view in listed}

    @invariant()
    def no_orphaned_objects_once_events_are_delivered(self) -> None:
        if not hasattr(self, "model"):
            return
        expected = set(self.undelivered)
        for doc_id, doc in self.model.items():
            try:  # an expired first upload keeps its record until reconciliation
                stored = self.ports.documents.get(doc_id)
            except DocumentNotFoundError:
                continue
            expected.add(sidecar_key(doc_id))
            expected |= {content_key_of_revision(doc_id, r.key) for r in stored.kept_revisions}
            if doc.blocked or stored.held_versions:
                # Nothing of a trashed or held document is deleted, not even a leftover.
                prefix = sidecar_key(doc_id)[:-9]
                expected |= {k for k in self.blobs.objects if k.startswith(prefix)}  # type: ignore[attr-defined]
        objects = {key for key in self.blobs.objects if parse_key(key) is not None}  # type: ignore[attr-defined]
        assert objects <= expected, objects - expected


def _actor(actor: object) -> str:
    plain = actor_json(actor)  # type: ignore[arg-type]
    if "system" in plain:
        return f"system:{plain['system']}"
    return f"user:{plain['name']}"


def content_key_of(view: documents.DocumentView) -> str:
    doc = view.document
    assert doc.revision is not None
    return content_key_of_revision(doc.id, doc.revision)


def content_key_of_revision(doc_id: DocumentId, revision: int) -> str:
    return content_key(ContentRef(doc_id, revision))


def target_key(target: UploadTarget) -> str:
    if target.method == "POST":
        return target.fields["key"]
    assert target.url is not None
    return target.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]


TestLifecycle = Lifecycle.TestCase
# Shorter runs, more of them: the CI profile's 200 examples stay within the unit-test budget.
TestLifecycle.settings = settings(settings.default, stateful_step_count=25)
