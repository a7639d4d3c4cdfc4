"""Entrypoints layer: structured JSON logs and CloudWatch Embedded Metric Format counters.

structlog is configured once per process. Every invocation starts by clearing the context
(warm containers reuse the process) and binding the request id and the cold-start flag. Logs go
to stdout in Lambda (CloudWatch reads it) and to stderr in the local stack.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

import structlog

if TYPE_CHECKING:
    from kumocms.events import DomainEvent
    from kumocms.ports import EventBus

_configured = False
_cold = True
_output: TextIO | None = None
_current: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar("metrics", default=None)
NAMESPACE = "KumoCMS"
"""The metrics namespace until `use_metrics_namespace` names the stack's own."""
_namespace = NAMESPACE
EVENTS_NOT_PUBLISHED = "EventsNotPublished"
"""EMF counter of domain events lost after botocore's retries (Terraform alarms on it)."""


def configure_logging(level: str = "INFO", *, stream: TextIO | None = None) -> None:
    """Configure structlog for JSON lines (once; later calls only change nothing)."""
    global _configured, _output  # noqa: PLW0603 - process-wide, configured once
    if _configured:
        return
    _output = stream
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level, logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(_Sink()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    _configured = True


class _Sink:
    """Where log lines go, looked up at every write.

    structlog caches a logger on first use; resolving the stream here lets the local stack (and
    tests) send lines elsewhere without depending on which logger was made first.
    """

    def write(self, text: str) -> int:
        return (_output or sys.stdout).write(text)

    def flush(self) -> None:
        (_output or sys.stdout).flush()


def redirect(stream: TextIO | None) -> None:
    """Send log lines and metrics to `stream` (None: standard output)."""
    global _output  # noqa: PLW0603 - one sink per process
    _output = stream


def use_metrics_namespace(namespace: str) -> None:
    """Write EMF metrics to `namespace` (one per stack, so two stacks' alarms never mix)."""
    global _namespace  # noqa: PLW0603 - one namespace per process, set by the composition root
    _namespace = namespace


def metrics_namespace() -> str:
    """The namespace EMF metrics are written to."""
    return _namespace


def get_logger(name: str) -> Any:
    """A structlog logger (key-value events, never f-strings)."""
    return structlog.get_logger(name)


@contextmanager
def invocation(function: str, context: object) -> Iterator[Metrics]:
    """Bind per-invocation log context and collect metrics flushed when the invocation ends."""
    global _cold
    cold, _cold = _cold, False
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        function=function,
        request_id=getattr(context, "aws_request_id", None),
        cold_start=cold,
    )
    metrics = Metrics(function)
    token = _current.set(metrics)
    try:
        yield metrics
    finally:
        _current.reset(token)
        metrics.flush()


def count(name: str, value: int = 1) -> None:
    """Add to a counter of the current invocation (nothing outside an invocation)."""
    metrics = _current.get()
    if metrics is not None:
        metrics.count(name, value)


class CountingEventBus:
    """Wraps an event bus: counts published events by name, and records lost ones.

    Use cases publish after their change is committed. When EventBridge stays unavailable
    through botocore's retries, failing the request would make the client repeat a change that
    already happened (a second upload, a second replacement), so the change stands and the lost
    events are logged and counted (`EventsNotPublished`, which an alarm watches) instead. A
    transactional outbox would make them at-least-once; see the README.
    """

    def __init__(self, inner: EventBus) -> None:
        self._inner = inner

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Publish, then count what was published (or what was lost)."""
        from kumocms.errors import DependencyError  # noqa: PLC0415 - keeps this module light

        try:
            self._inner.publish(events)
        except DependencyError:
            count(EVENTS_NOT_PUBLISHED, len(events))
            structlog.get_logger("kumocms.events").error(
                "domain_events_not_published", events=[event.name for event in events]
            )
            return
        for event in events:
            count(event.name)


class Metrics:
    """Counters of one invocation, written as one EMF line (only when something was counted)."""

    def __init__(self, function: str) -> None:
        self._function = function
        self._counts: Counter[str] = Counter()

    def count(self, name: str, value: int = 1) -> None:
        """Add to a counter."""
        self._counts[name] += value

    def flush(self) -> None:
        """Write the EMF document and reset."""
        if not self._counts:
            return
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": _namespace,
                        "Dimensions": [["function"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in self._counts],
                    }
                ],
            },
            "function": self._function,
            **self._counts,
        }
        print(json.dumps(document, separators=(",", ":")), file=_output or sys.stdout)
        self._counts.clear()
