"""Entrypoints layer: the OpenAPI 3.1 document, generated from the route table."""

from __future__ import annotations

import functools
from typing import Any

from entrypoints.http.envelope import base64_length
from entrypoints.http.problems import BEARER_CHALLENGE
from entrypoints.http.representations import (
    ACTOR_SCHEMA,
    DOCUMENT_FIELDS,
    HISTORY_FIELDS,
    LEGAL_HOLD_SCHEMA,
    LINK_FIELDS,
    NULLABLE_TIME,
    RESTORE_FIELDS,
    REVISION_FIELDS,
    TIME,
    USER_FIELDS,
    object_schema,
    schema_ref,
)
from entrypoints.http.routes import FORM, ROUTES, ULID_PATTERN, Route
from kumocms import __version__
from kumocms.search import MAX_STRING_BYTES, FieldType, IndexedFields
from kumocms.settings import Settings
from kumocms.users import Role

PROBLEM = "application/problem+json"
IF_MATCH_PATTERN = r'^(\*|(W/)?"?[0-9]{1,18}"?)?$'


def _list_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": schema_ref(name)},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def _with(schema: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """`schema` with optional properties added."""
    return {**schema, "properties": {**schema["properties"], **properties}}


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details with a stable snake_case `code`.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "field": {"type": "string"},
            "limit": {"type": "integer"},
        },
    },
    "Link": object_schema(LINK_FIELDS),
    "PartUrl": {
        "type": "object",
        "required": ["part_number", "url"],
        "properties": {"part_number": {"type": "integer"}, "url": {"type": "string"}},
    },
    "Upload": {
        "description": "How to upload the content: a PUT, a form POST or presigned parts.",
        "oneOf": [
            {
                "type": "object",
                "required": ["method", "url", "headers", "expires_at"],
                "properties": {
                    "method": {"const": "PUT"},
                    "url": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "expires_at": TIME,
                },
            },
            {
                "type": "object",
                "required": ["method", "url", "fields", "expires_at"],
                "properties": {
                    "method": {"const": "POST"},
                    "url": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    "expires_at": TIME,
                },
            },
            {
                "type": "object",
                "required": ["method", "part_size", "parts", "expires_at"],
                "properties": {
                    "method": {"const": "MULTIPART"},
                    "part_size": {"type": "integer"},
                    "parts": {"type": "array", "items": schema_ref("PartUrl")},
                    "expires_at": TIME,
                },
            },
        ],
    },
    "Restore": object_schema(RESTORE_FIELDS),
    "LegalHold": dict(LEGAL_HOLD_SCHEMA),
    "Revision": object_schema(REVISION_FIELDS),
    "RevisionList": _list_of("Revision"),
    "HistoryEntry": object_schema(HISTORY_FIELDS),
    "History": _list_of("HistoryEntry"),
    "TrashedDocument": _with(
        object_schema(DOCUMENT_FIELDS),
        deleted_at=TIME,
        deleted_by=ACTOR_SCHEMA,
        purge_at={**NULLABLE_TIME, "description": "Null while a legal hold is on."},
    ),
    "Trash": _list_of("TrashedDocument"),
    "Document": object_schema(DOCUMENT_FIELDS),
    "DocumentList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": schema_ref("Document")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "PartUrls": {
        "type": "object",
        "required": ["parts", "expires_at"],
        "properties": {
            "parts": {"type": "array", "items": schema_ref("PartUrl")},
            "expires_at": TIME,
        },
    },
    "User": _with(
        object_schema(USER_FIELDS),
        api_key={"type": "string", "description": "Only in the response that creates it."},
    ),
    "UserList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": schema_ref("User")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "ApiKey": {
        "type": "object",
        "required": ["api_key"],
        "properties": {"user_id": {"type": "string"}, "api_key": {"type": "string"}},
    },
    "Me": {
        "type": "object",
        "required": ["user_id", "name", "role"],
        "properties": {
            "user_id": {"type": "string"},
            "name": {"type": "string"},
            "role": {"type": "string", "enum": [r.value for r in Role]},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "version"],
        "properties": {
            "status": {"type": "string"},
            "version": {"type": "string"},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Limits": {
        "type": "object",
        "description": "The server's limits: direct uploads above `direct_upload_max_bytes` "
        "take the presigned flow, multipart above `multipart_threshold_bytes`.",
        "required": [
            "direct_upload_max_bytes",
            "multipart_threshold_bytes",
            "part_size_bytes",
            "max_size_bytes",
            "presign_ttl_seconds",
            "sync_copy_limit_bytes",
        ],
        "properties": {
            "direct_upload_max_bytes": {
                "type": "integer",
                "description": "Largest file sent inside the request (base64 `content` or "
                "a multipart/form-data `file`).",
            },
            "multipart_threshold_bytes": {
                "type": "integer",
                "description": "Presigned uploads above this size are multipart.",
            },
            "part_size_bytes": {
                "type": "integer",
                "description": "Preferred multipart part size (grown to stay within 10,000 parts).",
            },
            "max_size_bytes": {"type": "integer", "description": "Largest document."},
            "presign_ttl_seconds": {
                "type": "integer",
                "description": "Lifetime of presigned URLs.",
            },
            "sync_copy_limit_bytes": {
                "type": "integer",
                "description": "Largest object archived or restored within the request; "
                "larger ones answer 202 and copy in the background.",
            },
        },
        "additionalProperties": False,
    },
    "OpenApi": {"type": "object"},
}

_RESPONSE_SCHEMAS: dict[str, tuple[str, str]] = {
    "healthcheck": ("Health", "The service is up"),
    "openapi": ("OpenApi", "This document"),
    "whoami": ("Me", "The caller"),
    "getLimits": ("Limits", "The server's limits"),
    "uploadDocument": ("Document", "Created; `upload` says how to send presigned content"),
    "listDocuments": ("DocumentList", "A page of documents, newest first"),
    "getDocument": ("Document", "The document"),
    "getDocumentContent": ("Link", "The presigned download URL (`?redirect=false`)"),
    "updateMetadata": ("Document", "The patched document"),
    "replaceDocument": ("Document", "Replaced (direct upload)"),
    "archiveDocument": ("Document", "Archived"),
    "restoreDocument": ("Document", "Readable again (extended or made permanent)"),
    "issuePartUrls": ("PartUrls", "Fresh part URLs"),
    "completeUpload": ("Document", "The confirmed (or rejected) document"),
    "listRevisions": ("RevisionList", "The kept revisions, highest number first"),
    "getRevisionContent": ("Link", "The presigned download URL (`?redirect=false`)"),
    "restoreRevision": ("Document", "The document with the copy as its current revision"),
    "getHistory": ("History", "The audit trail, newest first"),
    "setLegalHold": ("Document", "The document with its hold (or none)"),
    "listTrash": ("Trash", "Trashed documents, newest deletion first"),
    "restoreFromTrash": ("Document", "The document, back in the state it had"),
    "createUser": ("User", "Created; the API key is shown only here"),
    "listUsers": ("UserList", "A page of users"),
    "getUser": ("User", "The user"),
    "updateUser": ("User", "The changed user"),
    "rotateKey": ("ApiKey", "The new key; the old one stops working"),
}


def _links(field: str, *operation_ids: str) -> dict[str, Any]:
    return {
        f"{operation_id[0].upper()}{operation_id[1:]}": {
            "operationId": operation_id,
            "parameters": {"id": f"$response.body#/{field}"},
        }
        for operation_id in operation_ids
    }


_LINKS = {
    "uploadDocument": _links(
        "document_id",
        "getDocument",
        "getDocumentContent",
        "updateMetadata",
        "replaceDocument",
        "deleteDocument",
        "archiveDocument",
        "restoreDocument",
        "issuePartUrls",
        "completeUpload",
    ),
    "createUser": _links("user_id", "getUser"),
}
"""OpenAPI links: what a created resource's id can be used for (stateful API testers follow
them). Changing, deleting or re-keying users is left out on purpose: a tester holding one admin
key could otherwise lock itself out."""

_HEADERS = {
    "ETag": {"description": "The document's version", "schema": {"type": "string"}},
    "Location": {"description": "Where the resource is", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}},
    "WWW-Authenticate": {
        "description": f"The challenge: `{BEARER_CHALLENGE}`",
        "schema": {"type": "string"},
    },
}
_ACCEPTED = {
    "restoreDocument": "Restoring; poll the document after Retry-After",
    "restoreRevision": (
        "Copying: the revision is larger than the synchronous copy limit and the transfer "
        "worker copies it; poll the document after Retry-After"
    ),
    "archiveDocument": (
        "Archiving: the object is larger than the synchronous copy limit and the transfer "
        "worker copies it; poll the document after Retry-After"
    ),
}
"""Routes that answer 202 + `Location` + `Retry-After` + the document for work that goes on."""


_FIELD_SCHEMAS: dict[FieldType, dict[str, Any]] = {
    FieldType.STRING: {"type": "string", "maxLength": MAX_STRING_BYTES},
    FieldType.NUMBER: {"type": "number"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATE: {"type": "string", "format": "date-time"},
}


def _field_filters(indexed_fields: IndexedFields) -> list[dict[str, Any]]:
    """`meta.NAME` (equality) and, for numbers and dates, `meta.NAME.min` / `.max`."""
    parameters: list[dict[str, Any]] = []
    for name, kind in indexed_fields.fields.items():
        schema = _FIELD_SCHEMAS[kind]
        parameters.append(
            {
                "name": f"meta.{name}",
                "in": "query",
                "required": False,
                "description": f"Documents whose metadata `{name}` ({kind.value}) equals this.",
                "schema": schema,
            }
        )
        if kind.ranged:
            for end, word in (("min", "at least"), ("max", "at most")):
                parameters.append(
                    {
                        "name": f"meta.{name}.{end}",
                        "in": "query",
                        "required": False,
                        "description": (
                            f"Documents whose `{name}` is {word} this (inclusive; one ranged "
                            "field per query; results ordered by it)."
                        ),
                        "schema": schema,
                    }
                )
    return parameters


def _json(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {media: {"schema": schema}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(schema_ref("Problem"), PROBLEM)}


def _operation(
    route: Route, direct_upload_limit: int, indexed_fields: IndexedFields
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.function],
        "responses": _responses(route),
    }
    if route.permission is None:
        operation["security"] = []
    else:
        operation["description"] = f"Needs a key whose role may {route.permission.value}."
        operation["responses"]["401"] = {
            **_problem("No valid API key (`unauthorized`)"),
            "headers": {"WWW-Authenticate": _HEADERS["WWW-Authenticate"]},
        }
    parameters = [
        {"name": q.name, "in": "query", "required": False, "schema": q.prop.json_schema()}
        for q in route.query
    ]
    if route.query_family == "meta.":
        parameters += _field_filters(indexed_fields)
    if route.conditional:
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": 'Proceed only if the document is at this version (`"3"`).',
                "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
            }
        )
    if route.revalidated:
        parameters.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "304 Not Modified when it names the current ETag (or is `*`).",
                "schema": {"type": "string"},
            }
        )
    if route.idempotent_post:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Replays the first response for 24 hours.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    if parameters:
        operation["parameters"] = parameters
    body = _request_body(route, direct_upload_limit)
    if body is not None:
        operation["requestBody"] = body
    return operation


def _request_body(route: Route, direct_upload_limit: int) -> dict[str, Any] | None:
    if route.operation_id == "updateMetadata":
        patch = {
            "type": "object",
            "description": "An RFC 7396 merge patch of `metadata` (null removes a key).",
            "propertyNames": {"minLength": 1},
        }
        return {
            "required": True,
            "content": {**_json(patch, "application/merge-patch+json"), **_json(patch)},
        }
    if route.body is None:
        return None
    schema = route.body.json_schema()
    if "content" in schema["properties"]:
        # The direct-upload limit as the JSON form states it; more is 413 payload_too_large.
        schema["properties"]["content"]["maxLength"] = base64_length(direct_upload_limit)
    content = _json(schema)
    if FORM in route.raw_media_types:
        content[FORM] = {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    # Any bytes are a file: the part has no JSON type to get wrong.
                    "file": {
                        "description": "The file; its filename and Content-Type are used.",
                        "contentMediaType": "application/octet-stream",
                    },
                    "metadata": {
                        "type": "object",
                        "description": "User metadata, sent as a JSON part.",
                        "propertyNames": {"minLength": 1},
                    },
                },
                "additionalProperties": False,
            },
            "encoding": {"metadata": {"contentType": "application/json"}},
        }
    return {"required": not route.body_optional, "content": content}


def _responses(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    schema_name, description = _RESPONSE_SCHEMAS.get(route.operation_id, ("", "Done"))
    ok_headers = {}
    if route.path.startswith("/documents/") and route.method != "DELETE":
        ok_headers["ETag"] = _HEADERS["ETag"]
    if route.operation_id in ("getDocumentContent", "getRevisionContent"):
        responses["302"] = {
            "description": "Redirect to the presigned download",
            "headers": {"Location": _HEADERS["Location"]},
        }
        responses["200"] = {"description": description, "content": _json(schema_ref("Link"))}
        responses["202"] = {
            "description": "A restore is running (`restore_in_progress`)",
            "headers": {"Retry-After": _HEADERS["Retry-After"]},
            "content": _json(schema_ref("Problem"), PROBLEM),
        }
    elif route.success == 204:
        responses["204"] = {"description": "Done"}
    elif route.operation_id in _ACCEPTED:
        responses["202"] = {
            "description": _ACCEPTED[route.operation_id],
            "headers": {
                "Location": _HEADERS["Location"],
                "Retry-After": _HEADERS["Retry-After"],
                **ok_headers,
            },
            "content": _json(schema_ref("Document")),
        }
        responses["200"] = {
            "description": description,
            "headers": ok_headers,
            "content": _json(schema_ref("Document")),
        }
    elif route.operation_id == "replaceDocument":
        responses["200"] = {
            "description": description,
            "headers": ok_headers,
            "content": _json(schema_ref("Document")),
        }
        responses["202"] = {
            "description": "Accepted; upload the new content as instructed",
            "headers": ok_headers,
            "content": _json(schema_ref("Document")),
        }
    else:
        headers = dict(ok_headers)
        if route.success == 201:
            headers["Location"] = _HEADERS["Location"]
        responses[str(route.success)] = {
            "description": description,
            "content": _json(schema_ref(schema_name)),
        }
        if headers:
            responses[str(route.success)]["headers"] = headers
        links = _LINKS.get(route.operation_id)
        if links:
            responses[str(route.success)]["links"] = links
    if route.revalidated:
        responses["304"] = {
            "description": "Not modified: `If-None-Match` names the current version",
            "headers": {"ETag": _HEADERS["ETag"]},
        }
    if route.operation_id == "healthcheck":
        responses["503"] = _problem("A dependency is down (`?deep=true`)")
    responses["default"] = _problem("A problem document (see `code`)")
    return responses


@functools.cache
def _paths(direct_upload_limit: int, indexed_fields: IndexedFields) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in ROUTES:
        item = paths.setdefault(route.path, {})
        if "{id}" in route.path and "parameters" not in item:
            item["parameters"] = [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": f"^{ULID_PATTERN}$"},
                }
            ]
            if "{revision}" in route.path:
                item["parameters"].append(
                    {
                        "name": "revision",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 999_999_999_999},
                    }
                )
        item[route.method.lower()] = _operation(route, direct_upload_limit, indexed_fields)
    return paths


def openapi_document(
    *,
    server: str = "/",
    direct_upload_limit: int | None = None,
    indexed_fields: IndexedFields | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route, with the server's limits and filters.

    The direct-upload limit is `content`'s `maxLength`; each indexed field adds its filters.
    """
    limit = Settings().direct_upload_limit if direct_upload_limit is None else direct_upload_limit
    fields = IndexedFields() if indexed_fields is None else indexed_fields
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "KumoCMS",
            "version": __version__,
            "description": (
                "A document store: upload, describe, download, archive to Glacier and restore. "
                "Errors are RFC 9457 problem details with a stable `code`."
            ),
        },
        "servers": [{"url": server}],
        "security": [{"apiKey": []}],
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <api key>`",
                }
            },
            "schemas": SCHEMAS,
        },
        "paths": _paths(limit, fields),
    }
