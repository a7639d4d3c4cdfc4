"""botocore failures become domain errors at the adapter boundary, never tracebacks."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from adapters.aws import aws_errors, translate
from kumocms.errors import DependencyError, DocumentNotFoundError


def client_error(code: str | None) -> ClientError:
    error = {"Code": code, "Message": "m"} if code else {}
    return ClientError({"Error": error}, "PutItem")


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (client_error("ThrottlingException"), "DynamoDB PutItem throttled (ThrottlingException)"),
        (client_error("InternalError"), "DynamoDB PutItem failed (InternalError)"),
        (client_error(None), "DynamoDB PutItem failed (unknown error)"),
        (
            EndpointConnectionError(endpoint_url="https://dynamodb"),
            "DynamoDB PutItem failed (EndpointConnectionError)",
        ),
        (
            ReadTimeoutError(endpoint_url="https://dynamodb"),
            "DynamoDB PutItem failed (ReadTimeoutError)",
        ),
        (OSError("socket closed"), "DynamoDB PutItem failed"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_every_failure_becomes_a_dependency_error(error: Exception, detail: str) -> None:
    translated = translate(error, operation="DynamoDB PutItem")
    assert isinstance(translated, DependencyError)
    assert str(translated) == detail


def test_a_domain_error_passes_through_unchanged() -> None:
    missing = DocumentNotFoundError("document x not found")
    assert translate(missing, operation="S3 GetObject") is missing


def test_the_context_manager_raises_the_translation_from_the_original() -> None:
    original = client_error("SlowDown")
    with pytest.raises(DependencyError, match="throttled") as raised, aws_errors("S3 PutObject"):
        raise original
    assert raised.value.__cause__ is original
