"""The multipart/form-data parser against an independent encoder (urllib3) and RFC 2046 framing."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.fields import RequestField
from urllib3.filepost import encode_multipart_formdata

from entrypoints.http.forms import FormPart, parse_form
from entrypoints.http.problems import HttpError

BCHARS = string.ascii_letters + string.digits + "'()+_,-./:=? "
"""RFC 2046 §5.1.1: the characters a boundary may use (a space, but not last)."""

# ---- strategies -----------------------------------------------------------------------------

hex_boundaries = st.text("0123456789abcdef", min_size=32, max_size=32)
"""The shape of urllib3's own boundaries (`choose_boundary`), drawn here so runs replay."""
any_boundaries = st.text(BCHARS, min_size=1, max_size=70).filter(lambda b: not b.endswith(" "))

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
file_names = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\\%"), min_size=1, max_size=30
)
"""Any name urllib3 can send unambiguously: it writes `\\` and `%` as themselves (WHATWG)."""
content_types = st.sampled_from(
    ["application/pdf", "text/plain; charset=utf-8", "application/octet-stream", "image/png"]
)


def not_a_delimiter(data: bytes, boundary: bytes) -> bytes:
    """`data` with every real delimiter broken: an encoder must pick a boundary the content
    does not hold at the start of a line (RFC 2046 §5.1.1); everywhere else it may appear."""
    data = data.replace(b"\r\n--" + boundary, b"\r\nx--" + boundary)
    return b"x" + data if data.startswith(b"--" + boundary) else data  # it follows a CRLF


def file_bytes(boundary: bytes) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes mixed with line breaks and look-alikes of the boundary."""
    dash = b"--" + boundary
    pieces = st.one_of(
        st.binary(max_size=40),
        st.sampled_from(
            [b"\r\n", b"\r", b"\n", b"--", b" \t", boundary, dash, dash + b"--", dash + b"\r\n"]
        ),
    )
    return st.lists(pieces, max_size=12).map(b"".join)


def metadata_text(boundary: str) -> st.SearchStrategy[str]:
    """A JSON object as text, its strings sometimes holding the boundary's look-alikes."""
    strings = st.text(max_size=20) | st.sampled_from([boundary, f"--{boundary}", f"--{boundary}--"])
    values = st.recursive(
        json_scalars | strings,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
        max_leaves=12,
    )
    return st.dictionaries(strings, values, max_size=5).map(
        lambda value: json.dumps(value, ensure_ascii=False)
    )


@st.composite
def uploads(draw: st.DrawFn, boundaries: st.SearchStrategy[str] = any_boundaries) -> dict[str, Any]:
    """A direct upload as urllib3 encodes it, with the parts it was made from."""
    boundary = draw(boundaries)
    file = FormPart(
        name="file",
        filename=draw(file_names),
        content_type=draw(content_types),
        data=not_a_delimiter(draw(file_bytes(boundary.encode())), boundary.encode()),
    )
    fields = [RequestField.from_tuples("file", (file.filename, file.data, file.content_type))]
    metadata = draw(st.none() | metadata_text(boundary))
    if metadata is not None:
        fields.insert(draw(st.integers(0, 1)), RequestField.from_tuples("metadata", metadata))
    body, content_type = encode_multipart_formdata(fields, boundary=boundary)
    if set(boundary) - set(string.ascii_letters + string.digits + "'+_-."):
        content_type = f'multipart/form-data; boundary="{boundary}"'  # not a token: quote it
    return {
        "boundary": boundary,
        "body": body,
        "content_type": content_type,
        "file": file,
        "metadata": metadata,
    }


# ---- round trips ----------------------------------------------------------------------------


@given(uploads(hex_boundaries))
def test_urllib3_uploads_come_back_byte_for_byte(upload: dict[str, Any]) -> None:
    parts = parse_form(upload["content_type"], upload["body"])
    assert parts["file"] == upload["file"]
    if upload["metadata"] is None:
        assert set(parts) == {"file"}
    else:
        assert parts["metadata"].data == upload["metadata"].encode()
        assert parts["metadata"].filename is None


@given(uploads())
def test_any_rfc_2046_boundary_may_appear_in_the_data_off_a_line_start(
    upload: dict[str, Any],
) -> None:
    parts = parse_form(upload["content_type"], upload["body"])
    assert parts["file"] == upload["file"]
    if upload["metadata"] is not None:
        assert parts["metadata"].data == upload["metadata"].encode()


@given(
    uploads(),
    st.binary(max_size=40),
    st.text(" \t", max_size=3).map(str.encode),
    st.binary(max_size=40),
)
def test_preamble_transport_padding_and_epilogue_are_ignored(
    upload: dict[str, Any], preamble: bytes, padding: bytes, epilogue: bytes
) -> None:
    dash = b"--" + upload["boundary"].encode()
    body: bytes = upload["body"]
    assert body.startswith(dash + b"\r\n")
    assert body.endswith(b"\r\n" + dash + b"--\r\n")
    body = body[len(dash) + 2 : -len(dash) - 6]
    body = body.replace(b"\r\n" + dash + b"\r\n", b"\r\n" + dash + padding + b"\r\n")
    preamble = not_a_delimiter(preamble, dash[2:])
    framed = (
        (preamble + b"\r\n" if preamble else b"")
        + dash
        + padding
        + b"\r\n"
        + body
        + b"\r\n"
        + dash
        + b"--"
        + padding
        + b"\r\n"
        + epilogue
    )
    parts = parse_form(upload["content_type"], framed)
    assert parts["file"] == upload["file"]


@given(uploads(), st.data())
def test_any_cut_or_garbled_body_is_a_400_or_parses(
    upload: dict[str, Any], data: st.DataObject
) -> None:
    body: bytes = upload["body"]
    cut = data.draw(st.integers(0, len(body)))
    noise = data.draw(st.binary(max_size=8))
    for garbled in (body[:cut], body[:cut] + noise + body[cut:], noise):
        outcome = _outcome(upload["content_type"], garbled)
        assert outcome in {"parsed", (400, "validation_failed")}


def _outcome(content_type: str, body: bytes) -> object:
    try:
        parse_form(content_type, body)
    except HttpError as error:
        return (error.status, error.code)
    return "parsed"


# ---- what the parser reads, by example ----------------------------------------------------------


def _form(*parts: bytes, boundary: bytes = b"b") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + (
        b"--" + boundary + b"--\r\n"
    )


FORM = "multipart/form-data; boundary=b"


def _file(disposition: bytes, *headers: bytes, data: bytes = b"x") -> bytes:
    return b"\r\n".join([b"Content-Disposition: " + disposition, *headers, b"", data])


def test_a_file_holding_its_boundary_text_is_not_cut_there() -> None:
    data = b"--b\r\n--b--\r\nx--b\r\n--bb\r\n--b-\r\n--b \tx\r\n--b\r\r\n--b\n"
    data = not_a_delimiter(data, b"b")
    parts = parse_form(FORM, _form(_file(b'form-data; name="file"; filename="f"', data=data)))
    assert parts["file"].data == data


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        (b'form-data; name="file"; filename="r\\"e\\"p.pdf"', 'r"e"p.pdf'),  # quoted-pairs
        (b'form-data; name="file"; filename="a\\\\b.pdf"', "a\\b.pdf"),
        (b'form-data; name="file"; filename="C:\\dir\\a.pdf"', "C:\\dir\\a.pdf"),  # a browser
        (b'form-data; name="file"; filename="a%22b%0D%0Ac.pdf"', 'a"b\r\nc.pdf'),  # WHATWG
        (b'form-data; name="file"; filename="100%.pdf"', "100%.pdf"),
        ('form-data; name="file"; filename="報告.pdf"'.encode(), "報告.pdf"),  # raw UTF-8
        (b"form-data; name=file; filename=plain.pdf", "plain.pdf"),  # tokens
        (b'FORM-DATA ; NAME = "file" ; FileName = "case.pdf" ;', "case.pdf"),
        (b'form-data; name="file"; filename="f"; filename*=UTF-8\'\'%e2%82%ac.pdf', "€.pdf"),
        (b"form-data; name=\"file\"; filename*=utf-8'en'%C3%A9.pdf", "é.pdf"),
        (b'form-data; name="file"; filename="f"; filename*=ISO-8859-1\'\'%e9', "f"),
        (b'form-data; name="file"', None),
    ],
)
def test_content_disposition_parameters(disposition: bytes, filename: str | None) -> None:
    parts = parse_form(FORM, _form(_file(disposition)))
    assert parts["file"].name == "file"
    assert parts["file"].filename == filename


def test_headers_are_case_insensitive_folded_and_the_part_content_type_is_kept() -> None:
    part = (
        b'content-disposition:form-data;\r\n name="file";\r\n\tfilename="f"\r\n'
        b"CONTENT-TYPE:  application/pdf \r\nContent-Transfer-Encoding: binary\r\n"
        b"X-Other: kept out\r\n\r\n%PDF"
    )
    assert parse_form(FORM, _form(part))["file"] == FormPart(
        name="file", filename="f", content_type="application/pdf", data=b"%PDF"
    )


@pytest.mark.parametrize(
    "content_type",
    [
        'multipart/form-data; boundary="b"',
        "multipart/form-data;boundary=b",
        "multipart/form-data; charset=utf-8; BOUNDARY=b",
        "Multipart/Form-Data; boundary = b ; x=y",
    ],
)
def test_the_boundary_parameter_forms(content_type: str) -> None:
    assert parse_form(content_type, _form(_file(b'form-data; name="file"')))["file"].data == b"x"


def test_a_part_may_end_after_its_headers_and_the_first_delimiter_after_a_preamble() -> None:
    body = b'preamble\r\n--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n--b--'
    assert parse_form(FORM, body)["file"].data == b""
    empty = _form(_file(b'form-data; name="file"', data=b""))
    assert parse_form(FORM, empty)["file"].data == b""


def test_a_70_character_boundary_is_the_longest() -> None:
    boundary = b"a" * 70
    body = _form(_file(b'form-data; name="file"'), boundary=boundary)
    assert (
        parse_form(f"multipart/form-data; boundary={boundary.decode()}", body)["file"].data == b"x"
    )


# ---- malformed bodies -------------------------------------------------------------------------

GOOD_PART = _file(b'form-data; name="file"; filename="f"')


@pytest.mark.parametrize(
    ("content_type", "body", "detail"),
    [
        ("multipart/form-data", _form(GOOD_PART), "needs a boundary"),
        ("multipart/form-data; boundary=", _form(GOOD_PART), "1 to 70 characters"),
        (
            "multipart/form-data; boundary=" + "a" * 71,
            _form(GOOD_PART, boundary=b"a" * 71),
            "1 to 70",
        ),
        ('multipart/form-data; boundary="b "', _form(GOOD_PART, boundary=b"b "), "1 to 70"),
        ("multipart/form-data; boundary=b!", _form(GOOD_PART, boundary=b"b!"), "1 to 70"),
        (FORM, b"garbage", "has no boundary"),
        (FORM, b"", "has no boundary"),
        (FORM, b"--bx\r\n" + GOOD_PART + b"\r\n--b--", "has no parts"),
        (FORM, b"--b--\r\n", "has no parts"),
        (FORM, b"--b\r\n" + GOOD_PART, "is not closed"),
        (FORM, b"--b\r\n" + GOOD_PART + b"\r\n--b", "is not closed"),
        (FORM, b"--b\r\n" + GOOD_PART + b"--b--\r\n", "is not closed"),
        (FORM, _form(b"\r\nx"), "has no headers"),
        (FORM, _form(b""), "has no headers"),
        (FORM, b"--b\r\nContent-Disposition: form-data; name=file\r\n--b--", "do not end"),
        (
            FORM,
            _form(b'Content-Disposition: form-data; name="file"\r\nNo colon\r\n\r\nx'),
            "malformed",
        ),
        (FORM, _form(b' Content-Disposition: form-data; name="file"\r\n\r\nx'), "malformed"),
        (
            FORM,
            _form(b'Bad Name: 1\r\nContent-Disposition: form-data; name="f"\r\n\r\nx'),
            "malformed",
        ),
        (FORM, _form(b'Content-Disposition: form-data; name="file"\rX: 1\r\n\r\nx'), "malformed"),
        (FORM, _form(_file(b'form-data; name="file"; filename="\xff"')), "not UTF-8"),
        (FORM, _form(b"Content-Type: text/plain\r\n\r\nx"), "no Content-Disposition"),
        (FORM, _form(_file(b'attachment; name="file"')), "not form-data"),
        (FORM, _form(_file(b'form-datax; name="file"')), "not form-data"),
        (FORM, _form(_file(b'form-data name="file"')), "Content-Disposition header is malformed"),
        (FORM, _form(_file(b'form-data; name="file')), "Content-Disposition header is malformed"),
        (FORM, _form(_file(b"form-data; name")), "Content-Disposition header is malformed"),
        (FORM, _form(_file(b";name=file")), "Content-Disposition header is malformed"),
        (FORM, _form(_file(b'form-data; name="a"; name="b"')), "repeats name"),
        (FORM, _form(_file(b'form-data; filename="f"')), "no field name"),
        (FORM, _form(_file(b'form-data; name=""')), "no field name"),
        (FORM, _form(_file(b"form-data; name=file", b"Content-Disposition: form-data")), "repeats"),
        (
            FORM,
            _form(_file(b"form-data; name=file", b"Content-Type: a/b", b"Content-Type: c/d")),
            "repeats",
        ),
        (
            FORM,
            _form(_file(b"form-data; name=file", b"Content-Transfer-Encoding: base64")),
            "Transfer",
        ),
        (
            FORM,
            _form(_file(b"form-data; name=file; filename*=UTF-8''%ff")),
            "filename* is not UTF-8",
        ),
        (FORM, _form(GOOD_PART, GOOD_PART), "form field file is repeated"),
    ],
)
def test_malformed_bodies_are_a_400_that_says_why(
    content_type: str, body: bytes, detail: str
) -> None:
    with pytest.raises(HttpError) as raised:
        parse_form(content_type, body)
    assert (raised.value.status, raised.value.code) == (400, "validation_failed")
    assert detail in raised.value.detail
