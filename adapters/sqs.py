"""Adapters layer: an SQS queue as a `MessageQueue`.

A message's retry count and last error travel as the message attributes `kumocms-retries`
(Number) and `kumocms-last-error` (String), so they survive a trip through a dead-letter
queue and back. A count that is missing or not a number reads as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from adapters.aws import aws_errors
from kumocms.ports import QueuedMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef, MessageTypeDef

RETRIES_ATTRIBUTE = "kumocms-retries"
ERROR_ATTRIBUTE = "kumocms-last-error"
MAX_BATCH = 10
"""SQS returns at most ten messages per ReceiveMessage."""
MAX_DELAY = timedelta(minutes=15)
"""SQS's longest per-message delay."""


class SqsQueue:
    """One SQS queue, addressed by its URL."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(
        self,
        body: str,
        *,
        attempts: int = 0,
        last_error: str | None = None,
        delay: timedelta = timedelta(0),
    ) -> str:
        """One SendMessage; the delay is whole seconds within SQS's 15 minutes."""
        if not timedelta(0) <= delay <= MAX_DELAY:
            raise ValueError(f"a message delay must be between 0 and {MAX_DELAY}")
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            RETRIES_ATTRIBUTE: {"DataType": "Number", "StringValue": str(attempts)}
        }
        if last_error:
            attributes[ERROR_ATTRIBUTE] = {"DataType": "String", "StringValue": last_error}
        with aws_errors("SQS SendMessage"):
            sent = self._client.send_message(
                QueueUrl=self._url,
                MessageBody=body,
                DelaySeconds=int(delay.total_seconds()),
                MessageAttributes=attributes,
            )
        return sent["MessageId"]

    def receive(self, *, limit: int) -> Sequence[QueuedMessage]:
        """One short-polling ReceiveMessage."""
        with aws_errors("SQS ReceiveMessage"):
            answer = self._client.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=max(1, min(limit, MAX_BATCH)),
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
        return tuple(_message(raw) for raw in answer.get("Messages", []))

    def delete(self, message: QueuedMessage) -> None:
        """One DeleteMessage."""
        with aws_errors("SQS DeleteMessage"):
            self._client.delete_message(QueueUrl=self._url, ReceiptHandle=message.receipt)

    def release(self, message: QueuedMessage) -> None:
        """One ChangeMessageVisibility to 0."""
        with aws_errors("SQS ChangeMessageVisibility"):
            self._client.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=message.receipt, VisibilityTimeout=0
            )


def _message(raw: MessageTypeDef) -> QueuedMessage:
    attributes = raw.get("MessageAttributes") or {}

    def text(name: str) -> str | None:
        attribute = attributes.get(name)
        return None if attribute is None else attribute.get("StringValue")

    return QueuedMessage(
        id=raw["MessageId"],
        body=raw.get("Body", ""),
        attempts=_count(text(RETRIES_ATTRIBUTE)),
        last_error=text(ERROR_ATTRIBUTE) or None,
        receipt=raw["ReceiptHandle"],
    )


def _count(text: str | None) -> int:
    try:
        return max(0, int(text or "0"))
    except ValueError:
        return 0
