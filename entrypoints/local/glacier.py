"""Entrypoints layer: Glacier restores that take time on the embedded moto server.

Moto restores instantly and sends no completion event. The emulator runs in this process, so
the simulator wraps moto's key restore: a new restore is held "in progress" (S3 answers
`ongoing-request="true"`) for the configured delay, then released — which emits moto's real
`Object Restore Completed` event through S3 -> EventBridge -> SQS, the path AWS takes.
"""

from __future__ import annotations

import threading
import time
from typing import Any

# This module reaches into moto's key objects on purpose (see the module docstring).
# ruff: noqa: SLF001

_lock = threading.Lock()
_held: dict[int, tuple[Any, float]] = {}
_original_restore: Any = None
_delay_seconds = 0.0


def install(delay_seconds: float) -> None:
    """Hold every new restore for `delay_seconds` (installed once per process)."""
    global _original_restore, _delay_seconds  # noqa: PLW0603 - patches moto once
    from moto.moto_api import state_manager  # noqa: PLC0415 - moto is only needed locally
    from moto.s3.models import FakeKey  # noqa: PLC0415

    # Reading a key's status must never move it on by itself: only release_due() does.
    state_manager.set_transition(
        model_name="s3::keyrestore", transition={"progression": "manual", "times": 10**9}
    )
    _delay_seconds = delay_seconds
    if _original_restore is not None:
        return
    _original_restore = FakeKey.restore

    def restore(key: Any, days: int) -> None:
        already = key._expiry is not None  # an extension of a readable copy is immediate
        _original_restore(key, days)
        if not already:
            key._status = "IN_PROGRESS"
            with _lock:
                _held[id(key)] = (key, time.monotonic() + _delay_seconds)

    FakeKey.restore = restore  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Give moto its own restore behaviour back (tests share the process with other moto use)."""
    global _original_restore  # noqa: PLW0603
    if _original_restore is None:
        return
    from moto.moto_api import state_manager  # noqa: PLC0415
    from moto.s3.models import FakeKey  # noqa: PLC0415

    FakeKey.restore = _original_restore  # type: ignore[method-assign]
    _original_restore = None
    state_manager.unset_transition("s3::keyrestore")
    with _lock:
        _held.clear()


def release_due() -> int:
    """Complete every held restore whose delay has passed; return how many."""
    from moto.s3 import notifications  # noqa: PLC0415
    from moto.s3.models import s3_backends  # noqa: PLC0415

    now = time.monotonic()
    with _lock:
        due = [key for key, at in _held.values() if at <= now]
        for key in due:
            del _held[id(key)]
    for key in due:
        key._status = "RESTORED"
        backend = s3_backends[key.account_id][key.partition]
        bucket = backend.get_bucket(key.bucket_name)
        notifications.send_event(
            key.account_id,
            notifications.S3NotificationEvent.OBJECT_RESTORE_COMPLETED_EVENT,
            bucket,
            key=key,
        )
    return len(due)


def pending() -> int:
    """Restores still held."""
    with _lock:
        return len(_held)
