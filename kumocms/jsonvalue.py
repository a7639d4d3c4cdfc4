"""Domain layer: JSON values with exact numbers (ints and Decimals, never floats)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

JsonValue: TypeAlias = (
    "bool | int | Decimal | str | Sequence[JsonValue] | Mapping[str, JsonValue] | None"
)
JsonObject: TypeAlias = "Mapping[str, JsonValue]"

_encode_string = json.encoder.encode_basestring


def loads_json(text: str | bytes) -> object:
    """Parse JSON keeping every number exact: integers as int, the rest as Decimal.

    `NaN`, `Infinity` and `-Infinity` are refused (they are not JSON).

    Raises:
        ValueError: the text is not JSON.
    """

    def _no_constants(name: str) -> object:
        raise ValueError(f"{name} is not a JSON number")

    return json.loads(text, parse_float=Decimal, parse_constant=_no_constants)


def dumps_json(value: object) -> str:
    """Serialise a JSON value compactly; Decimals are written digit for digit."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def number_text(number: Decimal) -> str:
    """JSON text for a finite Decimal (`1E+125`, `0.1`, `-3`)."""
    if not number.is_finite():
        raise ValueError("NaN and Infinity are not JSON numbers")
    return str(number)


_CONSTANTS: dict[object, str] = {None: "null", True: "true", False: "false"}


def _write(value: object, parts: list[str]) -> None:
    if value is None or value is True or value is False:
        parts.append(_CONSTANTS[value])
    elif isinstance(value, str):
        parts.append(_encode_string(value))
    elif isinstance(value, int | Decimal | float):
        parts.append(_number(value))
    elif isinstance(value, Mapping):
        _write_object(value, parts)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _number(value: int | Decimal | float) -> str:
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, Decimal):
        return number_text(value)
    if not math.isfinite(value):
        raise ValueError("NaN and Infinity are not JSON numbers")
    return float.__repr__(value)


def _write_object(value: Mapping[object, object], parts: list[str]) -> None:
    parts.append("{")
    for index, (key, item) in enumerate(value.items()):
        if index:
            parts.append(",")
        if not isinstance(key, str):
            raise TypeError("JSON object keys must be strings")
        parts.append(_encode_string(key))
        parts.append(":")
        _write(item, parts)
    parts.append("}")
