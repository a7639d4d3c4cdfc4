"""Domain layer: legal holds — recorded at once, placed on every object version by the worker.

`PUT /documents/{id}/legal-hold` records the hold (deletes, replaces, revision restores and
purges are refused from that moment) and sends a `HoldOrder` to the transfer queue. The worker
(`apply_holds`) places an S3 Object Lock legal hold on every object version the record knows
of (`Document.recorded_versions`: each kept revision's), then records them in `held_versions`;
`legal_hold.applied` is true once every recorded version is held. Versions made while the hold
is on (an archive copy) are held the same way. A release lifts every recorded hold.
"""

from __future__ import annotations

import json

import attrs

from kumocms.errors import DocumentNotFoundError, ValidationError
from kumocms.ids import DocumentId
from kumocms.keys import ContentRef
from kumocms.model import Document, HeldVersion
from kumocms.ports import Ports
from kumocms.usecases.common import (
    DocumentView,
    commit,
    download_link,
    find,
    is_gone,
    revision_version,
    with_conflict_retries,
)
from kumocms.users import Actor, Permission, Principal

WORKER = Actor.of_system("transfer")


@attrs.frozen(kw_only=True)
class HoldOrder:
    """The transfer queue's message asking the worker to bring storage holds up to date."""

    document_id: DocumentId

    def encode(self) -> str:
        """The message body."""
        return json.dumps({"kind": "holds", "document_id": self.document_id.value})

    @classmethod
    def decode(cls, body: str) -> HoldOrder | None:
        """The order a body holds, or None when it is not a hold order."""
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") != "holds":
            return None
        document_id = data.get("document_id")
        if not isinstance(document_id, str):
            raise ValidationError("not a hold order", field="body")
        return cls(document_id=DocumentId.parse(document_id))


def set_legal_hold(
    ports: Ports,
    actor: Principal,
    document_id: DocumentId,
    *,
    enabled: bool,
    reason: str | None,
    if_match: int | None = None,
) -> DocumentView:
    """Record or release a legal hold (admin); a trashed document can be held too.

    The hold is in force when this returns; the worker then places the storage holds.

    Raises:
        ForbiddenError: the caller is not an admin.
        DocumentNotFoundError: no such document (or a pending upload that expired).
        ValidationError: `reason` is missing when enabling.
        DependencyError: the transfer queue could not be reached (the hold is recorded; a
            retry sends the order again).
    """
    actor.require(Permission.MANAGE_USERS)

    def attempt(document: Document) -> Document:
        now = ports.clock.now()
        if enabled:
            changed = document.set_legal_hold(reason=reason or "", by=actor.actor, now=now)
        else:
            changed = document.release_legal_hold(now)
        if changed is None:
            return document
        return commit(ports, document, changed, by=actor.actor)

    document = with_conflict_retries(
        ports, document_id, attempt, if_match=if_match, loader=_existing
    )
    request_holds(ports, document)
    return DocumentView(
        document=document,
        download=None if document.trash is not None else download_link(ports, document),
    )


def request_holds(ports: Ports, document: Document) -> None:
    """Ask the worker to bring storage holds up to date when the record says they are not.

    That is after a hold is set or released, or a new version is made while one is on.

    Raises:
        DependencyError: the transfer queue could not be reached.
    """
    if document.holds_outdated():
        ports.transfers.send(HoldOrder(document_id=document.id).encode())


def apply_holds(ports: Ports, document_id: DocumentId) -> bool:
    """Bring storage holds up to date with the record; returns whether anything changed.

    With a hold on, every recorded version gets a storage hold (versions held earlier stay
    held until the release); without one, every held version is released. Each request is
    idempotent, so a run that dies half-way is simply repeated.
    """

    def attempt(document: Document) -> bool:
        held = set(document.held_versions)
        found: dict[int, str] = {}
        if document.legal_hold is not None:
            for revision in document.kept_revisions:
                if revision.version_id is None:  # recorded before versions were: look it up
                    current = revision_version(ports, document, revision)
                    if current is not None:
                        found[revision.key] = current
            wanted = document.recorded_versions() | {
                HeldVersion(key=key, version_id=version) for key, version in found.items()
            }
            for version in sorted(wanted - held):
                ports.blobs.set_legal_hold(
                    ContentRef(document.id, version.key), version.version_id, on=True
                )
            result = frozenset(held | wanted)
        else:
            for version in sorted(held):
                ports.blobs.set_legal_hold(
                    ContentRef(document.id, version.key), version.version_id, on=False
                )
            result = frozenset()
        changed = document.record_holds(result, ports.clock.now(), found=found)
        if changed is None:
            return False
        commit(ports, document, changed, by=WORKER)
        return True

    return with_conflict_retries(ports, document_id, attempt, loader=find, absent=lambda: False)


def _existing(ports: Ports, document_id: DocumentId) -> Document:
    document = ports.documents.get(document_id)
    if is_gone(document, ports.clock.now()):
        raise DocumentNotFoundError(f"document {document_id} not found")
    return document


__all__ = ["HoldOrder", "apply_holds", "request_holds", "set_legal_hold"]
