"""Domain layer: the value objects that cross the ports on the write side.

Uploads, restores, user pages, idempotency records and queued messages. A function that only
reads documents never builds these classes: `kumocms.ports` hands them out on first use, and
the adapters on a read path import them where they make one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from kumocms.model import StoredContent
    from kumocms.users import User


@attrs.frozen(kw_only=True)
class PartUrl:
    """Where to PUT one part of a multipart upload."""

    part_number: int
    url: str


@attrs.frozen(kw_only=True)
class UploadTarget:
    """How the client uploads content itself: a PUT, a form POST, or presigned parts."""

    method: str  # "PUT" | "POST" | "MULTIPART"
    expires_at: datetime
    url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    fields: Mapping[str, str] = attrs.field(factory=dict)
    part_size: int | None = None
    parts: tuple[PartUrl, ...] = ()


@attrs.frozen(kw_only=True)
class CompletedPart:
    """A part the client uploaded, identified by the ETag storage returned for it."""

    part_number: int
    etag: str


class RestoreOutcome(enum.Enum):
    """What storage said to a restore request."""

    STARTED = "started"
    IN_PROGRESS = "in_progress"
    ALREADY_RESTORED = "already_restored"


@attrs.frozen(kw_only=True)
class RestoreStatus:
    """Storage's view of an archived object's restore."""

    ongoing: bool
    expires_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ObjectInfo:
    """What storage knows about one object right now."""

    content: StoredContent
    restore: RestoreStatus | None = None


@attrs.frozen(kw_only=True)
class UserPage:
    """One page of users and the cursor of the next page."""

    items: tuple[User, ...]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Remembered:
    """What a completed request left under an idempotency scope.

    `outcome` is opaque text: the caller decides what it records and how to read it back.
    """

    fingerprint: str
    outcome: str


@attrs.frozen(kw_only=True)
class QueuedMessage:
    """A message taken from a queue: hidden from other readers until deleted or released."""

    id: str
    body: str
    attempts: int = 0
    """How many times processing it has been retried (carried with the message)."""
    last_error: str | None = None
    """What made the last attempt fail, when one did."""
    receipt: str = attrs.field(default="", repr=False)
    """The queue's token for this delivery, needed to delete or release it."""


class IdempotencyClaim(enum.Enum):
    """Outcome of claiming an idempotency key that nobody has completed."""

    CLAIMED = "claimed"
    """The caller owns the scope now and must complete or release it."""
    IN_FLIGHT = "in_flight"
    """The same request is being processed by someone else."""
    REUSED = "reused"
    """A different request is being processed with the same key."""
