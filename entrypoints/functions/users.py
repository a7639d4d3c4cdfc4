"""Entrypoints layer: the `users` Lambda function — the /users routes (admin only)."""

from __future__ import annotations

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Wiring
    from entrypoints.http.api import make_http_handler
    from entrypoints.manifest import FUNCTIONS

wiring = Wiring(FUNCTIONS["users"].needs)
handler = make_http_handler("users", wiring.get)
