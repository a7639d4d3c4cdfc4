"""Entrypoints layer: the `dlq_retry` Lambda function — re-drives the ingest dead-letter queue.

Runs on a schedule. Each message is processed again; the attempt count travels in the
`kumocms-retries` message attribute. A message is deleted from the DLQ only after it was
processed, re-queued with a higher count (and a growing delay), or moved to the parking queue
once the count reaches `DLQ_MAX_RETRIES` (an alarm watches the parking queue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Runtime, Wiring
    from entrypoints.functions.ingest import process_message
    from entrypoints.manifest import FUNCTIONS
    from entrypoints.observability import configure_logging, count, get_logger, invocation

RETRIES_ATTRIBUTE = "kumocms-retries"
ERROR_ATTRIBUTE = "kumocms-last-error"
MAX_BATCHES = 50
"""Receive at most this many batches of ten per run; the next run continues."""
SAFETY_MARGIN_MS = 20_000
log = get_logger("kumocms.dlq_retry")


def retries_of(message: Mapping[str, Any]) -> int:
    """The attempt count a message carries (0 when it has none or a malformed one)."""
    attribute = (message.get("MessageAttributes") or {}).get(RETRIES_ATTRIBUTE) or {}
    try:
        return max(0, int(attribute.get("StringValue", "0")))
    except ValueError:
        return 0


def make_dlq_retry_handler(get_runtime: Callable[[], Runtime]) -> Callable[..., dict[str, int]]:
    """The scheduled DLQ re-drive handler."""

    def handler(_event: Mapping[str, Any], context: Any) -> dict[str, int]:
        runtime = get_runtime()
        settings = runtime.settings
        configure_logging(settings.log_level)
        dlq = settings.require("ingest_dlq_url")
        parking = settings.require("parking_queue_url")
        bucket = settings.require("bucket")
        sqs = runtime.sqs
        tally = {"processed": 0, "requeued": 0, "parked": 0}
        requeued: set[str] = set()
        with invocation("dlq_retry", context):
            for _ in range(MAX_BATCHES):
                remaining = getattr(context, "get_remaining_time_in_millis", None)
                if remaining is not None and remaining() < SAFETY_MARGIN_MS:
                    break
                batch = sqs.receive_message(
                    QueueUrl=dlq,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                fresh = [m for m in batch if m["MessageId"] not in requeued]
                for message in batch:
                    if message["MessageId"] in requeued:  # one attempt per run: leave it
                        sqs.change_message_visibility(
                            QueueUrl=dlq,
                            ReceiptHandle=message["ReceiptHandle"],
                            VisibilityTimeout=0,
                        )
                if not fresh:
                    break
                for message in fresh:
                    outcome, new_id = _retry(
                        runtime, message, dlq=dlq, parking=parking, bucket=bucket
                    )
                    tally[outcome] += 1
                    if new_id is not None:
                        requeued.add(new_id)
                    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
            for name, value in tally.items():
                count(f"Dlq{name.title()}", value)
        log.info("dlq_retry_done", **tally)
        return tally

    return handler


def _retry(
    runtime: Runtime, message: Mapping[str, Any], *, dlq: str, parking: str, bucket: str
) -> tuple[str, str | None]:
    """Process one message; return what happened and the id of a re-queued copy.

    The caller deletes the message afterwards.
    """
    retries = retries_of(message) + 1
    try:
        process_message(runtime.ports, str(message.get("Body")), bucket=bucket)
    except Exception as error:  # noqa: BLE001 - counted, re-queued or parked, never dropped
        max_retries = runtime.settings.dlq_max_retries
        target, outcome = (parking, "parked") if retries >= max_retries else (dlq, "requeued")
        sent = runtime.sqs.send_message(
            QueueUrl=target,
            MessageBody=str(message.get("Body")),
            DelaySeconds=0 if target == parking else _delay(runtime, retries),
            MessageAttributes={
                RETRIES_ATTRIBUTE: {"DataType": "Number", "StringValue": str(retries)},
                ERROR_ATTRIBUTE: {"DataType": "String", "StringValue": type(error).__name__},
            },
        )
        log.warning(
            "dlq_message_failed",
            message_id=message.get("MessageId"),
            retries=retries,
            outcome=outcome,
            error_type=type(error).__name__,
        )
        return outcome, sent["MessageId"] if target == dlq else None
    return "processed", None


def _delay(runtime: Runtime, retries: int) -> int:
    """Exponential backoff for a re-queued message, within SQS's 15-minute maximum."""
    return min(900, runtime.settings.dlq_retry_delay_seconds * int(2 ** (retries - 1)))


wiring = Wiring(FUNCTIONS["dlq_retry"].needs)
handler = make_dlq_retry_handler(wiring.get)
