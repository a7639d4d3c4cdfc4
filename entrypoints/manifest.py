"""Entrypoints layer: the Lambda functions — handler strings, triggers, ports and variables.

Terraform's functions, environment variables and roles are checked against this list; each
function module wires itself from it.
"""

from __future__ import annotations

import json
from types import MappingProxyType

import attrs

from entrypoints.bootstrap import Needs

TUNING_VARIABLES = (
    "LOG_LEVEL",
    "SERVICE_NAME",
    "METRICS_NAMESPACE",
    "LIST_SHARDS",
    "PRESIGN_TTL_SECONDS",
    "INDEXED_FIELDS",
    "TRASH_DAYS",
    "MAX_REVISIONS",
    "REVISION_DAYS",
    "HISTORY_RETENTION_DAYS",
)
"""Optional variables every function reads (defaults apply when absent); every writer of
documents keeps the index of INDEXED_FIELDS current, and the retention of §11 (trash,
revisions, history) decides the sparse keys every document write maintains."""
HTTP_VARIABLES = (*TUNING_VARIABLES, "CORS_ALLOWED_ORIGINS", "RESTORE_POLL_SECONDS")
"""Optional variables of the HTTP functions (CORS headers; Retry-After of running restores)."""
UPLOAD_VARIABLES = (
    "DIRECT_UPLOAD_LIMIT",
    "MULTIPART_THRESHOLD",
    "MULTIPART_PART_SIZE",
    "PENDING_UPLOAD_TTL_SECONDS",
)
COPY_VARIABLES = ("SYNC_COPY_LIMIT", "COPY_PART_SIZE", "COPY_CONCURRENCY")
"""Optional variables of the functions that copy content or start the transfer worker."""
LIMIT_VARIABLES = (
    "DIRECT_UPLOAD_LIMIT",
    "MULTIPART_THRESHOLD",
    "MULTIPART_PART_SIZE",
    "SYNC_COPY_LIMIT",
)
"""What `GET /limits` and the OpenAPI document (`maxLength` of `content`) report."""


@attrs.frozen(kw_only=True)
class Function:
    """One Lambda function built from the shared zip."""

    name: str
    trigger: str
    """`http` (API Gateway proxy), `authorizer`, `sqs` (the function's own queue: ingest or
    transfer) or `schedule`."""
    needs: Needs
    optional_variables: tuple[str, ...] = TUNING_VARIABLES
    extra_required: tuple[str, ...] = ()
    description: str = ""

    @property
    def handler(self) -> str:
        """The Lambda handler string."""
        return f"entrypoints.functions.{self.name}.handler"

    @property
    def required_variables(self) -> tuple[str, ...]:
        """Environment variables the function cannot start without (besides AWS_REGION)."""
        from entrypoints.settings import VARIABLES  # noqa: PLC0415 - avoids a cycle

        names = [VARIABLES[n] for n in (*self.needs.required_settings(), *self.extra_required)]
        return tuple(dict.fromkeys(names))


FUNCTIONS = MappingProxyType(
    {
        f.name: f
        for f in (
            Function(
                name="documents_read",
                trigger="http",
                needs=Needs(blobs=True, documents=True),
                optional_variables=HTTP_VARIABLES,
                description="Document reads and presigned downloads",
            ),
            Function(
                name="documents_write",
                trigger="http",
                needs=Needs(
                    blobs=True, documents=True, events=True, idempotency=True, transfers=True
                ),
                optional_variables=HTTP_VARIABLES + UPLOAD_VARIABLES + COPY_VARIABLES,
                description="Uploads, patches, replaces, deletes, archive and restore",
            ),
            Function(
                name="users",
                trigger="http",
                needs=Needs(users=True, events=True, idempotency=True),
                optional_variables=HTTP_VARIABLES,
                description="User and API key management (admin)",
            ),
            Function(
                name="meta",
                trigger="http",
                needs=Needs(blobs=True, documents=True),
                optional_variables=(*HTTP_VARIABLES, *LIMIT_VARIABLES),
                description="Health check, OpenAPI document, limits, the caller",
            ),
            Function(
                name="authorizer",
                trigger="authorizer",
                needs=Needs(users=True),
                description="REQUEST authorizer for Authorization: Bearer <key>",
            ),
            Function(
                name="ingest",
                trigger="sqs",
                needs=Needs(blobs=True, documents=True, events=True, transfers=True),
                optional_variables=(*TUNING_VARIABLES, "ORPHAN_GRACE_SECONDS", *COPY_VARIABLES),
                description="Applies S3 events from the ingest queue",
            ),
            Function(
                name="dlq_retry",
                trigger="schedule",
                needs=Needs(blobs=True, documents=True, events=True, queues=True, transfers=True),
                optional_variables=(
                    *TUNING_VARIABLES,
                    "DLQ_MAX_RETRIES",
                    "DLQ_RETRY_DELAY_SECONDS",
                    "ORPHAN_GRACE_SECONDS",
                ),
                description="Re-drives the ingest DLQ; parks poison messages",
            ),
            Function(
                name="reconcile",
                trigger="schedule",
                needs=Needs(
                    blobs=True, documents=True, events=True, transfers=True, copy_dead_letters=True
                ),
                optional_variables=(
                    *TUNING_VARIABLES,
                    "PENDING_UPLOAD_TTL_SECONDS",
                    "COPY_STALL_SECONDS",
                ),
                description="Expires lost uploads, settles stuck restores and stalled copies",
            ),
            Function(
                name="transfer",
                trigger="sqs",
                needs=Needs(blobs=True, documents=True, events=True, transfers=True),
                optional_variables=(
                    *TUNING_VARIABLES,
                    "COPY_CONCURRENCY",
                    "COPY_MAX_ATTEMPTS",
                ),
                description="Copies large objects between storage classes (resumable)",
            ),
        )
    }
)


def routes_json() -> str:
    """`terraform/modules/kumocms/routes.json`: what the REST API needs to know per route."""
    # Imported here: every function module imports this one for its wiring, and the queue and
    # schedule functions would otherwise load the route table and its schemas at cold start.
    from entrypoints.http.routes import BINARY_MEDIA_TYPES, ROUTES  # noqa: PLC0415

    routes = [
        {
            "method": route.method,
            "path": route.path,
            "function": route.function,
            "authorized": route.authorized,
        }
        for route in ROUTES
    ]
    functions = [
        {
            "name": f.name,
            "handler": f.handler,
            "trigger": f.trigger,
            "description": f.description,
            "required_variables": list(f.required_variables),
            "optional_variables": list(f.optional_variables),
        }
        for f in FUNCTIONS.values()
    ]
    document = {
        "routes": routes,
        "binary_media_types": list(BINARY_MEDIA_TYPES),
        "functions": functions,
    }
    return json.dumps(document, indent=2) + "\n"


if __name__ == "__main__":
    print(routes_json(), end="")  # noqa: T201 - `python -m entrypoints.manifest > routes.json`
