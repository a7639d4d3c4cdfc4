"""Domain layer: modules imported on first use, so a read path does not pay for write types."""

from __future__ import annotations

import importlib
from typing import Any


class Deferred:
    """Stands in for a module until one of its attributes is first used, then imports it.

    A Lambda function that only reads documents never builds a domain event; deferring the
    events module keeps its classes out of that function's cold start. Each access goes through
    `importlib.import_module`, which is thread-safe and, once the module is loaded, a dictionary
    lookup.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"
