"""Entrypoints layer: one small function per route — parse, call one use case, render."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from entrypoints.bootstrap import Runtime
from entrypoints.http.apigw import HttpRequest, HttpResponse
from entrypoints.http.envelope import base64_length
from entrypoints.http.problems import HttpError, problem_document
from entrypoints.http.representations import (
    document_json,
    etag,
    history_json,
    link_json,
    parts_json,
    revision_json,
    timestamp,
    trash_json,
    user_json,
)
from entrypoints.http.routes import Route
from entrypoints.http.schema import ObjectSpec, Prop
from kumocms import __version__
from kumocms.deferred import Deferred
from kumocms.errors import DependencyError, PayloadTooLargeError, ValidationError
from kumocms.ids import DocumentId, UserId
from kumocms.jsonvalue import loads_json
from kumocms.model import RestoreRequest
from kumocms.ports import Ports
from kumocms.rules import MAX_SIZE
from kumocms.search import FILTER_PARAMETERS
from kumocms.states import ArchiveState, RestoreTier, StorageClass
from kumocms.usecases import documents
from kumocms.usecases.common import DocumentView
from kumocms.users import Principal, Role

if TYPE_CHECKING:
    from entrypoints.http import forms
    from kumocms import commands
    from kumocms.usecases import archive, holds, revisions, trash, users
else:  # loaded by the first route that needs them, so a function loads only its own routes'
    commands = Deferred("kumocms.commands")
    forms = Deferred("entrypoints.http.forms")
    archive = Deferred("kumocms.usecases.archive")
    holds = Deferred("kumocms.usecases.holds")
    revisions = Deferred("kumocms.usecases.revisions")
    trash = Deferred("kumocms.usecases.trash")
    users = Deferred("kumocms.usecases.users")

JSON_TYPES = ("application/json",)
MERGE_PATCH = "application/merge-patch+json"
_JSON_SUFFIX = re.compile(r"^application/[\w.+-]+\+json$")


@attrs.frozen(kw_only=True)
class Call:
    """One request on its way through an operation."""

    request: HttpRequest
    route: Route
    runtime: Runtime
    params: Mapping[str, str]
    principal: Principal | None

    @property
    def ports(self) -> Ports:
        """The function's ports."""
        return self.runtime.ports

    @property
    def actor(self) -> Principal:
        """The authenticated caller (the handler guarantees one on guarded routes)."""
        assert self.principal is not None
        return self.principal

    def document_id(self) -> DocumentId:
        """The `{id}` path parameter as a document id (400 when it is not a ULID)."""
        return DocumentId.parse(self.params.get("id"))

    def revision(self) -> int:
        """The `{revision}` path parameter (400 when it is not a revision number)."""
        raw = self.params.get("revision", "")
        if not re.fullmatch(r"[1-9][0-9]{0,11}", raw):
            raise ValidationError("revision must be a positive integer", field="revision")
        return int(raw)

    def user_id(self) -> UserId:
        """The `{id}` path parameter as a user id."""
        return UserId.parse(self.params.get("id"))

    def location(self, path: str) -> str:
        """A `Location` value for a path of this API (with the stage prefix, if any)."""
        return f"{self.request.base_path}{path}"


Operation = Callable[[Call], HttpResponse]


# ---- request parsing ------------------------------------------------------------------------


def json_body(call: Call, spec: ObjectSpec | None = None) -> dict[str, Any]:
    """The body as a JSON object checked against `spec` (or the route's spec).

    A zero-length body is `{}` on routes whose fields all have defaults.

    Raises:
        HttpError: missing body, another media type, or not JSON.
        ValidationError: the object breaks the spec.
    """
    spec = spec or call.route.body
    request = call.request
    if not request.body:
        if call.route.body_optional:
            return spec.parse("body", {}) if spec else {}
        raise HttpError(400, "validation_failed", "a JSON body is required")
    _require_json(request, extra=())
    data = request.json()
    if not isinstance(data, dict):
        raise HttpError(400, "validation_failed", "the body must be a JSON object")
    return spec.parse("body", data) if spec else data


def _require_json(request: HttpRequest, *, extra: tuple[str, ...]) -> None:
    media = request.media_type
    if not media or media in JSON_TYPES or media in extra or _JSON_SUFFIX.match(media):
        return
    raise HttpError(
        415,
        "unsupported_media_type",
        f"send application/json{''.join(', ' + e for e in extra)}",
    )


def query_value(call: Call, name: str) -> Any:
    """A declared query parameter, converted and checked (None when absent).

    Raises:
        ValidationError: it cannot be converted or is out of range.
    """
    raw = call.request.query.get(name)
    if raw is None:
        return None
    param = next(p for p in call.route.query if p.name == name)
    prop: Prop = param.prop
    if prop.type == "integer":
        if not re.fullmatch(r"-?\d{1,12}", raw.strip()):
            raise ValidationError(f"{name} must be an integer", field=name)
        return prop.parse(name, int(raw))
    if prop.type == "boolean":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ValidationError(f"{name} must be true or false", field=name)
        return lowered == "true"
    return prop.parse(name, raw)


def if_match(call: Call) -> int | None:
    """The version `If-Match` asks for; None when absent or `*`.

    Raises:
        ValidationError: the header is not an entity tag this API issues.
    """
    raw = call.request.headers.get("if-match")
    if raw is None or raw.strip() in ("", "*"):
        return None
    match = re.fullmatch(r'\s*(W/)?"?(\d{1,18})"?\s*', raw)
    if match is None:
        raise ValidationError('If-Match must be an ETag such as "3"', field="If-Match")
    if match.group(1):
        return -1  # a weak tag never matches a strong comparison
    return int(match.group(2))


def _upload_command(call: Call) -> dict[str, Any]:
    """Upload or replace fields from a JSON body or a multipart/form-data body."""
    request = call.request
    if request.media_type == "multipart/form-data":
        parts = forms.parse_form(request.headers.get("content-type", ""), request.body)
        unknown = sorted(set(parts) - {"file", "metadata"})
        if unknown:
            raise ValidationError(f"unknown form field: {unknown[0]}", field=unknown[0])
        file = parts.get("file")
        if file is None:
            raise ValidationError("the form needs a file part", field="file")
        if not file.filename:
            raise ValidationError("the file part needs a filename", field="file")
        fields: dict[str, Any] = {
            "file_name": file.filename,
            "content_type": file.content_type or "application/octet-stream",
            "content": file.data,
        }
        if "metadata" in parts:
            try:
                fields["metadata"] = loads_json(parts["metadata"].data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise ValidationError("metadata must be JSON", field="metadata") from None
        return fields
    fields = json_body(call)
    if "content" in fields:
        _check_content_length(call, fields["content"])
        try:
            fields["content"] = base64.b64decode(fields["content"], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("content must be base64", field="content") from None
    return fields


def _check_content_length(call: Call, content: str) -> None:
    """Refuse base64 `content` longer than the direct limit's (OpenAPI's `maxLength`) unread.

    Raises:
        PayloadTooLargeError: more characters than the direct-upload limit's base64 has.
    """
    limit = call.ports.settings.direct_upload_limit
    if len(content) > base64_length(limit):
        raise PayloadTooLargeError(
            f"direct uploads carry at most {limit} bytes (content of at most "
            f"{base64_length(limit)} base64 characters); send size (and sha256) without "
            "content to get a presigned upload instead",
            limit=limit,
        )


# ---- operations -----------------------------------------------------------------------------


def healthcheck(call: Call) -> HttpResponse:
    """GET /healthcheck."""
    if not query_value(call, "deep"):
        return HttpResponse(200, {"status": "ok", "version": __version__})
    checks = {}
    for name, check in (("s3", call.ports.blobs.check), ("dynamodb", call.ports.documents.check)):
        try:
            check()
            checks[name] = "ok"
        except DependencyError:
            checks[name] = "unavailable"
    if all(value == "ok" for value in checks.values()):
        return HttpResponse(200, {"status": "ok", "version": __version__, "checks": checks})
    body = problem_document(
        503,
        "service_unavailable",
        "a dependency is unavailable",
        version=__version__,
        checks=checks,
    )
    return HttpResponse(503, body, media_type="application/problem+json")


def openapi(call: Call) -> HttpResponse:
    """GET /docs."""
    from entrypoints.http.openapi import openapi_document  # noqa: PLC0415 - only this route

    return HttpResponse(
        200,
        openapi_document(
            server=call.request.base_path or "/",
            direct_upload_limit=call.ports.settings.direct_upload_limit,
            indexed_fields=call.ports.settings.indexed_fields,
        ),
    )


def get_limits(call: Call) -> HttpResponse:
    """GET /limits: what a client needs to choose an upload flow."""
    settings = call.ports.settings
    return HttpResponse(
        200,
        {
            "direct_upload_max_bytes": settings.direct_upload_limit,
            "multipart_threshold_bytes": settings.multipart_threshold,
            "part_size_bytes": settings.part_size,
            "max_size_bytes": MAX_SIZE,
            "presign_ttl_seconds": int(settings.presign_ttl.total_seconds()),
            "sync_copy_limit_bytes": settings.sync_copy_limit,
        },
    )


def whoami(call: Call) -> HttpResponse:
    """GET /me."""
    actor = call.actor
    return HttpResponse(
        200, {"user_id": actor.user_id.value, "name": actor.name, "role": actor.role.value}
    )


def _page(page: Any, render: Callable[[Any], dict[str, Any]]) -> HttpResponse:
    """200 with a listing page: `{items, next_cursor}` (every list route's shape)."""
    return HttpResponse(
        200, {"items": [render(item) for item in page.items], "next_cursor": page.next_cursor}
    )


def _document(status: int, view: DocumentView, **headers: str) -> HttpResponse:
    return HttpResponse(
        status, document_json(view), headers={"ETag": etag(view.document), **headers}
    )


def upload_document(call: Call) -> HttpResponse:
    """POST /documents."""
    view = documents.upload_document(
        call.ports, call.actor, commands.UploadDocument(**_upload_command(call))
    )
    return _document(201, view, Location=call.location(f"/documents/{view.document.id}"))


def list_documents(call: Call) -> HttpResponse:
    """GET /documents."""
    state = query_value(call, "state")
    for name in FILTER_PARAMETERS:
        query_value(call, name)  # the declared limits (lengths, patterns) first
    filters = {
        name: value
        for name, value in call.request.query.items()
        if name.startswith("meta.") or name in FILTER_PARAMETERS
    }
    page = documents.list_documents(
        call.ports,
        call.actor,
        limit=query_value(call, "limit"),
        cursor=query_value(call, "cursor"),
        state=None if state is None else ArchiveState(state),
        filters=filters,
    )
    return _page(page, document_json)


def get_document(call: Call) -> HttpResponse:
    """GET /documents/{id}; 304 when `If-None-Match` names the current version."""
    view = documents.get_document(call.ports, call.actor, call.document_id())
    current = etag(view.document)
    if none_match(call.request.headers.get("if-none-match"), current):
        return HttpResponse(304, headers={"ETag": current})
    return _document(200, view)


def none_match(header: str | None, current: str) -> bool:
    """Whether `If-None-Match` matches `current` (RFC 9110 §13.1.2: weak comparison, `*`)."""
    if header is None:
        return False
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or current in (tag.removeprefix("W/") for tag in tags)


def get_content(call: Call) -> HttpResponse:
    """GET /documents/{id}/content."""
    redirect = query_value(call, "redirect")
    link = documents.get_content(call.ports, call.actor, call.document_id())
    if redirect is False:
        return HttpResponse(200, link_json(link))
    return HttpResponse(302, headers={"Location": link.url})


def update_metadata(call: Call) -> HttpResponse:
    """PATCH /documents/{id} (RFC 7396 merge patch)."""
    request = call.request
    if not request.body:
        raise HttpError(400, "validation_failed", "a merge patch body is required")
    _require_json(request, extra=(MERGE_PATCH,))
    patch = request.json()
    if not isinstance(patch, dict):
        raise HttpError(400, "validation_failed", "a merge patch must be a JSON object")
    command = commands.UpdateMetadata(
        document_id=call.document_id(), patch=patch, if_match=if_match(call)
    )
    return _document(200, documents.update_metadata(call.ports, call.actor, command))


def replace_document(call: Call) -> HttpResponse:
    """PUT /documents/{id}."""
    document_id = call.document_id()
    command = commands.ReplaceDocument(
        document_id=document_id, if_match=if_match(call), **_upload_command(call)
    )
    view = documents.replace_document(call.ports, call.actor, command)
    return _document(202 if view.upload is not None else 200, view)


def delete_document(call: Call) -> HttpResponse:
    """DELETE /documents/{id}."""
    command = commands.DeleteDocument(document_id=call.document_id(), if_match=if_match(call))
    documents.delete_document(call.ports, call.actor, command)
    return HttpResponse(204)


def archive_document(call: Call) -> HttpResponse:
    """POST /documents/{id}/archive."""
    fields = json_body(call)
    command = commands.ArchiveDocument(
        document_id=call.document_id(),
        storage_class=StorageClass(fields.get("storage_class", StorageClass.GLACIER.value)),
        if_match=if_match(call),
    )
    result = archive.archive_document(call.ports, call.actor, command)
    if result.in_progress:
        return _accepted(call, result.view, result.retry_after_seconds)
    return _document(200, result.view)


def restore_document(call: Call) -> HttpResponse:
    """POST /documents/{id}/restore."""
    fields = json_body(call)
    request = RestoreRequest(
        days=fields.get("days", call.ports.settings.default_restore_days),
        tier=RestoreTier(fields.get("tier", RestoreTier.STANDARD.value)),
        permanent=fields.get("permanent", False),
    )
    document_id = call.document_id()
    command = commands.RestoreDocument(
        document_id=document_id, request=request, if_match=if_match(call)
    )
    result = archive.restore_document(call.ports, call.actor, command)
    if result.in_progress:
        return _accepted(call, result.view, result.retry_after_seconds)
    return _document(200, result.view)


def _accepted(call: Call, view: DocumentView, retry_after: int | None) -> HttpResponse:
    """202 for work that goes on after the answer: poll the document after `Retry-After`."""
    return _document(
        202,
        view,
        Location=call.location(f"/documents/{view.document.id}"),
        **{"Retry-After": str(retry_after or 1)},
    )


def list_revisions(call: Call) -> HttpResponse:
    """GET /documents/{id}/revisions."""
    page = revisions.list_revisions(
        call.ports,
        call.actor,
        call.document_id(),
        limit=query_value(call, "limit"),
        cursor=query_value(call, "cursor"),
    )
    return _page(page, revision_json)


def get_revision_content(call: Call) -> HttpResponse:
    """GET /documents/{id}/revisions/{revision}/content."""
    redirect = query_value(call, "redirect")
    link = revisions.get_revision_content(
        call.ports, call.actor, call.document_id(), call.revision()
    )
    if redirect is False:
        return HttpResponse(200, link_json(link))
    return HttpResponse(302, headers={"Location": link.url})


def restore_revision(call: Call) -> HttpResponse:
    """POST /documents/{id}/revisions/{revision}/restore."""
    json_body(call)
    result = revisions.restore_revision(
        call.ports, call.actor, call.document_id(), call.revision(), if_match=if_match(call)
    )
    if result.in_progress:
        return _accepted(call, result.view, result.retry_after_seconds)
    return _document(200, result.view)


def get_history(call: Call) -> HttpResponse:
    """GET /documents/{id}/history."""
    page = trash.get_history(
        call.ports,
        call.actor,
        call.document_id(),
        limit=query_value(call, "limit"),
        cursor=query_value(call, "cursor"),
    )
    return _page(page, history_json)


def set_legal_hold(call: Call) -> HttpResponse:
    """PUT /documents/{id}/legal-hold."""
    fields = json_body(call)
    enabled = fields["enabled"]
    view = holds.set_legal_hold(
        call.ports,
        call.actor,
        call.document_id(),
        enabled=enabled,
        reason=fields.get("reason") if enabled else None,
        if_match=if_match(call),
    )
    return _document(200, view)


def list_trash(call: Call) -> HttpResponse:
    """GET /trash."""
    page = trash.list_trash(
        call.ports,
        call.actor,
        limit=query_value(call, "limit"),
        cursor=query_value(call, "cursor"),
    )
    return _page(page, trash_json)


def restore_from_trash(call: Call) -> HttpResponse:
    """POST /trash/{id}/restore."""
    json_body(call)
    view = trash.restore_from_trash(
        call.ports, call.actor, call.document_id(), if_match=if_match(call)
    )
    return _document(200, view)


def purge_document(call: Call) -> HttpResponse:
    """DELETE /trash/{id}."""
    trash.purge_from_trash(call.ports, call.actor, call.document_id(), if_match=if_match(call))
    return HttpResponse(204)


def issue_part_urls(call: Call) -> HttpResponse:
    """POST /documents/{id}/uploads/parts."""
    fields = json_body(call)
    command = commands.IssuePartUrls(
        document_id=call.document_id(), part_numbers=fields["part_numbers"]
    )
    parts, expires_at = documents.issue_part_urls(call.ports, call.actor, command)
    return HttpResponse(200, {"parts": parts_json(parts), "expires_at": timestamp(expires_at)})


def complete_upload(call: Call) -> HttpResponse:
    """POST /documents/{id}/uploads/complete."""
    from kumocms.portvalues import CompletedPart  # noqa: PLC0415 - off the read path

    fields = json_body(call)
    parts = [CompletedPart(part_number=p["part_number"], etag=p["etag"]) for p in fields["parts"]]
    command = commands.CompleteUpload(document_id=call.document_id(), parts=parts)
    return _document(200, documents.complete_upload(call.ports, call.actor, command))


def create_user(call: Call) -> HttpResponse:
    """POST /users."""
    fields = json_body(call)
    issued = users.create_user(
        call.ports, call.actor, name=fields["name"], role=Role(fields["role"])
    )
    return HttpResponse(
        201,
        user_json(issued.user, api_key=issued.api_key),
        headers={"Location": call.location(f"/users/{issued.user.id}")},
    )


def list_users(call: Call) -> HttpResponse:
    """GET /users."""
    limit = query_value(call, "limit")
    page = users.list_users(
        call.ports,
        call.actor,
        limit=50 if limit is None else limit,
        cursor=query_value(call, "cursor"),
    )
    return _page(page, user_json)


def get_user(call: Call) -> HttpResponse:
    """GET /users/{id}."""
    return HttpResponse(200, user_json(users.get_user(call.ports, call.actor, call.user_id())))


def update_user(call: Call) -> HttpResponse:
    """PATCH /users/{id}."""
    fields = json_body(call)
    role = fields.get("role")
    user = users.update_user(
        call.ports,
        call.actor,
        call.user_id(),
        role=None if role is None else Role(role),
        disabled=fields.get("disabled"),
    )
    return HttpResponse(200, user_json(user))


def delete_user(call: Call) -> HttpResponse:
    """DELETE /users/{id}."""
    users.delete_user(call.ports, call.actor, call.user_id())
    return HttpResponse(204)


def rotate_key(call: Call) -> HttpResponse:
    """POST /users/{id}/keys."""
    json_body(call)
    issued = users.rotate_key(call.ports, call.actor, call.user_id())
    return HttpResponse(
        201,
        {"user_id": issued.user.id.value, "api_key": issued.api_key},
        headers={"Location": call.location(f"/users/{issued.user.id}")},
    )


OPERATIONS: Mapping[str, Operation] = {
    "healthcheck": healthcheck,
    "openapi": openapi,
    "whoami": whoami,
    "getLimits": get_limits,
    "uploadDocument": upload_document,
    "listDocuments": list_documents,
    "getDocument": get_document,
    "getDocumentContent": get_content,
    "updateMetadata": update_metadata,
    "replaceDocument": replace_document,
    "deleteDocument": delete_document,
    "archiveDocument": archive_document,
    "restoreDocument": restore_document,
    "listRevisions": list_revisions,
    "getRevisionContent": get_revision_content,
    "restoreRevision": restore_revision,
    "getHistory": get_history,
    "setLegalHold": set_legal_hold,
    "listTrash": list_trash,
    "restoreFromTrash": restore_from_trash,
    "purgeDocument": purge_document,
    "issuePartUrls": issue_part_urls,
    "completeUpload": complete_upload,
    "createUser": create_user,
    "listUsers": list_users,
    "getUser": get_user,
    "updateUser": update_user,
    "deleteUser": delete_user,
    "rotateKey": rotate_key,
}
