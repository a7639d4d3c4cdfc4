"""Domain layer: ULID-based identifiers for documents and users."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Self

import attrs

from kumocms.errors import InvalidIdError

if TYPE_CHECKING:
    from ulid import ULID

_CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _canonical_ulid(value: object, kind: str) -> str:
    """The canonical (upper-case) text of a ULID.

    Checked here rather than by python-ulid, whose import (it reads its own package metadata)
    costs every cold start that only parses ids: 26 Crockford characters whose first is 0-7
    decode to 128 bits, and encoding those bits again gives back exactly this text.
    """
    if not isinstance(value, str) or len(value) != 26:
        raise InvalidIdError(f"{kind} must be a 26-character ULID", field=kind)
    upper = value.upper()
    # ULID's first character encodes the top 3 bits of a 48-bit timestamp: 0-7 only.
    if not set(upper) <= _CROCKFORD or upper[0] > "7":
        raise InvalidIdError(f"{kind} must be a 26-character ULID", field=kind)
    return upper


@attrs.frozen(order=True)
class UlidId:
    """A ULID value object: canonical upper-case text, ordered by creation time."""

    value: str

    @classmethod
    def parse(cls, text: object) -> Self:
        """Parse and validate text (any case) into the canonical id.

        Raises:
            InvalidIdError: the text is not a ULID.
        """
        return cls(_canonical_ulid(text, cls._kind()))

    @classmethod
    def from_ulid(cls, ulid: ULID) -> Self:
        """Wrap a freshly generated ULID."""
        return cls(str(ulid))

    @classmethod
    def _kind(cls) -> str:
        return "id"

    @property
    def created_at(self) -> datetime:
        """The creation time encoded in the id's first 48 bits."""
        from ulid import ULID  # noqa: PLC0415 - see _canonical_ulid

        return ULID.from_str(self.value).datetime

    def __str__(self) -> str:
        return self.value


@attrs.frozen(order=True)
class DocumentId(UlidId):
    """Identifies a document; ULIDs sort by creation time."""

    @classmethod
    def _kind(cls) -> str:
        return "document_id"


@attrs.frozen(order=True)
class UserId(UlidId):
    """Identifies a user."""

    @classmethod
    def _kind(cls) -> str:
        return "user_id"
