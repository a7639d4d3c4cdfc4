"""Entrypoints layer: a strict `multipart/form-data` parser for direct uploads (RFC 7578)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import attrs

from entrypoints.http.problems import HttpError

_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))', re.IGNORECASE)
_DISPOSITION_PARAM = re.compile(
    r';\s*(?P<name>[a-zA-Z0-9_*-]+)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^;\s]+))'
)


@attrs.frozen(kw_only=True)
class FormPart:
    """One part: its field name, optional file name, content type and bytes."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse_form(content_type: str, body: bytes) -> dict[str, FormPart]:
    """Parts by field name.

    Raises:
        HttpError: no boundary, malformed framing, or a repeated field.
    """
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise HttpError(400, "validation_failed", "multipart/form-data needs a boundary")
    delimiter = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise HttpError(400, "validation_failed", "the multipart body is malformed")
    parts: dict[str, FormPart] = {}
    for chunk in chunks[1:-1]:
        part = _parse_part(chunk)
        if part.name in parts:
            raise HttpError(400, "validation_failed", f"form field {part.name} is repeated")
        parts[part.name] = part
    return parts


def _parse_part(chunk: bytes) -> FormPart:
    if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
        raise HttpError(400, "validation_failed", "the multipart body is malformed")
    head, separator, data = chunk[2:-2].partition(b"\r\n\r\n")
    if not separator:
        raise HttpError(400, "validation_failed", "a multipart part has no headers")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, colon, value = line.partition(":")
        if not colon:
            raise HttpError(400, "validation_failed", "a multipart part header is malformed")
        headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise HttpError(400, "validation_failed", "a multipart part is not form-data")
    params: dict[str, str] = {}
    for match in _DISPOSITION_PARAM.finditer(disposition):
        value = match["quoted"] if match["quoted"] is not None else match["token"]
        params[match["name"].lower()] = re.sub(r"\\(.)", r"\1", value)
    name = params.get("name")
    if not name:
        raise HttpError(400, "validation_failed", "a multipart part has no field name")
    filename = params.get("filename")
    extended = params.get("filename*")
    if extended and extended.lower().startswith("utf-8''"):
        try:
            filename = unquote(extended[7:], encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise HttpError(400, "validation_failed", "filename* is not UTF-8") from None
    return FormPart(
        name=name, filename=filename, content_type=headers.get("content-type"), data=data
    )
