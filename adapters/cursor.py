"""Adapters layer: the opaque list cursor shared by every DocumentRepository."""

from __future__ import annotations

import base64
import binascii
import json

from kumocms.errors import InvalidCursorError, InvalidIdError
from kumocms.ids import DocumentId, UlidId, UserId
from kumocms.states import ArchiveState

_VERSION = 1


def encode_cursor(after: UlidId, *, scope: str) -> str:
    """A cursor that resumes a listing after `after`, valid only for the same `scope`."""
    raw = json.dumps({"v": _VERSION, "a": after.value, "s": scope}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_document_cursor(cursor: str, *, scope: str) -> DocumentId:
    """The document id a cursor resumes after.

    Raises:
        InvalidCursorError: the cursor is malformed, altered or from another listing.
    """
    return DocumentId.parse(_decode(cursor, scope))


def decode_user_cursor(cursor: str, *, scope: str) -> UserId:
    """The user id a cursor resumes after.

    Raises:
        InvalidCursorError: the cursor is malformed, altered or from another listing.
    """
    return UserId.parse(_decode(cursor, scope))


def document_scope(state: ArchiveState | None) -> str:
    """The listing a document cursor belongs to."""
    return "documents" if state is None else f"documents:{state.value}"


def encode_position(position: str, *, scope: str) -> str:
    """A cursor that resumes a search after index position `position` (§10)."""
    raw = json.dumps({"v": _VERSION, "p": position, "s": scope}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_position(cursor: str, *, scope: str) -> str:
    """The index position a search cursor resumes after.

    Raises:
        InvalidCursorError: the cursor is malformed, altered, or made for another filter.
    """
    data = _load(cursor)
    if data.get("s") != scope or not isinstance(data.get("p"), str) or not data["p"]:
        raise InvalidCursorError(
            "cursor is not valid for this listing; a cursor works only with the filters "
            "that made it",
            field="cursor",
        )
    return str(data["p"])


def _load(cursor: str) -> dict[str, object]:
    error = InvalidCursorError("cursor is not valid for this listing", field="cursor")
    if not isinstance(cursor, str) or not cursor or len(cursor) > 256:
        raise error
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise error from None
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        raise error
    return data


def _decode(cursor: str, scope: str) -> str:
    error = InvalidCursorError("cursor is not valid for this listing", field="cursor")
    if not isinstance(cursor, str) or not cursor or len(cursor) > 256:
        raise error
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise error from None
    if (
        not isinstance(data, dict)
        or data.get("v") != _VERSION
        or data.get("s") != scope
        or not isinstance(data.get("a"), str)
    ):
        raise error
    try:
        DocumentId.parse(data["a"])
    except InvalidIdError:
        raise error from None
    return str(data["a"])
