"""Entrypoints layer: the `documents_read` Lambda function — the document read routes.

The document read routes (GET /documents, /documents/{id}, /documents/{id}/content).
"""

from __future__ import annotations

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Wiring
    from entrypoints.http.api import make_http_handler
    from entrypoints.manifest import FUNCTIONS

wiring = Wiring(FUNCTIONS["documents_read"].needs)
handler = make_http_handler("documents_read", wiring.get)
