"""A Hypothesis state machine drives documents through their whole life and compares the
system with a small reference model written without the transition table.

Storage notifications are delivered late, shuffled and duplicated; clients upload matching
and mismatching content; restores finish and expire on the clock; reconciliation runs.
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
    consumes,
    initialize,
    invariant,
    rule,
)

from adapters.memory import in_memory_ports
from kumocms.commands import (
    ArchiveDocument,
    DeleteDocument,
    ReplaceDocument,
    RestoreDocument,
    UpdateMetadata,
    UploadDocument,
)
from kumocms.errors import ConflictError, DocumentNotFoundError, KumoError, RetryLaterError
from kumocms.ids import DocumentId, UserId
from kumocms.keys import ContentRef, content_key, parse_key, sidecar_key
from kumocms.model import RestoreRequest
from kumocms.ports import UploadTarget
from kumocms.states import StorageClass
from kumocms.usecases import archive, documents
from kumocms.usecases.ingest import handle_storage_event
from kumocms.usecases.reconcile import reconcile
from kumocms.users import Principal, Role

EDITOR = Principal(user_id=UserId.parse("01J0000000000000000000ED17"), name="e", role=Role.EDITOR)
HOUR = timedelta(hours=1)


@dataclass
class Pending:
    """A client upload the model expects: what was declared and what the client sent."""

    declared: bytes
    target: UploadTarget
    first: bool
    url_expires: float
    sent: bytes | None = None


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


contents = st.binary(min_size=1, max_size=40)


class Lifecycle(RuleBasedStateMachine):
    docs = Bundle("docs")

    @initialize()
    def setup(self) -> None:
        self.ports = in_memory_ports()
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
            elif matches:
                doc.content = pending.sent

    def expect(self, doc_id: DocumentId, allowed: bool, call) -> bool:
        doc = self.model[doc_id]
        if doc.gone:
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
        self.model[view.document.id] = Doc("active", 1, content, self.hours, dict(meta))
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
        self.model[view.document.id] = Doc("pending", 1, None, self.hours, pending=pending)
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
        elif doc.state == "restoring":
            if permanent and not doc.permanent:
                doc.version, doc.permanent = doc.version + 1, True
        elif permanent:
            doc.state, doc.version, doc.permanent = "active", doc.version + 1, False
        else:
            doc.version += 1  # the restored copy's expiry is extended

    @rule()
    def restores_finish(self) -> None:
        self.advance(3)  # the fake's Glacier takes three hours
        self.deliver(self.blobs.notifications())  # type: ignore[attr-defined]
        for doc in self.model.values():
            if doc.state == "restoring":
                doc.state, doc.version = "restored", doc.version + 1
                if doc.permanent:
                    doc.state, doc.version, doc.permanent = "active", doc.version + 1, False

    @rule()
    def days_pass_and_reconcile(self) -> None:
        self.restores_finish()
        self.advance(72)
        self.deliver(self.blobs.notifications())  # type: ignore[attr-defined]
        reconcile(self.ports)
        for doc in self.model.values():
            if doc.gone:
                continue
            if doc.state == "restored":
                doc.state, doc.version = "archived", doc.version + 1
            if doc.pending is not None:
                if doc.pending.first:
                    doc.gone = True
                else:
                    doc.pending, doc.version = None, doc.version + 1

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

    @rule(doc_id=docs, content=contents)
    def replace_direct(self, doc_id: DocumentId, content: bytes) -> None:
        doc = self.model[doc_id]
        command = ReplaceDocument(document_id=doc_id, file_name="g", content=content)
        if self.expect(
            doc_id,
            doc.state == "active",
            lambda: documents.replace_document(self.ports, EDITOR, command),
        ):
            if doc.pending is not None:
                self.stale_targets.append(doc.pending)
            doc.content, doc.version, doc.pending = content, doc.version + 1, None
            self.undelivered.add(f"{sidecar_key(doc_id)[:-9]}r{doc.version}")

    @rule(doc_id=docs, content=contents, declare_sha=st.booleans())
    def replace_presigned(self, doc_id: DocumentId, content: bytes, declare_sha: bool) -> None:
        doc = self.model[doc_id]
        sha = hashlib.sha256(content).hexdigest() if declare_sha else None
        command = ReplaceDocument(document_id=doc_id, file_name="g", size=len(content), sha256=sha)
        views = []
        if self.expect(
            doc_id,
            doc.state == "active",
            lambda: views.append(documents.replace_document(self.ports, EDITOR, command)),
        ):
            assert views[0].upload is not None
            if doc.pending is not None:
                self.stale_targets.append(doc.pending)
            doc.version += 1
            doc.pending = Pending(content, views[0].upload, False, self.hours + 1)

    @rule(doc_id=consumes(docs))
    def delete(self, doc_id: DocumentId) -> None:
        doc = self.model[doc_id]
        command = DeleteDocument(document_id=doc_id)
        if self.expect(
            doc_id, True, lambda: documents.delete_document(self.ports, EDITOR, command)
        ):
            if doc.pending is not None:
                self.stale_targets.append(doc.pending)
            doc.gone = True

    # ---- invariants -----------------------------------------------------------------------

    @invariant()
    def documents_match_the_model(self) -> None:
        for doc_id, doc in self.model.items():
            if doc.gone:
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
    def no_orphaned_objects_once_events_are_delivered(self) -> None:
        if not hasattr(self, "model"):
            return
        expected = set(self.undelivered)
        for doc_id in self.model:
            try:  # an expired first upload keeps its record until reconciliation
                stored = self.ports.documents.get(doc_id)
            except DocumentNotFoundError:
                continue
            expected.add(sidecar_key(doc_id))
            if stored.revision is not None:
                expected.add(content_key_of_revision(doc_id, stored.revision))
        objects = {key for key in self.blobs.objects if parse_key(key) is not None}  # type: ignore[attr-defined]
        assert objects <= expected, objects - expected


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
