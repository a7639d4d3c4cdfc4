"""Entrypoints layer: the `ingest` Lambda function — S3 events from the ingest SQS queue.

Each SQS record's body is an EventBridge S3 event. Records are handled one by one; a record
that fails is reported in `batchItemFailures` (ReportBatchItemFailures), so only it is
redelivered and, after the queue's receive limit, moved to the dead-letter queue. The handler
raises only when it cannot produce a report at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Runtime, Wiring
    from entrypoints.manifest import FUNCTIONS
    from entrypoints.observability import configure_logging, count, get_logger, invocation
    from entrypoints.storage_events import apply_message
    from kumocms.errors import RetryLaterError

log = get_logger("kumocms.ingest")


def make_ingest_handler(get_runtime: Callable[[], Runtime]) -> Callable[..., dict[str, Any]]:
    """The SQS batch handler with partial batch failure reporting."""

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        runtime = get_runtime()
        configure_logging(runtime.settings.log_level)
        bucket = runtime.settings.require("bucket")
        records = event.get("Records")
        if not isinstance(records, list):
            raise TypeError("not an SQS event: no Records list")  # nothing to report against
        failures: list[dict[str, str]] = []
        with invocation("ingest", context):
            for record in records:
                message_id = record.get("messageId") if isinstance(record, Mapping) else None
                if not isinstance(message_id, str):
                    raise TypeError("an SQS record has no messageId")
                try:
                    outcome = apply_message(runtime.ports, str(record.get("body")), bucket=bucket)
                    count(f"Ingest{outcome.value.title()}")
                except RetryLaterError:
                    # Early, not failed: logged at info with its key by apply_message, retried
                    # through the queue, and counted apart so IngestFailures stays real.
                    failures.append({"itemIdentifier": message_id})
                    count("IngestRetryLater")
                except Exception as error:  # noqa: BLE001 - reported, never swallowed
                    failures.append({"itemIdentifier": message_id})
                    count("IngestFailures")
                    log.warning(
                        "storage_event_failed",
                        message_id=message_id,
                        error_type=type(error).__name__,
                    )
        return {"batchItemFailures": failures}

    return handler


wiring = Wiring(FUNCTIONS["ingest"].needs)
handler = make_ingest_handler(wiring.get)
