"""Domain layer: the input rules of KumoCMS (file names, content types, sizes, metadata, keys)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

from kumocms.errors import (
    InvalidApiKeyError,
    InvalidChecksumError,
    InvalidContentTypeError,
    InvalidFileNameError,
    InvalidMetadataError,
    InvalidSizeError,
)
from kumocms.jsonvalue import JsonObject, JsonValue, dumps_json

MIN_RESTORE_DAYS = 1
MAX_RESTORE_DAYS = 365
"""Days a temporary restored copy may stay readable (the API accepts 1 to 365)."""
MAX_FILE_NAME_BYTES = 255
MAX_CONTENT_TYPE_LENGTH = 255
MIN_SIZE = 1
MAX_SIZE = 5 * 1024**4  # 5 TiB, S3's largest object
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 16
MAX_NUMBER_DIGITS = 38  # DynamoDB keeps 38 significant digits
MIN_NUMBER_EXPONENT = -130  # smallest magnitude 1E-130
MAX_NUMBER_EXPONENT = 125  # largest magnitude 9.99...E+125
MIN_API_KEY_LENGTH = 20
MAX_API_KEY_LENGTH = 128

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # noqa: S105 - an RFC 9110 token, not a secret
_QUOTED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\x09\x20-\x7e])*"'
_CONTENT_TYPE = re.compile(
    rf"(?P<type>{_TOKEN})/(?P<subtype>{_TOKEN})"
    rf"(?P<params>(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*)[ \t]*;?[ \t]*"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_API_KEY = re.compile(r"[\x21-\x7e]+")


def sanitize_file_name(name: object) -> str:
    r"""Return the stored form of a client's file name.

    Control characters, `/` and `\\` become `_`; every other character, unicode included, is
    kept as it is.

    Raises:
        InvalidFileNameError: the result is empty, only dots, or over 255 UTF-8 bytes.
    """
    if not isinstance(name, str):
        raise InvalidFileNameError("file_name must be a string", field="file_name")
    cleaned = "".join(
        "_" if char in "/\\" or unicodedata.category(char) == "Cc" else char for char in name
    )
    if not cleaned:
        raise InvalidFileNameError("file_name must not be empty", field="file_name")
    if set(cleaned) == {"."}:
        raise InvalidFileNameError("file_name must not consist of dots only", field="file_name")
    try:
        encoded = cleaned.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be stored or sent anywhere
        raise InvalidFileNameError("file_name must be valid unicode", field="file_name") from None
    if len(encoded) > MAX_FILE_NAME_BYTES:
        raise InvalidFileNameError(
            f"file_name must be at most {MAX_FILE_NAME_BYTES} UTF-8 bytes", field="file_name"
        )
    return cleaned


def validate_content_type(value: object) -> str:
    """Return a content type `type/subtype` (optional parameters) with lower-case type names.

    Raises:
        InvalidContentTypeError: the value is not a media type.
    """
    if not isinstance(value, str) or len(value) > MAX_CONTENT_TYPE_LENGTH:
        raise InvalidContentTypeError(
            f"content_type must be a media type of at most {MAX_CONTENT_TYPE_LENGTH} characters",
            field="content_type",
        )
    match = _CONTENT_TYPE.fullmatch(value.strip())
    if match is None:
        raise InvalidContentTypeError(
            "content_type must look like type/subtype with optional parameters",
            field="content_type",
        )
    media = f"{match['type'].lower()}/{match['subtype'].lower()}"
    params = [part.strip() for part in match["params"].split(";") if part.strip()]
    return "; ".join([media, *params])


def validate_size(value: object, *, field: str = "size") -> int:
    """Return a content size in bytes.

    Raises:
        InvalidSizeError: not an integer from 1 byte to 5 TiB.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSizeError(f"{field} must be an integer", field=field)
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise InvalidSizeError(f"{field} must be from 1 byte to 5 TiB ({MAX_SIZE})", field=field)
    return value


def validate_sha256(value: object) -> str:
    """Return a SHA-256 digest as 64 lower-case hex digits.

    Raises:
        InvalidChecksumError: not 64 hex digits.
    """
    if not isinstance(value, str) or _SHA256.fullmatch(value.lower()) is None:
        raise InvalidChecksumError("sha256 must be 64 hexadecimal digits", field="sha256")
    return value.lower()


def validate_api_key_format(value: object) -> str:
    """Return an API key if it is 20 to 128 printable ASCII characters without spaces.

    Raises:
        InvalidApiKeyError: the key has another length or other characters.
    """
    if (
        not isinstance(value, str)
        or not MIN_API_KEY_LENGTH <= len(value) <= MAX_API_KEY_LENGTH
        or _API_KEY.fullmatch(value) is None
    ):
        raise InvalidApiKeyError(
            f"an API key is {MIN_API_KEY_LENGTH} to {MAX_API_KEY_LENGTH} printable ASCII "
            "characters without spaces",
            field="api_key",
        )
    return value


def normalize_metadata(value: object) -> JsonObject:
    """Validate user metadata and return its canonical, read-only form.

    Numbers become `int` when integral and `Decimal` otherwise, so that a value read back from
    any store compares equal to the value written. Objects become read-only mappings and arrays
    tuples.

    Raises:
        InvalidMetadataError: not a JSON object, over 64 KiB serialised, deeper than 16 levels,
            a number outside DynamoDB's range, NaN/Infinity, or a key that is empty or not a
            string.
    """
    if not isinstance(value, Mapping):
        raise InvalidMetadataError("metadata must be a JSON object", field="metadata")
    normalized = _normalize(value, depth=1)
    assert isinstance(normalized, Mapping)
    if len(dumps_json(normalized).encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidMetadataError(
            f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON", field="metadata"
        )
    return normalized


def _normalize(value: object, *, depth: int) -> JsonValue:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float | Decimal):
        return normalize_number(value)
    if depth > MAX_METADATA_DEPTH:
        raise InvalidMetadataError(
            f"metadata must be at most {MAX_METADATA_DEPTH} levels deep", field="metadata"
        )
    if isinstance(value, Mapping):
        items: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise InvalidMetadataError(
                    "metadata keys must be non-empty strings", field="metadata"
                )
            items[key] = _normalize(item, depth=depth + 1)
        return MappingProxyType(items)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return tuple(_normalize(item, depth=depth + 1) for item in value)
    raise InvalidMetadataError(f"metadata cannot hold a {type(value).__name__}", field="metadata")


def normalize_number(value: int | float | Decimal) -> int | Decimal:
    """Return a JSON number in canonical form if DynamoDB can store it exactly.

    Raises:
        InvalidMetadataError: NaN, Infinity, more than 38 significant digits, or a magnitude
            outside 1E-130 to 9.99E+125.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidMetadataError("metadata numbers must be finite", field="metadata")
        number = Decimal(repr(value))
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        number = value
    if not number.is_finite():
        raise InvalidMetadataError("metadata numbers must be finite", field="metadata")
    if number.is_zero():
        return 0
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    significant = list(digits)
    while significant and significant[-1] == 0:
        significant.pop()
        exponent += 1
    adjusted = exponent + len(significant) - 1
    if len(significant) > MAX_NUMBER_DIGITS:
        raise InvalidMetadataError(
            f"metadata numbers keep at most {MAX_NUMBER_DIGITS} significant digits",
            field="metadata",
        )
    if not MIN_NUMBER_EXPONENT <= adjusted <= MAX_NUMBER_EXPONENT:
        raise InvalidMetadataError(
            "metadata numbers must have a magnitude from 1E-130 to 9.99E+125", field="metadata"
        )
    canonical = Decimal((sign, tuple(significant), exponent))
    if exponent >= 0:
        return int(canonical)
    return canonical


def metadata_to_plain(value: JsonValue) -> object:
    """Turn canonical metadata back into plain dicts and lists (for serialisers and tests)."""
    if isinstance(value, Mapping):
        return {key: metadata_to_plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [metadata_to_plain(item) for item in value]
    return value
