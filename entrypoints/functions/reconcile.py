"""Entrypoints layer: the `reconcile` Lambda function — the scheduled reconcile use case."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from entrypoints.coldstart import collection_paused

with collection_paused():
    import attrs

    from entrypoints.bootstrap import Runtime, Wiring
    from entrypoints.manifest import FUNCTIONS
    from entrypoints.observability import configure_logging, count, get_logger, invocation
    from kumocms.usecases.reconcile import reconcile

log = get_logger("kumocms.reconcile")


def make_reconcile_handler(get_runtime: Callable[[], Runtime]) -> Callable[..., dict[str, int]]:
    """The scheduled handler: expire lost uploads, settle stuck and expired restores."""

    def handler(_event: Mapping[str, Any], context: Any) -> dict[str, int]:
        runtime = get_runtime()
        configure_logging(runtime.settings.log_level)
        with invocation("reconcile", context):
            report = attrs.asdict(reconcile(runtime.ports))
            for name, value in report.items():
                if value:
                    count(f"Reconcile_{name}", value)
        log.info("reconciled", **report)
        return report

    return handler


wiring = Wiring(FUNCTIONS["reconcile"].needs)
handler = make_reconcile_handler(wiring.get)
