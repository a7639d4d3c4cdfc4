"""Entrypoints layer: JSON representations of documents, uploads and users (snake_case).

Documents, restores, links and users are each defined once, as a tuple of fields that give a
field's name, its JSON Schema and how to read it: the responses and the OpenAPI schemas are
both made from these tuples, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from entrypoints.http.routes import ULID_PATTERN
from kumocms.history import EVENTS, HistoryEntry, actor_json
from kumocms.model import Document, LegalHold, RestoreInfo
from kumocms.ports import PresignedUrl
from kumocms.rules import metadata_to_plain
from kumocms.states import ArchiveState, RestoreTier, StorageClass
from kumocms.usecases.common import DocumentView, RevisionView
from kumocms.users import Role, User

if TYPE_CHECKING:
    from kumocms.portvalues import PartUrl, UploadTarget

Source = TypeVar("Source")
TIME: Mapping[str, Any] = {"type": "string", "format": "date-time"}
NULLABLE_TIME: Mapping[str, Any] = {"type": ["string", "null"], "format": "date-time"}


def schema_ref(name: str) -> dict[str, str]:
    """A reference to one of the OpenAPI document's component schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str) -> dict[str, Any]:
    return {"oneOf": [schema_ref(name), {"type": "null"}]}


@attrs.frozen
class Field(Generic[Source]):
    """One member of a JSON object: its name, its JSON Schema and how to read it."""

    name: str
    schema: Mapping[str, Any]
    read: Callable[[Source], Any]
    required: bool = True


def render(fields: tuple[Field[Source], ...], source: Source) -> dict[str, Any]:
    """The JSON object `fields` make of `source`."""
    return {field.name: field.read(source) for field in fields}


def object_schema(fields: tuple[Field[Any], ...]) -> dict[str, Any]:
    """The JSON Schema of the objects `render(fields, …)` makes."""
    return {
        "type": "object",
        "required": [field.name for field in fields if field.required],
        "properties": {field.name: dict(field.schema) for field in fields},
    }


def timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with milliseconds (`2026-11-28T23:30:28.186Z`)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document_json(view: DocumentView) -> dict[str, Any]:
    """The document representation of §4."""
    return render(DOCUMENT_FIELDS, view)


def etag(document: Document) -> str:
    """The strong entity tag of a document: its version."""
    return f'"{document.version}"'


def link_json(link: PresignedUrl) -> dict[str, Any]:
    """`{url, expires_at}`."""
    return render(LINK_FIELDS, link)


def parts_json(parts: tuple[PartUrl, ...]) -> list[dict[str, Any]]:
    """`[{part_number, url}]`."""
    return [{"part_number": part.part_number, "url": part.url} for part in parts]


def upload_json(target: UploadTarget) -> dict[str, Any]:
    """Upload instructions: PUT (url, headers), POST (url, fields) or MULTIPART (parts)."""
    if target.method == "MULTIPART":
        return {
            "method": "MULTIPART",
            "part_size": target.part_size,
            "parts": parts_json(target.parts),
            "expires_at": timestamp(target.expires_at),
        }
    if target.method == "POST":
        return {
            "method": "POST",
            "url": target.url,
            "fields": dict(target.fields),
            "expires_at": timestamp(target.expires_at),
        }
    return {
        "method": "PUT",
        "url": target.url,
        "headers": dict(target.headers),
        "expires_at": timestamp(target.expires_at),
    }


def _restore_json(restore: RestoreInfo | None) -> dict[str, Any] | None:
    return None if restore is None else render(RESTORE_FIELDS, restore)


def _legal_hold_json(document: Document) -> dict[str, Any] | None:
    hold: LegalHold | None = document.legal_hold
    if hold is None:
        return None
    return {
        "enabled": True,
        "reason": hold.reason,
        "set_by": actor_json(hold.set_by),
        "set_at": timestamp(hold.set_at),
        "applied": document.legal_hold_applied,
    }


def trash_json(view: DocumentView) -> dict[str, Any]:
    """A trashed document: its representation plus `deleted_at`, `deleted_by`, `purge_at`."""
    body = document_json(view)
    trash = view.document.trash
    assert trash is not None
    body["deleted_at"] = timestamp(trash.deleted_at)
    body["deleted_by"] = actor_json(trash.deleted_by)
    body["purge_at"] = timestamp(view.document.purge_at)
    return body


def revision_json(view: RevisionView) -> dict[str, Any]:
    """A kept revision and whether it is current (§11's revision fields)."""
    return render(REVISION_FIELDS, view)


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    """A history entry: `{event, at, actor, version, details}`."""
    return render(HISTORY_FIELDS, entry)


def user_json(user: User, *, api_key: str | None = None) -> dict[str, Any]:
    """A user: never a key or its hash, except the raw key in the response that creates it."""
    body = render(USER_FIELDS, user)
    if api_key is not None:
        body["api_key"] = api_key
    return body


LINK_FIELDS: tuple[Field[PresignedUrl], ...] = (
    Field("url", {"type": "string"}, lambda link: link.url),
    Field("expires_at", TIME, lambda link: timestamp(link.expires_at)),
)
RESTORE_FIELDS: tuple[Field[RestoreInfo], ...] = (
    Field(
        "tier", {"type": "string", "enum": [t.value for t in RestoreTier]}, lambda r: r.tier.value
    ),
    Field("days", {"type": "integer"}, lambda r: r.days),
    Field("permanent", {"type": "boolean"}, lambda r: r.permanent),
    Field("requested_at", TIME, lambda r: timestamp(r.requested_at)),
    Field("ready_at", NULLABLE_TIME, lambda r: timestamp(r.ready_at)),
    Field("expires_at", NULLABLE_TIME, lambda r: timestamp(r.expires_at)),
)
DOCUMENT_FIELDS: tuple[Field[DocumentView], ...] = (
    Field(
        "document_id",
        {"type": "string", "pattern": f"^{ULID_PATTERN}$"},
        lambda v: v.document.id.value,
    ),
    Field("file_name", {"type": "string"}, lambda v: v.document.file_name),
    Field("content_type", {"type": "string"}, lambda v: v.document.content_type),
    Field("size", {"type": "integer"}, lambda v: v.document.size),
    Field("sha256", {"type": ["string", "null"]}, lambda v: v.document.sha256),
    Field(
        "state",
        {"type": "string", "enum": [s.value for s in ArchiveState]},
        lambda v: v.document.state.value,
    ),
    Field(
        "storage_class",
        {"type": "string", "enum": [c.value for c in StorageClass]},
        lambda v: v.document.storage_class.value,
    ),
    Field("version", {"type": "integer", "minimum": 1}, lambda v: v.document.version),
    Field("metadata", {"type": "object"}, lambda v: metadata_to_plain(v.document.metadata)),
    Field("created_at", TIME, lambda v: timestamp(v.document.created_at)),
    Field("updated_at", TIME, lambda v: timestamp(v.document.updated_at)),
    Field("restore", _nullable("Restore"), lambda v: _restore_json(v.document.restore)),
    Field(
        "revision",
        {"type": ["integer", "null"], "minimum": 1},
        lambda v: v.document.revision_number,
    ),
    Field("legal_hold", _nullable("LegalHold"), lambda v: _legal_hold_json(v.document)),
    Field(
        "download",
        _nullable("Link"),
        lambda v: None if v.download is None else link_json(v.download),
    ),
    Field(
        "upload",
        _nullable("Upload"),
        lambda v: None if v.upload is None else upload_json(v.upload),
    ),
)
ACTOR_SCHEMA: Mapping[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "required": ["user_id", "name"],
            "properties": {
                "user_id": {"type": ["string", "null"]},
                "name": {"type": ["string", "null"]},
            },
        },
        {"type": "object", "required": ["system"], "properties": {"system": {"type": "string"}}},
    ]
}
LEGAL_HOLD_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["enabled", "reason", "set_by", "set_at", "applied"],
    "properties": {
        "enabled": {"const": True},
        "reason": {"type": "string"},
        "set_by": ACTOR_SCHEMA,
        "set_at": TIME,
        "applied": {
            "type": "boolean",
            "description": "Whether every object version carries its S3 legal hold yet.",
        },
    },
}
REVISION_FIELDS: tuple[Field[RevisionView], ...] = (
    Field("revision", {"type": "integer", "minimum": 1}, lambda v: v.revision.number),
    Field("file_name", {"type": "string"}, lambda v: v.revision.file_name),
    Field("content_type", {"type": "string"}, lambda v: v.revision.content_type),
    Field("size", {"type": "integer"}, lambda v: v.revision.size),
    Field("sha256", {"type": ["string", "null"]}, lambda v: v.revision.sha256),
    Field(
        "storage_class",
        {"type": "string", "enum": [c.value for c in StorageClass]},
        lambda v: v.revision.storage_class.value,
    ),
    Field("created_at", TIME, lambda v: timestamp(v.revision.created_at)),
    Field("created_by", ACTOR_SCHEMA, lambda v: actor_json(v.revision.created_by)),
    Field("current", {"type": "boolean"}, lambda v: v.current),
)
HISTORY_FIELDS: tuple[Field[HistoryEntry], ...] = (
    Field("event", {"type": "string", "enum": list(EVENTS)}, lambda e: e.event),
    Field("at", TIME, lambda e: timestamp(e.at)),
    Field("actor", ACTOR_SCHEMA, lambda e: actor_json(e.actor)),
    Field("version", {"type": "integer"}, lambda e: e.version),
    Field("details", {"type": "object"}, lambda e: metadata_to_plain(e.details)),
)
USER_FIELDS: tuple[Field[User], ...] = (
    Field("user_id", {"type": "string"}, lambda u: u.id.value),
    Field("name", {"type": "string"}, lambda u: u.name),
    Field("role", {"type": "string", "enum": [r.value for r in Role]}, lambda u: u.role.value),
    Field("disabled", {"type": "boolean"}, lambda u: u.disabled),
    Field("created_at", TIME, lambda u: timestamp(u.created_at), required=False),
    Field("updated_at", TIME, lambda u: timestamp(u.updated_at), required=False),
)
