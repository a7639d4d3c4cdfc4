"""Domain layer: ULID-based identifiers for documents and users."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import attrs
from ulid import ULID

from kumocms.errors import InvalidIdError

_CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _parse_ulid(value: object, kind: str) -> ULID:
    if not isinstance(value, str) or len(value) != 26:
        raise InvalidIdError(f"{kind} must be a 26-character ULID", field=kind)
    upper = value.upper()
    # ULID's first character encodes the top 3 bits of a 48-bit timestamp: 0-7 only.
    if not set(upper) <= _CROCKFORD or upper[0] > "7":
        raise InvalidIdError(f"{kind} must be a 26-character ULID", field=kind)
    return ULID.from_str(upper)


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
        return cls(str(_parse_ulid(text, cls._kind())))

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
