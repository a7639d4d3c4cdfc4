"""Entrypoints layer: a strict `multipart/form-data` parser for direct uploads (RFC 7578, 2046).

Framing follows RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary (the first one may start the
body without the CRLF), then optional transport padding (spaces and tabs) and CRLF; the close
delimiter is "--" boundary "--"; the preamble and the epilogue are ignored. A "--" boundary that
is not at the start of a line, or that is followed by anything else, is data, so a file may
contain its own boundary's text. The standard library's `email` parser is not used: it works on
text lines and does not keep a part's bytes exactly (bare CR and LF are line ends to it).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import attrs

from entrypoints.http.problems import HttpError

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_BOUNDARY_PARAM = re.compile(
    r';\s*boundary\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<token>[^;\s"]*))', re.IGNORECASE
)
_BCHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
"""RFC 2046 `boundary`: 1 to 70 of these characters, the last one not a space."""
_PARAM = re.compile(
    rf'\s*;\s*(?P<name>{_TCHARS})\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^;\s"]+))'
)
_DISPOSITION_TYPE = re.compile(rf"\s*(?P<type>{_TCHARS})")
_HEADER_NAME = re.compile(_TCHARS)
_PERCENT_ESCAPES = re.compile(r"%(0[dDaA]|22)")
_SINGLE_HEADERS = frozenset({"content-disposition", "content-type", "content-transfer-encoding"})
_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
_PADDING = b" \t"


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
        HttpError: no or an invalid boundary, malformed framing or part headers, a part that is
            not form-data or has no name, or a repeated field.
    """
    parts: dict[str, FormPart] = {}
    for chunk in _split(body, b"--" + _boundary(content_type)):
        part = _parse_part(chunk)
        if part.name in parts:
            raise _invalid(f"form field {part.name} is repeated")
        parts[part.name] = part
    return parts


def _invalid(detail: str) -> HttpError:
    return HttpError(400, "validation_failed", detail)


def _boundary(content_type: str) -> bytes:
    found = _BOUNDARY_PARAM.search(content_type)
    if found is None:
        raise _invalid("multipart/form-data needs a boundary")
    value = found["quoted"] if found["quoted"] is not None else found["token"]
    if not _BCHARS.fullmatch(value):
        raise _invalid("the multipart boundary must be 1 to 70 characters allowed by RFC 2046")
    return value.encode("ascii")


def _split(body: bytes, dash_boundary: bytes) -> list[bytes]:
    """The body parts between the delimiters, without the CRLF that belongs to a delimiter."""
    line = _delimiter_line(body, 0, dash_boundary) if body.startswith(dash_boundary) else None
    if line is None:  # a preamble comes first
        _, start, closing = _next_delimiter(
            body, dash_boundary, 0, "the multipart body has no boundary"
        )
    else:
        start, closing = line
    if closing:
        raise _invalid("the multipart body has no parts")
    chunks = []
    while not closing:
        found, after, closing = _next_delimiter(
            body, dash_boundary, start, "the multipart body is not closed"
        )
        chunks.append(body[start:found])
        start = after
    return chunks


def _next_delimiter(
    body: bytes, dash_boundary: bytes, at: int, missing: str
) -> tuple[int, int, bool]:
    """The next delimiter from `at`: its start, the next part's start, whether it closes.

    Raises:
        HttpError: there is none.
    """
    while (found := body.find(b"\r\n" + dash_boundary, at)) >= 0:
        line = _delimiter_line(body, found + 2, dash_boundary)
        if line is not None:
            return found, *line
        at = found + 1  # "--boundary" followed by other bytes is data, not a delimiter
    raise _invalid(missing)


def _delimiter_line(body: bytes, at: int, dash_boundary: bytes) -> tuple[int, bool] | None:
    """Where the part after the dash-boundary at `at` starts and whether it closes the body.

    None when the bytes after it make it no delimiter (the close delimiter's own padding and
    the epilogue after it are not read).
    """
    end = at + len(dash_boundary)
    if body.startswith(b"--", end):
        return end + 2, True
    while end < len(body) and body[end] in _PADDING:
        end += 1
    if body.startswith(b"\r\n", end):
        return end + 2, False
    return None


def _parse_part(chunk: bytes) -> FormPart:
    if not chunk or chunk.startswith(b"\r\n"):
        raise _invalid("a multipart part has no headers")
    head, separator, data = chunk.partition(b"\r\n\r\n")
    if not separator:  # RFC 2046's body-part may end after its headers, with no content
        if not chunk.endswith(b"\r\n"):
            raise _invalid("a multipart part's headers do not end with a line break")
        head = chunk[:-2]
    headers = _headers(head)
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise _invalid("a multipart part has no Content-Disposition header")
    kind, params = _disposition(disposition)
    if kind.lower() != "form-data":
        raise _invalid("a multipart part is not form-data")
    encoding = headers.get("content-transfer-encoding")
    if encoding is not None and encoding.lower() not in _IDENTITY_ENCODINGS:
        raise _invalid("a multipart part may not use a Content-Transfer-Encoding")
    name = params.get("name")
    if not name:
        raise _invalid("a multipart part has no field name")
    return FormPart(
        name=name,
        filename=_filename(params),
        content_type=headers.get("content-type"),
        data=data,
    )


def _headers(head: bytes) -> dict[str, str]:
    """Header fields by lower-case name; folded lines are unfolded (RFC 5322 §2.2.3)."""
    try:
        text = head.decode("utf-8")  # RFC 7578 §5.1: file names may be sent as raw UTF-8
    except UnicodeDecodeError:
        raise _invalid("a multipart part header is not UTF-8") from None
    lines: list[str] = []
    for line in text.split("\r\n"):
        if "\r" in line or "\n" in line:
            raise _invalid("a multipart part header is malformed")
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line
        else:
            lines.append(line)
    headers: dict[str, str] = {}
    for line in lines:
        key, colon, value = line.partition(":")
        key = key.rstrip(" \t").lower()
        if not colon or not _HEADER_NAME.fullmatch(key):
            raise _invalid("a multipart part header is malformed")
        if key in headers and key in _SINGLE_HEADERS:
            raise _invalid(f"a multipart part repeats the {key} header")
        headers[key] = value.strip(" \t")
    return headers


def _disposition(value: str) -> tuple[str, dict[str, str]]:
    """The disposition type and its parameters by lower-case name, values unquoted."""
    kind = _DISPOSITION_TYPE.match(value)
    if kind is None:
        raise _invalid("the Content-Disposition header is malformed")
    params: dict[str, str] = {}
    at = kind.end()
    while (param := _PARAM.match(value, at)) is not None:
        name = param["name"].lower()
        if name in params:
            raise _invalid(f"the Content-Disposition header repeats {name}")
        quoted = param["quoted"]
        params[name] = param["token"] if quoted is None else _unquote(quoted)
        at = param.end()
    if value[at:].strip(" \t;"):
        raise _invalid("the Content-Disposition header is malformed")
    return kind["type"], params


def _unquote(value: str) -> str:
    r"""A quoted-string's content, read as the sender most likely wrote it.

    Browsers and urllib3 follow the WHATWG HTML standard: `"`, CR and LF are sent as %22, %0D and
    %0A and a backslash is sent as itself. Older clients backslash-escape `"` and `\` (RFC 2616's
    quoted-pair) instead; a value holding `\"` or `\\` is read that way.
    """
    if '\\"' in value or "\\\\" in value:
        return re.sub(r'\\(["\\])', r"\1", value)
    return _PERCENT_ESCAPES.sub(lambda escape: chr(int(escape[1], 16)), value)


def _filename(params: dict[str, str]) -> str | None:
    """`filename*` (RFC 8187, UTF-8) when given, else `filename`.

    RFC 7578 §4.2 says senders should not use `filename*`; it is read because some do. Another
    charset is ignored, as RFC 6266 §4.3 has recipients fall back to `filename`.
    """
    extended = params.get("filename*")
    if extended is not None:
        charset, _, rest = extended.partition("'")
        _language, quote, encoded = rest.partition("'")
        if quote and charset.lower() == "utf-8":
            try:
                return unquote(encoded, encoding="utf-8", errors="strict")
            except UnicodeDecodeError:
                raise _invalid("filename* is not UTF-8") from None
    return params.get("filename")
