"""Entrypoints layer: the `transfer` Lambda function — copy orders from the transfer queue.

Each SQS record's body is a copy order (`{"document_id", "copy_id"}`) or a hold order
(`{"kind": "holds", "document_id"}`: bring Object Lock legal holds up to date); its retry
count travels
in the `kumocms-retries` message attribute. The function's queue has batch size 1: one copy
fills an invocation, which works until the copy is committed or its remaining time
(`context.get_remaining_time_in_millis()`) nears the end, then hands over by sending the order
again (progress is in DynamoDB). A record that fails unexpectedly is reported in
`batchItemFailures`, redelivered after the visibility timeout and, after the receive limit,
moved to the transfer DLQ (whose depth alarms), where reconcile finds it and rolls the copy
back (`DocumentCopyFailed`, alarmed as copies-failed).
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
    from kumocms.usecases.holds import HoldOrder, apply_holds
    from kumocms.usecases.transfer import CopyOrder, run_copy

log = get_logger("kumocms.transfer")

RETRIES_ATTRIBUTE = "kumocms-retries"


def make_transfer_handler(get_runtime: Callable[[], Runtime]) -> Callable[..., dict[str, Any]]:
    """The SQS handler of the transfer queue, with partial batch failure reporting."""

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        runtime = get_runtime()
        configure_logging(runtime.settings.log_level)
        records = event.get("Records")
        if not isinstance(records, list):
            raise TypeError("not an SQS event: no Records list")
        failures: list[dict[str, str]] = []

        def remaining() -> timedelta:
            return timedelta(milliseconds=context.get_remaining_time_in_millis())

        with invocation("transfer", context):
            for record in records:
                message_id = record.get("messageId") if isinstance(record, Mapping) else None
                if not isinstance(message_id, str):
                    raise TypeError("an SQS record has no messageId")
                try:
                    body = str(record.get("body"))
                    holds = HoldOrder.decode(body)
                    if holds is not None:
                        changed = apply_holds(runtime.ports, holds.document_id)
                        count("Holds_applied" if changed else "Holds_unchanged")
                        log.info("holds_worked", document_id=holds.document_id.value)
                        continue
                    order = CopyOrder.decode(body)
                    outcome = run_copy(
                        runtime.ports, order, attempts=_attempts(record), remaining=remaining
                    )
                    count(f"Copy_{outcome.value}")
                    log.info(
                        "copy_worked",
                        document_id=order.document_id.value,
                        copy_id=order.copy_id,
                        outcome=outcome.value,
                    )
                except Exception as error:  # noqa: BLE001 - reported, never swallowed
                    failures.append({"itemIdentifier": message_id})
                    count("CopyFailures")
                    log.warning(
                        "copy_order_failed", message_id=message_id, error_type=type(error).__name__
                    )
        return {"batchItemFailures": failures}

    return handler


def _attempts(record: Mapping[str, Any]) -> int:
    attributes = record.get("messageAttributes") or {}
    value = attributes.get(RETRIES_ATTRIBUTE) if isinstance(attributes, Mapping) else None
    text = value.get("stringValue") if isinstance(value, Mapping) else None
    try:
        return max(0, int(text or "0"))
    except ValueError:
        return 0


wiring = Wiring(FUNCTIONS["transfer"].needs)
handler = make_transfer_handler(wiring.get)
