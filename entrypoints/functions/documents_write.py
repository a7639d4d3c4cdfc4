"""Entrypoints layer: the `documents_write` Lambda function — the document write routes.

The document write routes (upload, patch, replace, delete, archive, restore, multipart).
"""

from __future__ import annotations

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Wiring
    from entrypoints.http.api import make_http_handler
    from entrypoints.manifest import FUNCTIONS

wiring = Wiring(FUNCTIONS["documents_write"].needs)
handler = make_http_handler("documents_write", wiring.get)
