"""Entrypoints layer: JSON representations of documents, uploads and users (snake_case)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kumocms.model import Document, RestoreInfo
from kumocms.ports import PartUrl, PresignedUrl, UploadTarget
from kumocms.rules import metadata_to_plain
from kumocms.usecases.common import DocumentView
from kumocms.users import User


def timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with milliseconds (`2026-11-28T23:30:28.186Z`)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document_json(view: DocumentView) -> dict[str, Any]:
    """The document representation of §4."""
    document = view.document
    return {
        "document_id": document.id.value,
        "file_name": document.file_name,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "state": document.state.value,
        "storage_class": document.storage_class.value,
        "version": document.version,
        "metadata": metadata_to_plain(document.metadata),
        "created_at": timestamp(document.created_at),
        "updated_at": timestamp(document.updated_at),
        "restore": _restore_json(document.restore),
        "download": None if view.download is None else link_json(view.download),
        "upload": None if view.upload is None else upload_json(view.upload),
    }


def etag(document: Document) -> str:
    """The strong entity tag of a document: its version."""
    return f'"{document.version}"'


def link_json(link: PresignedUrl) -> dict[str, Any]:
    """`{url, expires_at}`."""
    return {"url": link.url, "expires_at": timestamp(link.expires_at)}


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
    if restore is None:
        return None
    return {
        "tier": restore.tier.value,
        "days": restore.days,
        "permanent": restore.permanent,
        "requested_at": timestamp(restore.requested_at),
        "ready_at": timestamp(restore.ready_at),
        "expires_at": timestamp(restore.expires_at),
    }


def user_json(user: User, *, api_key: str | None = None) -> dict[str, Any]:
    """A user: never a key or its hash, except the raw key in the response that creates it."""
    body: dict[str, Any] = {
        "user_id": user.id.value,
        "name": user.name,
        "role": user.role.value,
        "disabled": user.disabled,
        "created_at": timestamp(user.created_at),
        "updated_at": timestamp(user.updated_at),
    }
    if api_key is not None:
        body["api_key"] = api_key
    return body
