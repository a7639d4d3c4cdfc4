"""Infrastructure drift: the alarms watch the metrics the code really emits, where it emits them."""

from __future__ import annotations

from entrypoints.functions.authorizer import REJECTED_METRIC
from entrypoints.manifest import FUNCTIONS
from entrypoints.observability import EVENTS_NOT_PUBLISHED
from entrypoints.settings import DEFAULT_METRICS_NAMESPACE
from tests.infra.module_files import MODULE, expression, locals_of, resource


def _text(name: str) -> str:
    return (MODULE / name).read_text(encoding="utf-8")


def test_the_rejection_alarms_watch_the_authorizers_counter() -> None:
    rejections = resource("alarms.tf", "aws_cloudwatch_metric_alarm", "authorizer_rejections")
    assert rejections["metric_name"] == REJECTED_METRIC
    assert expression(rejections["namespace"]) == "local.metrics_namespace"
    assert rejections["dimensions"] == {"function": "authorizer"}
    errors = resource("alarms.tf", "aws_cloudwatch_metric_alarm", "function_errors")
    rejected = errors["dynamic"][0]["metric_query"]["content"][0]["metric"][0]
    assert rejected["metric_name"] == REJECTED_METRIC


def test_the_lost_events_alarm_watches_every_publishing_function() -> None:
    alarm = resource("alarms.tf", "aws_cloudwatch_metric_alarm", "events_not_published")
    metric = alarm["dynamic"][0]["metric_query"]["content"][0]["metric"][0]
    assert metric["metric_name"] == EVENTS_NOT_PUBLISHED
    publishing = {name for name, function in FUNCTIONS.items() if function.needs.events}
    selector = expression(locals_of("alarms.tf")["event_functions"])
    assert 'contains(function.required_variables, "EVENT_BUS_NAME")' in selector
    required = {
        name
        for name, function in FUNCTIONS.items()
        if "EVENT_BUS_NAME" in function.required_variables
    }
    assert required == publishing


def test_every_function_gets_the_stacks_metrics_namespace() -> None:
    assert all("METRICS_NAMESPACE" in f.optional_variables for f in FUNCTIONS.values())
    source = locals_of("locals.tf")["optional_environment"]["METRICS_NAMESPACE"]
    assert expression(source) == "local.metrics_namespace"
    default = expression(locals_of("alarms.tf")["metrics_namespace"])
    assert f'"{DEFAULT_METRICS_NAMESPACE}/${{var.name_prefix}}"' in default


def test_the_dashboard_shows_the_codes_own_metrics() -> None:
    assert resource("dashboard.tf", "aws_cloudwatch_dashboard", "this")["dashboard_body"]
    text = _text("dashboard.tf")
    assert f'"{REJECTED_METRIC}"' in text
    assert f'"{EVENTS_NOT_PUBLISHED}"' in text


def test_the_copies_failed_alarm_watches_the_functions_that_roll_copies_back() -> None:
    # roll_back publishes DocumentCopyFailed, which the CountingEventBus counts by its name:
    # the transfer worker when its retries run out, reconcile for dead-lettered or stalled
    # copies.
    from kumocms.events import DocumentCopyFailed

    alarm = resource("alarms.tf", "aws_cloudwatch_metric_alarm", "copies_failed")
    metric = alarm["dynamic"][0]["metric_query"]["content"][0]["metric"][0]
    assert metric["metric_name"] == DocumentCopyFailed.__name__
    functions = expression(locals_of("alarms.tf")["copy_rollback_functions"])
    assert functions == 'toset(["reconcile", "transfer"])'
    assert {"reconcile", "transfer"} <= set(FUNCTIONS)
