"""Adapters layer: the real clock and random id generator used outside tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from kumocms.ids import DocumentId, UserId
from kumocms.users import API_KEY_PREFIX


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """The current time."""
        return datetime.now(UTC)


class RandomIds:
    """ULIDs from the system clock and randomness; API keys from `secrets`."""

    def document_id(self) -> DocumentId:
        """A new document id."""
        from ulid import ULID  # noqa: PLC0415 - only functions that create ids pay its import

        return DocumentId.from_ulid(ULID())

    def user_id(self) -> UserId:
        """A new user id."""
        from ulid import ULID  # noqa: PLC0415

        return UserId.from_ulid(ULID())

    def api_key(self) -> str:
        """`kumo_` and 43 URL-safe characters (256 random bits)."""
        return API_KEY_PREFIX + secrets.token_urlsafe(32)

    def copy_id(self) -> str:
        """A new ULID (lower case) naming one transfer worker copy."""
        from ulid import ULID  # noqa: PLC0415

        return str(ULID()).lower()
