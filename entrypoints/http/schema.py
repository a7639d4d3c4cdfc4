"""Entrypoints layer: strict request-body and query validation that also writes the OpenAPI."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kumocms.errors import ValidationError

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
}


@attrs.frozen(kw_only=True)
class Prop:
    """One JSON property: its type and limits (the OpenAPI schema is derived from these)."""

    type: str
    description: str = ""
    required: bool = False
    nullable: bool = False
    max_length: int | None = None
    min_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    format: str | None = None
    """A JSON Schema `format` (documentation: `date-time` values are checked by the domain)."""
    items: Prop | ObjectSpec | None = None
    min_items: int | None = None
    max_items: int | None = None
    default: object = None

    def parse(self, name: str, value: object) -> object:
        """Check one value.

        Raises:
            ValidationError: wrong type or out of range (the message names the field).
        """
        if value is None:
            if self.nullable:
                return None
            raise ValidationError(f"{name} must not be null", field=name)
        if self.type == "integer" and isinstance(value, Decimal) and value == value.to_integral():
            value = int(value)  # JSON Schema counts 3.0 as an integer
        if not _is_type(value, self.type):
            raise ValidationError(f"{name} must be {_TYPE_NAMES[self.type]}", field=name)
        if isinstance(value, str):
            self._check_string(name, value)
        elif isinstance(value, list):
            return self._parse_list(name, value)
        elif self.type == "integer":
            self._check_range(name, value)
        return value

    def _check_range(self, name: str, value: object) -> None:
        assert isinstance(value, int)
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"{name} must be at least {self.minimum}", field=name)
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"{name} must be at most {self.maximum}", field=name)

    def _parse_list(self, name: str, value: list[object]) -> list[object]:
        if self.min_items is not None and len(value) < self.min_items:
            raise ValidationError(f"{name} needs at least {self.min_items} item(s)", field=name)
        if self.max_items is not None and len(value) > self.max_items:
            raise ValidationError(f"{name} takes at most {self.max_items} items", field=name)
        if self.items is None:
            return value
        return [self.items.parse(f"{name}[{i}]", item) for i, item in enumerate(value)]

    def _check_string(self, name: str, value: str) -> None:
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(
                f"{name} must be at most {self.max_length} characters", field=name
            )
        if self.min_length is not None and len(value) < self.min_length:
            raise ValidationError(
                f"{name} must be at least {self.min_length} characters", field=name
            )
        if self.enum is not None and value not in self.enum:
            raise ValidationError(f"{name} must be one of {', '.join(self.enum)}", field=name)
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise ValidationError(f"{name} is malformed", field=name)

    def json_schema(self) -> dict[str, Any]:
        """This property as JSON Schema (OpenAPI 3.1 dialect)."""
        if self.items is not None and isinstance(self.items, ObjectSpec):
            item_schema: dict[str, Any] | None = self.items.json_schema()
        elif self.items is not None:
            item_schema = self.items.json_schema()
        else:
            item_schema = None
        schema: dict[str, Any] = {"type": [self.type, "null"] if self.nullable else self.type}
        limits = {
            "description": self.description or None,
            "maxLength": self.max_length,
            "minLength": self.min_length,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "enum": list(self.enum) if self.enum else None,
            "pattern": self.pattern,
            "format": self.format,
            "items": item_schema,
            "minItems": self.min_items,
            "maxItems": self.max_items,
            "default": self.default,
        }
        schema.update({key: value for key, value in limits.items() if value is not None})
        if self.type == "object":
            schema["propertyNames"] = {"minLength": 1}
        return schema


@attrs.frozen(kw_only=True)
class ObjectSpec:
    """A JSON object with known properties; anything else is refused."""

    properties: Mapping[str, Prop]
    description: str = ""
    additional: bool = False
    any_of_required: tuple[tuple[str, ...], ...] = ()
    """Documented alternatives (`content` or `size`); the use case enforces them."""

    def parse(self, name: str, value: object) -> dict[str, Any]:
        """Check an object and return it with only known fields.

        Raises:
            ValidationError: not an object, an unknown or missing field, or a bad value.
        """
        if not isinstance(value, Mapping):
            raise ValidationError(f"{name} must be a JSON object", field=name)
        if not self.additional:
            unknown = sorted(set(value) - set(self.properties))
            if unknown:
                raise ValidationError(f"unknown field: {unknown[0]}", field=unknown[0])
        parsed: dict[str, Any] = {}
        for key, prop in self.properties.items():
            if key in value:
                parsed[key] = prop.parse(key, value[key])
            elif prop.required:
                raise ValidationError(f"{key} is required", field=key)
        return parsed

    def json_schema(self) -> dict[str, Any]:
        """This object as JSON Schema."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {key: prop.json_schema() for key, prop in self.properties.items()},
            "additionalProperties": self.additional,
        }
        required = [key for key, prop in self.properties.items() if prop.required]
        if required:
            schema["required"] = required
        if self.description:
            schema["description"] = self.description
        if self.any_of_required:
            schema["anyOf"] = [{"required": list(names)} for names in self.any_of_required]
        return schema


def _is_type(value: object, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        if isinstance(value, Decimal):
            return False  # 1.0 in JSON is parsed as a Decimal: not an integer field's value
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, Mapping)
    if kind == "array":
        return isinstance(value, list)
    raise ValueError(kind)
