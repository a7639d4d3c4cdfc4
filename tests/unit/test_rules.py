"""Input rules of §3: file names, content types, sizes, checksums, metadata, API keys, ids."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kumocms.errors import (
    InvalidApiKeyError,
    InvalidChecksumError,
    InvalidContentTypeError,
    InvalidFileNameError,
    InvalidIdError,
    InvalidMetadataError,
    InvalidSizeError,
)
from kumocms.ids import DocumentId
from kumocms.jsonvalue import dumps_json, loads_json
from kumocms.rules import (
    MAX_SIZE,
    metadata_to_plain,
    normalize_metadata,
    sanitize_file_name,
    validate_api_key_format,
    validate_content_type,
    validate_sha256,
    validate_size,
)

# ---- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "0" * 25,
        "0" * 27,
        "8" + "0" * 25,
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",
        "01ARZ3NDEKTSV4RRFFQ69G5FA!",
        "01ARZ3NDEKTSV4RRFFQ69G5FAU\n",
    ],
)
def test_invalid_ulids_are_rejected(text: str) -> None:
    with pytest.raises(InvalidIdError):
        DocumentId.parse(text)


def test_ulids_parse_case_insensitively_and_order_by_time() -> None:
    early = DocumentId.parse("01arz3ndektsv4rrffq69g5fav")
    late = DocumentId.parse("01BX5ZZKBKACTAV9WEVGEMMVRZ")
    assert str(early) == "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert early < late
    assert early.created_at < late.created_at


@pytest.mark.parametrize("value", [None, 12, b"01ARZ3NDEKTSV4RRFFQ69G5FAV"])
def test_non_string_ids_are_rejected(value: object) -> None:
    with pytest.raises(InvalidIdError):
        DocumentId.parse(value)


# ---- file names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("C:\\Users\\me\\file.txt", "C:_Users_me_file.txt"),
        ("line\r\nbreak.txt", "line__break.txt"),
        ("tab\there\x00\x7f\x85.txt", "tab_here___.txt"),
        ("报告 2026.pdf", "报告 2026.pdf"),
        ("café 😀.png", "café 😀.png"),
        ('quote"d.txt', 'quote"d.txt'),
        (" spaced ", " spaced "),
        ("/", "_"),
        (".hidden", ".hidden"),
    ],
)
def test_file_names_are_sanitised(name: str, stored: str) -> None:
    assert sanitize_file_name(name) == stored


@pytest.mark.parametrize(
    "name", ["", ".", "..", "....", "a" * 256, "é" * 128, "😀" * 64, 42, None, "\ud800"]
)
def test_bad_file_names_are_rejected(name: object) -> None:
    with pytest.raises(InvalidFileNameError):
        sanitize_file_name(name)


def test_file_name_limit_counts_utf8_bytes() -> None:
    assert sanitize_file_name("é" * 127 + "a") == "é" * 127 + "a"  # 255 bytes


@given(st.text(min_size=1, max_size=300))
def test_sanitised_names_never_contain_separators_or_controls(name: str) -> None:
    try:
        stored = sanitize_file_name(name)
    except InvalidFileNameError:
        return
    assert "/" not in stored
    assert "\\" not in stored
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in stored)
    assert 0 < len(stored.encode("utf-8")) <= 255
    assert set(stored) != {"."}
    assert sanitize_file_name(stored) == stored  # idempotent


# ---- content types, sizes, checksums --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("text/plain", "text/plain"),
        ("Application/PDF", "application/pdf"),
        ('text/plain; charset="utf-8"', 'text/plain; charset="utf-8"'),
        ("multipart/form-data;boundary=abc", "multipart/form-data; boundary=abc"),
        ("application/vnd.api+json", "application/vnd.api+json"),
    ],
)
def test_content_types_are_accepted(value: str, stored: str) -> None:
    assert validate_content_type(value) == stored


@pytest.mark.parametrize(
    "value",
    [
        "",
        "text",
        "text/",
        "/plain",
        "text/plain/extra",
        "text plain",
        "text/plain; charset",
        "text/plain\r\nX-Evil: 1",
        "a/" + "b" * 300,
        None,
        7,
        "tëxt/plain",
    ],
)
def test_malformed_content_types_are_rejected(value: object) -> None:
    with pytest.raises(InvalidContentTypeError):
        validate_content_type(value)


@pytest.mark.parametrize("size", [1, 4096, MAX_SIZE])
def test_sizes_in_range(size: int) -> None:
    assert validate_size(size) == size


@pytest.mark.parametrize("size", [0, -1, MAX_SIZE + 1, True, 1.5, "10", None])
def test_sizes_out_of_range(size: object) -> None:
    with pytest.raises(InvalidSizeError):
        validate_size(size)


def test_sha256_is_lower_cased_and_checked() -> None:
    assert validate_sha256("AB" * 32) == "ab" * 32
    for bad in ["ab" * 31, "zz" * 32, "", None, 5]:
        with pytest.raises(InvalidChecksumError):
            validate_sha256(bad)


# ---- API keys -------------------------------------------------------------------------------


def test_api_key_format() -> None:
    assert validate_api_key_format("k" * 20) == "k" * 20
    assert validate_api_key_format("~!" * 64) == "~!" * 64
    for bad in ["k" * 19, "k" * 129, "k" * 19 + " ", "ключ" * 10, None, "k" * 20 + "\n"]:
        with pytest.raises(InvalidApiKeyError):
            validate_api_key_format(bad)


# ---- metadata -------------------------------------------------------------------------------


def test_metadata_numbers_keep_equal_value() -> None:
    raw = loads_json(
        '{"a": 0.1, "b": 1e-7, "c": 12345678901234567890, "d": 1E+125, "e": 1.0, "f": -0.0,'
        ' "g": [1.50, {"h": 2.5e3}]}'
    )
    meta = normalize_metadata(raw)
    assert metadata_to_plain(meta) == {
        "a": Decimal("0.1"),
        "b": Decimal("1E-7"),
        "c": 12345678901234567890,
        "d": 10**125,
        "e": 1,
        "f": 0,
        "g": [Decimal("1.5"), {"h": 2500}],
    }
    assert dumps_json(meta) == (
        '{"a":0.1,"b":1E-7,"c":12345678901234567890,"d":1' + "0" * 125 + ',"e":1,"f":0,'
        '"g":[1.5,{"h":2500}]}'
    )
    assert json.loads(dumps_json(meta))["a"] == 0.1


def test_user_metadata_keys_are_just_user_keys() -> None:
    meta = normalize_metadata({"document_id": "mine", "s3key": "x", "version": 99, "state": 1})
    assert dict(meta) == {"document_id": "mine", "s3key": "x", "version": 99, "state": 1}


@pytest.mark.parametrize(
    "value",
    [
        [],
        "text",
        None,
        3,
        {"n": float("nan")},
        {"n": float("inf")},
        {"n": Decimal("NaN")},
        {"n": Decimal("1E+126")},
        {"n": Decimal("1E-131")},
        {"n": Decimal("1." + "1" * 38)},
        {"n": 10**126},
        {1: "non-string key"},
        {"": "empty key"},
        {"b": b"bytes"},
        {"s": {1, 2}},
        {"big": "x" * (64 * 1024)},
    ],
)
def test_bad_metadata_is_rejected(value: object) -> None:
    with pytest.raises(InvalidMetadataError):
        normalize_metadata(value)


def test_metadata_depth_limit_is_sixteen_levels() -> None:
    def nest(levels: int) -> object:
        value: object = {}
        for _ in range(levels - 1):
            value = {"x": value}
        return value

    normalize_metadata(nest(16))
    with pytest.raises(InvalidMetadataError):
        normalize_metadata(nest(17))
    with pytest.raises(InvalidMetadataError):
        normalize_metadata({"a": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]})


def test_metadata_size_limit_counts_serialised_bytes() -> None:
    normalize_metadata({"k": "x" * (64 * 1024 - 10)})  # {"k":"..."} is 8 bytes of framing
    with pytest.raises(InvalidMetadataError):
        normalize_metadata({"k": "é" * (32 * 1024)})


def test_nan_is_not_json() -> None:
    with pytest.raises(ValueError, match="NaN"):
        loads_json('{"a": NaN}')


json_numbers = st.one_of(
    st.integers(min_value=-(10**37), max_value=10**37),
    # Decimals built from their parts: up to 38 significant digits, any allowed magnitude.
    st.builds(
        lambda sign, digits, exponent: Decimal(
            (sign, tuple(int(c) for c in str(digits)), exponent)
        ),
        st.integers(0, 1),
        st.integers(0, 10**38 - 1),
        st.integers(-130, 88),
    ).filter(lambda d: d.is_zero() or -130 <= d.adjusted() <= 125),
    st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: f == 0 or 1e-130 <= abs(f) < 9.99e125
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.text(max_size=20) | json_numbers,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=100)
@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=6))
def test_metadata_round_trips_through_json_text(value: dict[str, object]) -> None:
    meta = normalize_metadata(value)
    again = normalize_metadata(loads_json(dumps_json(meta)))
    assert again == meta
    assert normalize_metadata(meta) == meta
