"""Domain layer: the tunable limits of KumoCMS as one pure, frozen value object."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs

from kumocms.search import IndexedFields

MiB = 1024**2


def _not_negative(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValueError(f"{attribute.name} must not be negative")


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, timedelta):
        ok = value > timedelta(0)
    else:
        ok = isinstance(value, int) and value > 0
    if not ok:
        raise ValueError(f"{attribute.name} must be positive")


@attrs.frozen(kw_only=True)
class Settings:
    """Limits and defaults the use cases apply; the edge builds this from its configuration."""

    direct_upload_limit: int = attrs.field(default=4 * MiB, validator=_positive)
    """Largest file accepted in the request body; larger files go through presigned uploads."""
    multipart_threshold: int = attrs.field(default=100 * MiB, validator=_positive)
    """Presigned uploads above this size are multipart."""
    part_size: int = attrs.field(default=16 * MiB, validator=_positive)
    """Preferred multipart part size (grown when a file would need more than 10,000 parts)."""
    presign_ttl: timedelta = attrs.field(default=timedelta(hours=1), validator=_positive)
    """Lifetime of every presigned URL."""
    pending_upload_ttl: timedelta = attrs.field(default=timedelta(hours=24), validator=_positive)
    """A presigned upload that has not arrived by then expires and its document is deleted."""
    verify_sha256_limit: int = attrs.field(default=512 * MiB, validator=_positive)
    """Largest upload whose SHA-256 is recomputed when storage cannot report it."""
    default_restore_days: int = attrs.field(default=1, validator=_positive)
    list_default_limit: int = attrs.field(default=50, validator=_positive)
    list_max_limit: int = attrs.field(default=100, validator=_positive)
    conflict_retries: int = attrs.field(default=5, validator=_positive)
    """How many times an event or request re-reads a document after a version conflict."""
    orphan_grace: timedelta = attrs.field(default=timedelta(minutes=15), validator=_positive)
    """An object for an unknown document younger than this is retried, older is deleted."""
    restore_poll_interval: timedelta | None = None
    """Retry-After for a running restore; None derives it from the tier's window."""
    restore_stuck_factor: int = attrs.field(default=2, validator=_positive)
    """A restore is stuck when it takes this many times its tier's typical window."""
    sync_copy_limit: int = attrs.field(default=256 * MiB, validator=_positive)
    """Largest object copied within a request (archive, permanent restore); larger ones go to
    the transfer worker."""
    copy_part_size: int = attrs.field(default=512 * MiB, validator=_positive)
    """Preferred UploadPartCopy part size of the worker (grown to stay within 10,000 parts)."""
    copy_concurrency: int = attrs.field(default=8, validator=_positive)
    """UploadPartCopy requests the worker runs at once."""
    copy_stall: timedelta = attrs.field(default=timedelta(seconds=900), validator=_positive)
    """A copy without progress for this long is rolled back by reconcile."""
    copy_max_attempts: int = attrs.field(default=5, validator=_positive)
    """Failed worker runs of one copy before it is rolled back."""
    copy_assumed_throughput: int = attrs.field(default=25 * MiB, validator=_positive)
    """Bytes per second one UploadPartCopy is assumed to move before the worker has measured
    any (a pessimistic figure: it only decides when to hand over early)."""
    indexed_fields: IndexedFields = attrs.field(factory=IndexedFields)
    """Metadata fields declared as indexed (§10): a schema for the values requests set, and
    what `GET /documents` can filter on."""
    trash_retention: timedelta = attrs.field(default=timedelta(days=30), validator=_not_negative)
    """A trashed document is purged by reconcile this long after its deletion (0: next run)."""
    max_revisions: int = attrs.field(default=20, validator=_positive)
    """Revisions kept whatever their age (with the younger ones, whichever keeps more)."""
    revision_retention: timedelta = attrs.field(default=timedelta(days=90), validator=_not_negative)
    """Revisions younger than this are kept whatever their number."""
    history_retention: timedelta = attrs.field(default=timedelta(days=400), validator=_positive)
    """History entries outlive their document's purge (or expiry) by this long."""
