"""Entrypoints layer: an SQS event source mapping, in-process — queue batches into a handler.

Messages are received in batches, handed to the handler as a Lambda SQS event, and deleted
unless the handler reported them in `batchItemFailures` (or failed as a whole); those become
visible again after the visibility timeout and, past the queue's receive limit, SQS moves them to
the dead-letter queue, as on AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from entrypoints.local.gateway import LambdaContext

Handler = Callable[[Mapping[str, Any], Any], Any]


class QueuePump:
    """Moves messages from one queue into one handler."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        queue_arn: str,
        region: str,
        batch_size: int = 10,
        function: str = "ingest",
        timeout_seconds: float = 30.0,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._queue_arn = queue_arn
        self._region = region
        self._batch_size = batch_size
        self._function = function
        self._timeout = timeout_seconds

    def pump_once(self, *, wait_seconds: int = 0) -> int:
        """Receive and hand over one batch; return how many messages it held."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self._handler(event, LambdaContext(self._function, self._timeout))
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:  # noqa: BLE001 - a failed invocation retries the whole batch
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)

    def drain(self, *, max_batches: int = 100) -> int:
        """Pump until the queue shows nothing receivable (bounded); return messages seen."""
        total = 0
        for _ in range(max_batches):
            count = self.pump_once()
            if count == 0:
                break
            total += count
        return total

    def _record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {"stringValue": value.get("StringValue"), "dataType": value.get("DataType")}
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }
