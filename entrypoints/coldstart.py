"""Entrypoints layer: keep the cyclic garbage collector out of a Lambda cold start.

A cold start imports our packages, attrs, cattrs, structlog and boto3 and loads botocore's
service models: hundreds of thousands of objects that all live as long as the execution
environment. With the collector running, Python scans them again and again while they are being
made (about a tenth of a cold start, measured by `nox -s bench`), and finds no garbage. Inside
`collection_paused()` it does not run; at the end everything alive is frozen into the permanent
generation (the pattern `gc.freeze` documents), so the first collection afterwards does not scan
it all at once either, nor does any later one. This module imports nothing else, so it can be
the first thing a function module imports.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the collector for the block, then freeze what it made and restore the collector."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
