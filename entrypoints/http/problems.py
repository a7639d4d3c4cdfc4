"""Entrypoints layer: the one table mapping errors to RFC 9457 problem responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kumocms import errors as e


class HttpError(Exception):
    """An error only the HTTP edge knows (bad body framing, wrong media type, bad route)."""

    def __init__(
        self, status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


@attrs.frozen
class ProblemType:
    """How one kind of error is answered."""

    status: int
    code: str
    title: str
    expose_detail: bool = True
    """Whether the error's own message (always written by us) is the problem's detail."""


PROBLEMS: Mapping[type[Exception], ProblemType] = {
    e.ChecksumMismatchError: ProblemType(422, "validation_failed", "Content does not match"),
    e.FieldNotIndexedError: ProblemType(400, "field_not_indexed", "Field not indexed"),
    e.ValidationError: ProblemType(400, "validation_failed", "Invalid request"),
    e.PayloadTooLargeError: ProblemType(413, "payload_too_large", "Payload too large"),
    e.AuthenticationError: ProblemType(401, "unauthorized", "Unauthorized"),
    e.ForbiddenError: ProblemType(403, "forbidden", "Forbidden"),
    e.NotFoundError: ProblemType(404, "not_found", "Not found"),
    e.PreconditionFailedError: ProblemType(412, "version_mismatch", "Version mismatch"),
    e.DocumentArchivedError: ProblemType(409, "document_archived", "Document archived"),
    e.RestoreInProgressError: ProblemType(202, "restore_in_progress", "Restore in progress"),
    e.UploadPendingError: ProblemType(409, "upload_pending", "Upload pending"),
    e.UploadRejectedError: ProblemType(409, "upload_rejected", "Upload rejected"),
    e.LegalHoldError: ProblemType(409, "legal_hold", "Legal hold"),
    e.ConflictError: ProblemType(409, "conflict", "Conflict"),
    e.DependencyError: ProblemType(
        503, "service_unavailable", "Service unavailable", expose_detail=False
    ),
    e.RetryLaterError: ProblemType(
        503, "service_unavailable", "Service unavailable", expose_detail=False
    ),
    e.KumoError: ProblemType(500, "internal_error", "Internal error", expose_detail=False),
}
"""Most specific first is not required: lookup walks each error's class hierarchy."""

BEARER_CHALLENGE = 'Bearer realm="kumocms"'
"""The `WWW-Authenticate` challenge every 401 carries (RFC 9110 §11.6.1, RFC 6750 §3); the
Terraform gateway responses and the local front send the same value."""

INTERNAL = ProblemType(500, "internal_error", "Internal error", expose_detail=False)
GENERIC_DETAIL = {
    500: "The request could not be completed; it has been logged.",
    503: "A backing service is unavailable; try again shortly.",
}
TITLES = {
    400: "Invalid request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Version mismatch",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def problem_type(error: BaseException) -> ProblemType:
    """The problem type of an error: its own class's entry, else its nearest ancestor's."""
    for cls in type(error).__mro__:
        found = PROBLEMS.get(cls)
        if found is not None:
            return found
    return INTERNAL


def problem_document(
    status: int, code: str, detail: str, *, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An RFC 9457 problem document with the stable `code` extension."""
    document: dict[str, Any] = {
        "type": f"urn:kumocms:problem:{code}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    document.update({key: value for key, value in extra.items() if value is not None})
    return document


def describe(error: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, problem document and extra headers for any error.

    The detail is the error's own message only for errors of ours that are safe to show; a
    failure of a dependency or of the code is described generically (the logs have the rest).
    """
    status, document, headers = _described(error)
    if status == 401:
        headers = {**headers, "WWW-Authenticate": BEARER_CHALLENGE}
    return status, document, headers


def _described(error: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    if isinstance(error, HttpError):
        return error.status, problem_document(error.status, error.code, error.detail), error.headers
    kind = problem_type(error)
    detail = str(error) if kind.expose_detail else GENERIC_DETAIL.get(kind.status, "Error")
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, e.ValidationError) and error.field:
        extra["field"] = error.field
    if isinstance(error, e.FieldNotIndexedError):
        extra["indexed_fields"] = error.indexed_fields
    if isinstance(error, e.PayloadTooLargeError):
        extra["limit"] = error.limit
    if isinstance(error, e.RestoreInProgressError):
        headers["Retry-After"] = str(error.retry_after_seconds)
    if isinstance(error, e.PreconditionFailedError):
        headers["ETag"] = f'"{error.current_version}"'
    document = problem_document(kind.status, kind.code, detail, title=kind.title, **extra)
    return kind.status, document, headers
