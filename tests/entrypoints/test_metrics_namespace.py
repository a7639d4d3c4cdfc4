"""EMF metrics go to the stack's own namespace, and the authorizer counts what it rejects."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.memory import in_memory_ports
from entrypoints import observability
from entrypoints.bootstrap import Runtime, Wiring, fixed
from entrypoints.functions.authorizer import REJECTED_METRIC, make_authorizer
from entrypoints.local.gateway import LambdaContext
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import ConfigurationError, EnvSettings
from kumocms.usecases.users import bootstrap_admin


@pytest.fixture
def emitted() -> Iterator[io.StringIO]:
    """What the functions print (log lines and EMF documents), namespace restored afterwards."""
    stream = io.StringIO()
    observability.configure_logging("INFO")
    observability.redirect(stream)
    before = observability.metrics_namespace()
    try:
        yield stream
    finally:
        observability.redirect(None)
        observability.use_metrics_namespace(before)


def _emf(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if "_aws" in line]


def test_the_namespace_defaults_to_kumocms_and_is_validated() -> None:
    assert EnvSettings.from_environ({"AWS_REGION": "x"}).metrics_namespace == "KumoCMS"
    parsed = EnvSettings.from_environ({"AWS_REGION": "x", "METRICS_NAMESPACE": "KumoCMS/prod"})
    assert parsed.metrics_namespace == "KumoCMS/prod"
    for bad in ("AWS/Lambda", "no\nnewlines", "x" * 256):
        with pytest.raises(ConfigurationError, match="METRICS_NAMESPACE"):
            EnvSettings.from_environ({"AWS_REGION": "x", "METRICS_NAMESPACE": bad})


def test_the_composition_root_sends_metrics_to_the_stacks_namespace(
    emitted: io.StringIO,
) -> None:
    def factory(settings: EnvSettings, _needs: Any) -> Runtime:
        return Runtime(settings=settings, ports=in_memory_ports())

    wiring = Wiring(
        FUNCTIONS["authorizer"].needs,
        factory=factory,
        environ={
            "AWS_REGION": "eu-west-1",
            "USERS_TABLE": "u",
            "METRICS_NAMESPACE": "KumoCMS/stack-a",
        },
    )
    handler = make_authorizer(wiring.get)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler({"type": "REQUEST", "headers": {}}, LambdaContext("authorizer"))
    (document,) = _emf(emitted)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "KumoCMS/stack-a"
    assert directive["Dimensions"] == [["function"]]
    assert document["function"] == "authorizer"
    assert document[REJECTED_METRIC] == 1


def test_an_accepted_key_counts_no_rejection(emitted: io.StringIO) -> None:
    ports = in_memory_ports()
    key = "kumo_metrics-namespace-test-key-0000000"
    bootstrap_admin(ports, name="root", api_key=key)
    runtime = Runtime(settings=EnvSettings(region="eu-west-1", users_table="u"), ports=ports)
    handler = make_authorizer(fixed(runtime))
    event = {"type": "REQUEST", "methodArn": "arn:x/v1/GET/me"}
    handler({**event, "headers": {"Authorization": f"Bearer {key}"}}, LambdaContext("a"))
    assert all(REJECTED_METRIC not in document for document in _emf(emitted))
