"""Entrypoints layer: the `dlq_retry` Lambda function — re-drives the ingest dead-letter queue.

Runs on a schedule. Each message is processed again; the attempt count travels in the
`kumocms-retries` message attribute. A message is deleted from the DLQ only after it was
processed, re-queued with a higher count (and a growing delay), or moved to the parking queue
once the count reaches `DLQ_MAX_RETRIES` (an alarm watches the parking queue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Runtime, Wiring
    from entrypoints.manifest import FUNCTIONS
    from entrypoints.observability import configure_logging, count, get_logger, invocation
    from entrypoints.storage_events import apply_message
    from kumocms.ports import QueuedMessage

MAX_BATCHES = 50
"""Receive at most this many batches of ten per run; the next run continues."""
SAFETY_MARGIN_MS = 20_000
MAX_DELAY = timedelta(minutes=15)
log = get_logger("kumocms.dlq_retry")


def make_dlq_retry_handler(get_runtime: Callable[[], Runtime]) -> Callable[..., dict[str, int]]:
    """The scheduled DLQ re-drive handler."""

    def handler(_event: Mapping[str, Any], context: Any) -> dict[str, int]:
        runtime = get_runtime()
        configure_logging(runtime.settings.log_level)
        tally = {"processed": 0, "requeued": 0, "parked": 0}
        requeued: set[str] = set()
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        with invocation("dlq_retry", context):
            for _ in range(MAX_BATCHES):
                if remaining is not None and remaining() < SAFETY_MARGIN_MS:
                    break
                batch = runtime.dead_letters.receive(limit=10)
                for message in batch:
                    if message.id in requeued:  # one attempt per run: leave it for the next
                        runtime.dead_letters.release(message)
                fresh = [message for message in batch if message.id not in requeued]
                if not fresh:
                    break
                for message in fresh:
                    outcome, new_id = _retry(runtime, message)
                    tally[outcome] += 1
                    if new_id is not None:
                        requeued.add(new_id)
                    runtime.dead_letters.delete(message)
            for name, value in tally.items():
                count(f"Dlq{name.title()}", value)
        log.info("dlq_retry_done", **tally)
        return tally

    return handler


def _retry(runtime: Runtime, message: QueuedMessage) -> tuple[str, str | None]:
    """Process one message; return what happened and the id of a re-queued copy.

    The caller deletes the message afterwards.
    """
    attempts = message.attempts + 1
    try:
        apply_message(runtime.ports, message.body, bucket=runtime.settings.require("bucket"))
    except Exception as error:  # noqa: BLE001 - counted, re-queued or parked, never dropped
        error_type = type(error).__name__
        log.warning(
            "dlq_message_failed",
            message_id=message.id,
            retries=attempts,
            outcome="parked" if attempts >= runtime.settings.dlq_max_retries else "requeued",
            error_type=error_type,
        )
        if attempts >= runtime.settings.dlq_max_retries:
            runtime.parking.send(message.body, attempts=attempts, last_error=error_type)
            return "parked", None
        sent = runtime.dead_letters.send(
            message.body, attempts=attempts, last_error=error_type, delay=_delay(runtime, attempts)
        )
        return "requeued", sent
    return "processed", None


def _delay(runtime: Runtime, attempts: int) -> timedelta:
    """Exponential backoff for a re-queued message, within SQS's 15-minute maximum."""
    seconds = runtime.settings.dlq_retry_delay_seconds * 2 ** (attempts - 1)
    return min(MAX_DELAY, timedelta(seconds=seconds))


wiring = Wiring(FUNCTIONS["dlq_retry"].needs)
handler = make_dlq_retry_handler(wiring.get)
