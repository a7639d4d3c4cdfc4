"""Entrypoints layer: the request headers of an API Gateway event, read one way everywhere.

A REST API event may carry headers in `headers`, `multiValueHeaders` or both. For a header
sent more than once, `headers` holds only the last value while `multiValueHeaders` holds them
all, so `multiValueHeaders` wins and its values are joined with ", " (RFC 9110 §5.3). Names
are case-insensitive. The HTTP functions and the authorizer both read headers through here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only request headers (repeated headers joined with ", ")."""

    def __init__(self, pairs: Mapping[str, str]) -> None:
        self._items = {key.lower(): value for key, value in pairs.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def event_headers(event: Mapping[str, Any]) -> Headers:
    """The headers of a REST API proxy or REQUEST authorizer event."""
    found: dict[str, str] = {}
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if values:
            found[name.lower()] = ", ".join(str(value) for value in values)
    for name, value in (event.get("headers") or {}).items():
        if value is not None:
            found.setdefault(name.lower(), str(value))
    return Headers(found)
