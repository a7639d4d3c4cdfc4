"""Test support: count AWS requests with a botocore event hook (no mocks of our own code)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.client import BaseClient

REGION = "eu-west-1"


class RequestCounter:
    """Counts API calls made through the clients it is attached to, by operation name."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.log: list[str] = []

    def attach(self, *clients: BaseClient) -> RequestCounter:
        for client in clients:
            client.meta.events.register("before-call.*.*", self._count)
        return self

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        self.log.append(model.name)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.log.clear()

    @contextmanager
    def measure(self) -> Iterator[RequestCounter]:
        self.reset()
        yield self


def aws_client(service: str, **kwargs: Any) -> Any:
    """A client for moto with the project's config (what the composition root builds)."""
    from adapters.aws import client_config

    return boto3.client(
        service, region_name=REGION, config=client_config(s3=service == "s3"), **kwargs
    )
