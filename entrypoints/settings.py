"""Entrypoints layer: settings parsed once from the environment into a frozen object."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta

import attrs

from entrypoints.http.envelope import MAX_DIRECT_UPLOAD_LIMIT
from kumocms.search import IndexedFields
from kumocms.settings import Settings


class ConfigurationError(Exception):
    """The environment lacks a variable the function needs, or holds a malformed value."""


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return value


def _direct_upload_limit(environ: Mapping[str, str], default: int) -> int:
    """DIRECT_UPLOAD_LIMIT: at most what fits a synchronous Lambda event in both body forms."""
    value = _int(environ, "DIRECT_UPLOAD_LIMIT", default)
    if value > MAX_DIRECT_UPLOAD_LIMIT:
        raise ConfigurationError(
            f"DIRECT_UPLOAD_LIMIT must be at most {MAX_DIRECT_UPLOAD_LIMIT} bytes: a larger file, "
            "base64-encoded in the API Gateway proxy event, does not fit Lambda's 6 MB "
            "synchronous payload (larger files take presigned uploads)"
        )
    return value


def _seconds(environ: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    return timedelta(seconds=_int(environ, name, int(default.total_seconds())))


def _days(
    environ: Mapping[str, str], name: str, default: timedelta, *, minimum: int = 0
) -> timedelta:
    return timedelta(days=_int(environ, name, default.days, minimum=minimum))


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _indexed_fields(environ: Mapping[str, str]) -> IndexedFields:
    """INDEXED_FIELDS: a JSON object `{"name": "type"}` (§10); a bad one fails at start."""
    raw = _optional(environ, "INDEXED_FIELDS")
    if raw is None:
        return IndexedFields()
    try:
        declared = json.loads(raw)
    except ValueError:
        raise ConfigurationError(
            'INDEXED_FIELDS must be a JSON object {"name": "type"}, not ' + repr(raw)
        ) from None
    if not isinstance(declared, dict):
        raise ConfigurationError('INDEXED_FIELDS must be a JSON object {"name": "type"}')
    try:
        return IndexedFields(declared)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"INDEXED_FIELDS: {error}") from None


DEFAULT_METRICS_NAMESPACE = "KumoCMS"
_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#: -]{1,255}$")


def _namespace(environ: Mapping[str, str]) -> str:
    """METRICS_NAMESPACE: CloudWatch's namespace rules; `AWS/` belongs to AWS services."""
    value = _optional(environ, "METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE
    if not _NAMESPACE.fullmatch(value) or value.startswith("AWS/"):
        raise ConfigurationError(
            "METRICS_NAMESPACE must be 1-255 characters of letters, digits and . _ / # : - "
            "or space, and must not start with AWS/"
        )
    return value


VARIABLES = {
    "documents_table": "DOCUMENTS_TABLE",
    "users_table": "USERS_TABLE",
    "history_table": "HISTORY_TABLE",
    "bucket": "S3_BUCKET",
    "event_bus": "EVENT_BUS_NAME",
    "ingest_queue_url": "INGEST_QUEUE_URL",
    "ingest_dlq_url": "INGEST_DLQ_URL",
    "parking_queue_url": "PARKING_QUEUE_URL",
    "transfer_queue_url": "TRANSFER_QUEUE_URL",
    "transfer_dlq_url": "TRANSFER_DLQ_URL",
}
"""Setting name -> environment variable, for the values a function may require."""


@attrs.frozen(kw_only=True)
class EnvSettings:
    """Everything a function reads from its environment, validated once at cold start."""

    region: str
    documents_table: str | None = None
    users_table: str | None = None
    history_table: str | None = None
    bucket: str | None = None
    event_bus: str | None = None
    ingest_queue_url: str | None = None
    ingest_dlq_url: str | None = None
    parking_queue_url: str | None = None
    transfer_queue_url: str | None = None
    transfer_dlq_url: str | None = None
    dlq_max_retries: int = 5
    dlq_retry_delay_seconds: int = 30
    list_shards: int = 16
    endpoint_url: str | None = None
    cors_allowed_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    service_name: str = "kumocms"
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    """Where the functions' EMF metrics go; Terraform sets one per stack."""
    domain: Settings = attrs.field(factory=Settings)

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, required: tuple[str, ...] = ()
    ) -> EnvSettings:
        """Parse the environment; `required` names settings (see VARIABLES) that must be set.

        Raises:
            ConfigurationError: a required variable is missing or a value is malformed; the
                message names the variable.
        """
        missing = [VARIABLES[name] for name in required if not _optional(environ, VARIABLES[name])]
        if missing:
            raise ConfigurationError(f"missing environment variable(s): {', '.join(missing)}")
        region = _optional(environ, "AWS_REGION") or _optional(environ, "AWS_DEFAULT_REGION")
        if region is None:
            raise ConfigurationError("missing environment variable(s): AWS_REGION")
        defaults = Settings()
        try:
            domain = Settings(
                direct_upload_limit=_direct_upload_limit(environ, defaults.direct_upload_limit),
                multipart_threshold=_int(
                    environ, "MULTIPART_THRESHOLD", defaults.multipart_threshold
                ),
                part_size=_int(environ, "MULTIPART_PART_SIZE", defaults.part_size),
                presign_ttl=_seconds(environ, "PRESIGN_TTL_SECONDS", defaults.presign_ttl),
                pending_upload_ttl=_seconds(
                    environ, "PENDING_UPLOAD_TTL_SECONDS", defaults.pending_upload_ttl
                ),
                orphan_grace=_seconds(environ, "ORPHAN_GRACE_SECONDS", defaults.orphan_grace),
                sync_copy_limit=_int(environ, "SYNC_COPY_LIMIT", defaults.sync_copy_limit),
                copy_part_size=_int(environ, "COPY_PART_SIZE", defaults.copy_part_size),
                copy_concurrency=_int(environ, "COPY_CONCURRENCY", defaults.copy_concurrency),
                copy_stall=_seconds(environ, "COPY_STALL_SECONDS", defaults.copy_stall),
                copy_max_attempts=_int(environ, "COPY_MAX_ATTEMPTS", defaults.copy_max_attempts),
                indexed_fields=_indexed_fields(environ),
                trash_retention=_days(environ, "TRASH_DAYS", defaults.trash_retention),
                max_revisions=_int(environ, "MAX_REVISIONS", defaults.max_revisions),
                revision_retention=_days(environ, "REVISION_DAYS", defaults.revision_retention),
                history_retention=_days(
                    environ, "HISTORY_RETENTION_DAYS", defaults.history_retention, minimum=1
                ),
                restore_poll_interval=(
                    _seconds(environ, "RESTORE_POLL_SECONDS", timedelta(seconds=60))
                    if _optional(environ, "RESTORE_POLL_SECONDS")
                    else None
                ),
            )
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        origins = tuple(
            origin.strip()
            for origin in environ.get("CORS_ALLOWED_ORIGINS", "").split(",")
            if origin.strip()
        )
        return cls(
            region=region,
            documents_table=_optional(environ, "DOCUMENTS_TABLE"),
            users_table=_optional(environ, "USERS_TABLE"),
            history_table=_optional(environ, "HISTORY_TABLE"),
            bucket=_optional(environ, "S3_BUCKET"),
            event_bus=_optional(environ, "EVENT_BUS_NAME"),
            ingest_queue_url=_optional(environ, "INGEST_QUEUE_URL"),
            ingest_dlq_url=_optional(environ, "INGEST_DLQ_URL"),
            parking_queue_url=_optional(environ, "PARKING_QUEUE_URL"),
            transfer_queue_url=_optional(environ, "TRANSFER_QUEUE_URL"),
            transfer_dlq_url=_optional(environ, "TRANSFER_DLQ_URL"),
            dlq_max_retries=_int(environ, "DLQ_MAX_RETRIES", 5),
            dlq_retry_delay_seconds=_int(environ, "DLQ_RETRY_DELAY_SECONDS", 30, minimum=0),
            list_shards=_int(environ, "LIST_SHARDS", 16),
            endpoint_url=_optional(environ, "KUMOCMS_AWS_ENDPOINT_URL"),
            cors_allowed_origins=origins,
            log_level=(_optional(environ, "LOG_LEVEL") or "INFO").upper(),
            service_name=_optional(environ, "SERVICE_NAME") or "kumocms",
            metrics_namespace=_namespace(environ),
            domain=domain,
        )

    def require(self, name: str) -> str:
        """A setting the caller cannot work without.

        Raises:
            ConfigurationError: it is not set.
        """
        value = getattr(self, name)
        if not value:
            raise ConfigurationError(f"missing environment variable(s): {VARIABLES[name]}")
        return str(value)
