"""Entrypoints layer: the `meta` Lambda function — GET /healthcheck, /docs, /limits and /me."""

from __future__ import annotations

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Wiring
    from entrypoints.http.api import make_http_handler
    from entrypoints.manifest import FUNCTIONS

wiring = Wiring(FUNCTIONS["meta"].needs)
handler = make_http_handler("meta", wiring.get)
