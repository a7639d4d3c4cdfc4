"""Adapters layer: what every AWS adapter shares — one client config and one error translator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kumocms.errors import DependencyError, KumoError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "LimitExceededException",
    }
)


def client_config(*, s3: bool = False, max_attempts: int = 5, path_style: bool = False) -> Config:
    """The one botocore Config every client uses: standard retries and short timeouts.

    S3 clients also sign with SigV4 and virtual-hosted addressing on the regional endpoint
    (presigned URLs then name `<bucket>.s3.<region>.amazonaws.com` and carry `X-Amz-Expires`;
    the legacy global host answers new buckets with redirects that break browser uploads), and
    compute checksums only when an operation requires one, so presigned URLs do not demand
    checksum headers a client never sends. `path_style` is for emulators on a bare host:port.
    """
    options: dict[str, object] = {
        "retries": {"mode": "standard", "max_attempts": max_attempts},
        "connect_timeout": 3,
        "read_timeout": 20,
        "tcp_keepalive": True,
    }
    if s3:
        options.update(
            s3={
                "addressing_style": "path" if path_style else "virtual",
                "us_east_1_regional_endpoint": "regional",
            },
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    return Config(**options)  # type: ignore[arg-type]


def error_code(error: ClientError) -> str:
    """The AWS error code of a ClientError (`""` when absent)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: Exception, *, operation: str) -> KumoError:
    """The domain error for an AWS failure that the caller did not handle itself.

    Everything unexpected becomes DependencyError: the edge answers 503 and event processing
    reports the record as failed, so retries and dead-letter queues see it.
    """
    if isinstance(error, KumoError):
        return error
    if isinstance(error, ClientError):
        code = error_code(error)
        kind = "throttled" if code in THROTTLING_CODES else "failed"
        return DependencyError(f"{operation} {kind} ({code or 'unknown error'})")
    if isinstance(error, BotoCoreError):
        return DependencyError(f"{operation} failed ({type(error).__name__})")
    return DependencyError(f"{operation} failed")


@contextmanager
def aws_errors(operation: str) -> Iterator[None]:
    """Turn any botocore failure inside the block into a domain error."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation=operation) from error
