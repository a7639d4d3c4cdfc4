"""Entrypoints layer: the route table — the one list of HTTP routes, their functions and roles.

The OpenAPI document, the Terraform REST API (through `terraform/modules/kumocms/routes.json`,
generated from this table and checked by a test) and the local front all read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from entrypoints.http.schema import ObjectSpec, Prop
from kumocms.rules import MAX_CONTENT_TYPE_LENGTH, MAX_RESTORE_DAYS, MAX_SIZE, MIN_RESTORE_DAYS
from kumocms.states import ArchiveState, RestoreTier, StorageClass
from kumocms.users import MAX_USER_NAME_LENGTH, Permission, Role

SHA256_PATTERN = "[0-9a-fA-F]{64}"
BASE64_PATTERN = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
ULID_PATTERN = "[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}"
MAX_FILE_NAME_LENGTH = 1024
"""Characters accepted before sanitising; the stored name is at most 255 UTF-8 bytes."""


@attrs.frozen(kw_only=True)
class QueryParam:
    """A query-string parameter."""

    name: str
    prop: Prop


@attrs.frozen(kw_only=True)
class Route:
    """One method and path, the Lambda function serving it and who may call it."""

    method: str
    path: str
    function: str
    operation_id: str
    summary: str
    permission: Permission | None
    body: ObjectSpec | None = None
    body_optional: bool = False
    """A zero-length body means `{}` (every field has a default)."""
    query: tuple[QueryParam, ...] = ()
    query_family: str | None = None
    """A prefix of further query parameters the operation checks itself (`meta.`: §10's
    filters on declared fields, whose names the settings decide)."""
    idempotent_post: bool = False
    success: int = 200
    conditional: bool = False
    """Takes `If-Match`."""
    revalidated: bool = False
    """Answers `If-None-Match` with the current ETag by 304 Not Modified."""
    raw_media_types: tuple[str, ...] = ()
    """Body media types besides JSON whose bytes are not text: API Gateway's binary media types
    (see BINARY_MEDIA_TYPES)."""

    @property
    def pattern(self) -> re.Pattern[str]:
        """A regex matching concrete paths of this route."""
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")

    @property
    def authorized(self) -> bool:
        """Whether the REQUEST authorizer guards this route."""
        return self.permission is not None

    def accepts_query(self, name: str) -> bool:
        """Whether `name` is one of this route's query parameters (unknown ones are refused)."""
        if self.query_family is not None and name.startswith(self.query_family):
            return True
        return any(param.name == name for param in self.query)


UPLOAD_FIELDS: Mapping[str, Prop] = {
    "file_name": Prop(
        type="string",
        required=True,
        min_length=1,
        max_length=MAX_FILE_NAME_LENGTH,
        description="Stored sanitised: controls, / and \\ become _.",
    ),
    "content_type": Prop(
        type="string", max_length=MAX_CONTENT_TYPE_LENGTH, default="application/octet-stream"
    ),
    "size": Prop(
        type="integer",
        minimum=1,
        maximum=MAX_SIZE,
        description="Bytes; required without content (presigned upload).",
    ),
    "sha256": Prop(type="string", pattern=SHA256_PATTERN, description="Hex SHA-256."),
    "metadata": Prop(
        type="object",
        description="User metadata: a JSON object, at most 64 KiB and 16 levels, non-empty keys.",
    ),
    "content": Prop(
        type="string",
        min_length=4,
        pattern=BASE64_PATTERN,
        description="Base64 content: a direct upload.",
    ),
}
UPLOAD = ObjectSpec(
    properties=UPLOAD_FIELDS,
    description="A direct upload (`content`) or a presigned one (`size`, optional `sha256`).",
    any_of_required=(("content",), ("size",)),
)
ARCHIVE = ObjectSpec(
    properties={
        "storage_class": Prop(
            type="string",
            enum=(StorageClass.GLACIER.value, StorageClass.DEEP_ARCHIVE.value),
            default=StorageClass.GLACIER.value,
        )
    }
)
RESTORE = ObjectSpec(
    properties={
        "days": Prop(type="integer", minimum=MIN_RESTORE_DAYS, maximum=MAX_RESTORE_DAYS, default=1),
        "tier": Prop(
            type="string",
            enum=tuple(t.value for t in RestoreTier),
            default=RestoreTier.STANDARD.value,
        ),
        "permanent": Prop(type="boolean", default=False),
    }
)
PART_NUMBERS = ObjectSpec(
    properties={
        "part_numbers": Prop(
            type="array",
            required=True,
            min_items=1,
            max_items=1000,
            items=Prop(type="integer", minimum=1, maximum=10_000),
        )
    }
)
COMPLETE = ObjectSpec(
    properties={
        "parts": Prop(
            type="array",
            required=True,
            min_items=1,
            max_items=10_000,
            items=ObjectSpec(
                properties={
                    "part_number": Prop(type="integer", required=True, minimum=1, maximum=10_000),
                    # S3's ETags are quoted hex (with -N for multipart): visible ASCII only,
                    # so control characters get a 400, not a failed S3 request (a 503).
                    "etag": Prop(
                        type="string",
                        required=True,
                        min_length=1,
                        max_length=128,
                        pattern="^[!-~]+$",
                    ),
                }
            ),
        )
    }
)
NEW_USER = ObjectSpec(
    properties={
        "name": Prop(type="string", required=True, min_length=1, max_length=MAX_USER_NAME_LENGTH),
        "role": Prop(type="string", required=True, enum=tuple(r.value for r in Role)),
    }
)
USER_CHANGE = ObjectSpec(
    properties={
        "role": Prop(type="string", enum=tuple(r.value for r in Role)),
        "disabled": Prop(type="boolean"),
    }
)
EMPTY = ObjectSpec(properties={})
"""A body with no fields: `{}` or nothing."""
NEW_KEY = EMPTY
MAX_HOLD_REASON_LENGTH = 1024
LEGAL_HOLD = ObjectSpec(
    properties={
        "enabled": Prop(type="boolean", required=True),
        "reason": Prop(
            type="string",
            min_length=1,
            max_length=MAX_HOLD_REASON_LENGTH,
            description="Required to enable a hold; ignored when releasing it.",
        ),
    }
)

LIMIT = QueryParam(name="limit", prop=Prop(type="integer", minimum=1, maximum=100, default=50))
CURSOR = QueryParam(name="cursor", prop=Prop(type="string", max_length=256))
STATE = QueryParam(
    name="state", prop=Prop(type="string", enum=tuple(s.value for s in ArchiveState))
)
CONTENT_TYPE = QueryParam(
    name="content_type", prop=Prop(type="string", min_length=1, max_length=255)
)
CREATED_AFTER = QueryParam(
    name="created_after",
    prop=Prop(type="string", format="date-time", description="RFC 3339, inclusive"),
)
CREATED_BEFORE = QueryParam(
    name="created_before",
    prop=Prop(type="string", format="date-time", description="RFC 3339, exclusive"),
)
CREATED_BY = QueryParam(name="created_by", prop=Prop(type="string", pattern=f"^{ULID_PATTERN}$"))
DEEP = QueryParam(name="deep", prop=Prop(type="boolean", default=False))
REDIRECT = QueryParam(name="redirect", prop=Prop(type="boolean", default=True))

FORM = "multipart/form-data"
"""A direct upload's file as raw bytes (RFC 7578)."""

R, W, A = Permission.READ, Permission.WRITE, Permission.MANAGE_USERS

ROUTES: tuple[Route, ...] = (
    Route(
        method="GET",
        path="/healthcheck",
        function="meta",
        operation_id="healthcheck",
        summary="Service health; ?deep=true also checks S3 and DynamoDB",
        permission=None,
        query=(DEEP,),
    ),
    Route(
        method="GET",
        path="/docs",
        function="meta",
        operation_id="openapi",
        summary="This OpenAPI document",
        permission=None,
    ),
    Route(
        method="GET",
        path="/me",
        function="meta",
        operation_id="whoami",
        summary="The caller",
        permission=R,
    ),
    Route(
        method="GET",
        path="/limits",
        function="meta",
        operation_id="getLimits",
        summary="The server's upload and copy limits, to choose an upload flow",
        permission=R,
    ),
    Route(
        method="POST",
        path="/documents",
        function="documents_write",
        operation_id="uploadDocument",
        summary="Upload a document (direct or presigned)",
        permission=W,
        body=UPLOAD,
        idempotent_post=True,
        success=201,
        raw_media_types=(FORM,),
    ),
    Route(
        method="GET",
        path="/documents",
        function="documents_read",
        operation_id="listDocuments",
        summary="List and find documents, newest first",
        permission=R,
        query=(LIMIT, CURSOR, STATE, CONTENT_TYPE, CREATED_AFTER, CREATED_BEFORE, CREATED_BY),
        query_family="meta.",
    ),
    Route(
        method="GET",
        path="/documents/{id}",
        function="documents_read",
        operation_id="getDocument",
        summary="A document and its download link",
        permission=R,
        revalidated=True,
    ),
    Route(
        method="GET",
        path="/documents/{id}/content",
        function="documents_read",
        operation_id="getDocumentContent",
        summary="Redirect to a presigned download",
        permission=R,
        query=(REDIRECT,),
        success=302,
    ),
    Route(
        method="PATCH",
        path="/documents/{id}",
        function="documents_write",
        operation_id="updateMetadata",
        summary="Merge-patch (RFC 7396) the user metadata",
        permission=W,
        conditional=True,
    ),
    Route(
        method="PUT",
        path="/documents/{id}",
        function="documents_write",
        operation_id="replaceDocument",
        summary="Replace the content",
        permission=W,
        body=UPLOAD,
        conditional=True,
        raw_media_types=(FORM,),
    ),
    Route(
        method="DELETE",
        path="/documents/{id}",
        function="documents_write",
        operation_id="deleteDocument",
        summary="Move a document to the trash (a pending upload is aborted)",
        permission=W,
        conditional=True,
        success=204,
    ),
    Route(
        method="POST",
        path="/documents/{id}/archive",
        function="documents_write",
        operation_id="archiveDocument",
        summary="Move the content to Glacier",
        permission=W,
        body=ARCHIVE,
        body_optional=True,
        conditional=True,
        idempotent_post=True,
    ),
    Route(
        method="POST",
        path="/documents/{id}/restore",
        function="documents_write",
        operation_id="restoreDocument",
        summary="Restore archived content",
        permission=W,
        body=RESTORE,
        body_optional=True,
        conditional=True,
        idempotent_post=True,
        success=202,
    ),
    Route(
        method="POST",
        path="/documents/{id}/uploads/parts",
        function="documents_write",
        operation_id="issuePartUrls",
        summary="Fresh presigned part URLs",
        permission=W,
        body=PART_NUMBERS,
        idempotent_post=True,
    ),
    Route(
        method="POST",
        path="/documents/{id}/uploads/complete",
        function="documents_write",
        operation_id="completeUpload",
        summary="Complete a multipart upload",
        permission=W,
        body=COMPLETE,
        idempotent_post=True,
    ),
    Route(
        method="GET",
        path="/documents/{id}/revisions",
        function="documents_read",
        operation_id="listRevisions",
        summary="The kept revisions, highest number first",
        permission=R,
        query=(LIMIT, CURSOR),
    ),
    Route(
        method="GET",
        path="/documents/{id}/revisions/{revision}/content",
        function="documents_read",
        operation_id="getRevisionContent",
        summary="Redirect to a presigned download of one revision",
        permission=R,
        query=(REDIRECT,),
        success=302,
    ),
    Route(
        method="POST",
        path="/documents/{id}/revisions/{revision}/restore",
        function="documents_write",
        operation_id="restoreRevision",
        summary="Make a copy of an earlier revision the current one",
        permission=W,
        body=EMPTY,
        body_optional=True,
        conditional=True,
        idempotent_post=True,
    ),
    Route(
        method="GET",
        path="/documents/{id}/history",
        function="documents_read",
        operation_id="getHistory",
        summary="The document's audit trail, newest first",
        permission=R,
        query=(LIMIT, CURSOR),
    ),
    Route(
        method="PUT",
        path="/documents/{id}/legal-hold",
        function="documents_write",
        operation_id="setLegalHold",
        summary="Set or release a legal hold (admin)",
        permission=A,
        body=LEGAL_HOLD,
        conditional=True,
    ),
    Route(
        method="GET",
        path="/trash",
        function="documents_read",
        operation_id="listTrash",
        summary="Documents in the trash, newest deletion first",
        permission=W,
        query=(LIMIT, CURSOR),
    ),
    Route(
        method="POST",
        path="/trash/{id}/restore",
        function="documents_write",
        operation_id="restoreFromTrash",
        summary="Take a document out of the trash",
        permission=W,
        body=EMPTY,
        body_optional=True,
        conditional=True,
        idempotent_post=True,
    ),
    Route(
        method="DELETE",
        path="/trash/{id}",
        function="documents_write",
        operation_id="purgeDocument",
        summary="Purge a trashed document now (admin)",
        permission=A,
        conditional=True,
        success=204,
    ),
    Route(
        method="POST",
        path="/users",
        function="users",
        operation_id="createUser",
        summary="Create a user and their API key",
        permission=A,
        body=NEW_USER,
        idempotent_post=True,
        success=201,
    ),
    Route(
        method="GET",
        path="/users",
        function="users",
        operation_id="listUsers",
        summary="List users",
        permission=A,
        query=(LIMIT, CURSOR),
    ),
    Route(
        method="GET",
        path="/users/{id}",
        function="users",
        operation_id="getUser",
        summary="A user",
        permission=A,
    ),
    Route(
        method="PATCH",
        path="/users/{id}",
        function="users",
        operation_id="updateUser",
        summary="Change a user's role or disable them",
        permission=A,
        body=USER_CHANGE,
    ),
    Route(
        method="DELETE",
        path="/users/{id}",
        function="users",
        operation_id="deleteUser",
        summary="Delete a user",
        permission=A,
        success=204,
    ),
    Route(
        method="POST",
        path="/users/{id}/keys",
        function="users",
        operation_id="rotateKey",
        summary="Issue a new API key (the old one stops working)",
        permission=A,
        body=NEW_KEY,
        body_optional=True,
        idempotent_post=True,
        success=201,
    ),
)

FUNCTIONS = tuple(dict.fromkeys(route.function for route in ROUTES))
"""The HTTP Lambda functions, in route-table order."""

BINARY_MEDIA_TYPES = tuple(dict.fromkeys(t for route in ROUTES for t in route.raw_media_types))
"""The media types API Gateway passes to a function base64-encoded (`binaryMediaTypes`); every
other body, JSON included, arrives as text. Not `*/*`: that would base64-encode JSON bodies too,
and a JSON upload's base64 `content` would reach Lambda at 16/9 of the file's size
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html).
Terraform reads the list from routes.json; the local gateway decides with it."""


def is_binary(content_type: str) -> bool:
    """Whether a request with this `Content-Type` reaches the function base64-encoded."""
    return content_type.split(";", 1)[0].strip().lower() in BINARY_MEDIA_TYPES


def routes_of(function: str) -> tuple[Route, ...]:
    """The routes one Lambda function serves."""
    return tuple(route for route in ROUTES if route.function == function)


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for a concrete request, its path parameters, and whether the path exists.

    Returns (None, {}, True) when the path exists under another method (405).
    """
    path_known = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        path_known = True
        if route.method == method:
            return route, found.groupdict(), True
    return None, {}, path_known


def find(method: str, resource: str) -> Route | None:
    """The route whose template is `resource` (what API Gateway passes), if any."""
    for route in ROUTES:
        if route.method == method and route.path == resource:
            return route
    return None
