"""Handlers called with API Gateway's documented event shapes, not the local gateway's."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapters.memory import in_memory_ports
from entrypoints.bootstrap import Runtime, Wiring, fixed
from entrypoints.functions.authorizer import bearer_token, make_authorizer, route_arns
from entrypoints.http.api import make_http_handler
from entrypoints.http.headers import Headers, event_headers
from entrypoints.local.gateway import LambdaContext
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import ConfigurationError, EnvSettings
from kumocms.usecases.users import bootstrap_admin
from kumocms.users import Role

KEY = "kumo_documented-shape-test-key-00000000"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/documents"


@pytest.fixture
def runtime() -> Runtime:
    ports = in_memory_ports()
    bootstrap_admin(ports, name="root", api_key=KEY)
    return Runtime(
        settings=EnvSettings(
            region="eu-west-1", bucket="b", documents_table="d", users_table="u", event_bus="e"
        ),
        ports=ports,
    )


def _context(runtime: Runtime) -> dict[str, Any]:
    user = runtime.ports.users.list(limit=1, cursor=None).items[0]
    return {
        "user_id": user.id.value,
        "name": user.name,
        "role": user.role.value,
        "principalId": user.id.value,
        "integrationLatency": 12,
    }


def proxy_event(runtime: Runtime, **overrides: Any) -> dict[str, Any]:
    """A REST API proxy event as the API Gateway documentation shows it."""
    event: dict[str, Any] = {
        "resource": "/documents",
        "path": "/documents",
        "httpMethod": "GET",
        "headers": {
            "accept": "application/json",
            "Host": "abc.execute-api.eu-west-1.amazonaws.com",
        },
        "multiValueHeaders": {
            "accept": ["application/json"],
            "Host": ["abc.execute-api.eu-west-1.amazonaws.com"],
        },
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "authorizer": _context(runtime),
            "httpMethod": "GET",
            "path": "/prod/documents",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "resourcePath": "/documents",
            "stage": "prod",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": None,
        "isBase64Encoded": False,
    }
    event.update(overrides)
    return event


def test_null_body_and_parameters(runtime: Runtime) -> None:
    handler = make_http_handler("documents_read", fixed(runtime))
    result = handler(proxy_event(runtime), LambdaContext("documents_read"))
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"items": [], "next_cursor": None}
    assert result["isBase64Encoded"] is False


def test_multi_value_query_and_headers(runtime: Runtime) -> None:
    handler = make_http_handler("documents_read", fixed(runtime))
    event = proxy_event(
        runtime,
        headers=None,
        multiValueHeaders={"Origin": ["x"]},
        queryStringParameters={"limit": "5"},
        multiValueQueryStringParameters={"limit": ["5"]},
    )
    assert handler(event, LambdaContext("r"))["statusCode"] == 200


def test_a_repeated_or_unknown_query_parameter_is_refused(runtime: Runtime) -> None:
    # Which of two values would count is a guess, and an ignored filter answers wrongly.
    handler = make_http_handler("documents_read", fixed(runtime))
    repeated = proxy_event(
        runtime,
        queryStringParameters={"limit": "5"},
        multiValueQueryStringParameters={"limit": ["500", "5"]},
    )
    unknown = proxy_event(
        runtime,
        queryStringParameters={"stat": "active"},
        multiValueQueryStringParameters={"stat": ["active"]},
    )
    for event, field in ((repeated, "limit"), (unknown, "stat")):
        result = handler(event, LambdaContext("r"))
        assert result["statusCode"] == 400
        problem = json.loads(result["body"])
        assert (problem["code"], problem["field"]) == ("validation_failed", field)


def test_base64_json_body_and_stage_prefixed_location(runtime: Runtime) -> None:
    handler = make_http_handler("documents_write", fixed(runtime))
    body = json.dumps({"file_name": "a.txt", "content": base64.b64encode(b"hi").decode()})
    event = proxy_event(
        runtime,
        httpMethod="POST",
        isBase64Encoded=True,
        body=base64.b64encode(body.encode()).decode(),
        headers={"Content-Type": "application/json"},
        multiValueHeaders=None,
    )
    result = handler(event, LambdaContext("w"))
    assert result["statusCode"] == 201, result["body"]
    doc_id = json.loads(result["body"])["document_id"]
    assert result["headers"]["Location"] == f"/prod/documents/{doc_id}"


def test_invalid_base64_body_is_a_400(runtime: Runtime) -> None:
    handler = make_http_handler("documents_write", fixed(runtime))
    event = proxy_event(runtime, httpMethod="POST", isBase64Encoded=True, body="%%%")
    result = handler(event, LambdaContext("w"))
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["code"] == "validation_failed"


def test_path_parameters_come_from_the_event(runtime: Runtime) -> None:
    handler = make_http_handler("documents_read", fixed(runtime))
    event = proxy_event(
        runtime, resource="/documents/{id}", path="/documents/nope", pathParameters={"id": "nope"}
    )
    assert handler(event, LambdaContext("r"))["statusCode"] == 400


def test_handlers_recheck_the_role_from_the_authorizer_context(runtime: Runtime) -> None:
    handler = make_http_handler("documents_write", fixed(runtime))
    reader = {**_context(runtime), "role": "reader"}
    event = proxy_event(
        runtime,
        httpMethod="DELETE",
        resource="/documents/{id}",
        path="/documents/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        pathParameters={"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
    )
    event["requestContext"]["authorizer"] = reader
    forbidden = handler(event, LambdaContext("w"))
    assert forbidden["statusCode"] == 403
    assert "WWW-Authenticate" not in forbidden["headers"]
    event["requestContext"].pop("authorizer")
    unauthorized = handler(event, LambdaContext("w"))
    assert unauthorized["statusCode"] == 401
    assert unauthorized["headers"]["WWW-Authenticate"] == 'Bearer realm="kumocms"'
    event["requestContext"]["authorizer"] = {**_context(runtime), "user_id": "not-an-id"}
    malformed = handler(event, LambdaContext("w"))
    assert malformed["statusCode"] == 401  # a context the authorizer did not write: no caller


def test_a_function_serves_only_its_own_routes(runtime: Runtime) -> None:
    handler = make_http_handler("users", fixed(runtime))
    assert handler(proxy_event(runtime), LambdaContext("u"))["statusCode"] == 404


def authorizer_event(authorization: str | None, **headers: str) -> dict[str, Any]:
    """A REQUEST authorizer event as documented."""
    all_headers = dict(headers)
    if authorization is not None:
        all_headers["Authorization"] = authorization
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/documents",
        "path": "/documents",
        "httpMethod": "GET",
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {"stage": "prod", "requestId": "x", "identity": {"sourceIp": "1.2.3.4"}},
    }


def test_authorizer_allows_the_roles_routes_with_context(runtime: Runtime) -> None:
    handler = make_authorizer(fixed(runtime))
    result = handler(authorizer_event(f"Bearer {KEY}"), LambdaContext("authorizer"))
    statement = result["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert (
        "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/DELETE/users/*"
        in (statement["Resource"])
    )
    assert result["context"]["role"] == "admin"
    assert set(result["context"]) == {"user_id", "name", "role"}


def test_authorizer_header_casing_and_failures(runtime: Runtime) -> None:
    handler = make_authorizer(fixed(runtime))
    event = authorizer_event(None, AUTHORIZATION=f"bearer {KEY}")
    assert handler(event, LambdaContext("a"))["principalId"]
    for bad in (None, "", "Bearer", f"Basic {KEY}", "Bearer kumo_unknown-00000000000000000000"):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            handler(authorizer_event(bad), LambdaContext("a"))


def test_reader_policy_excludes_writes_and_users() -> None:
    arns = route_arns(METHOD_ARN, Role.READER)
    assert any(a.endswith("/GET/documents/*") for a in arns)
    assert not any("/POST/" in a or "/users" in a for a in arns)


def test_bearer_token_parsing() -> None:
    assert bearer_token(Headers({"AUTHORIZATION": "Bearer abc"})) == "abc"
    assert bearer_token(Headers({"authorization": "  bearer   abc  "})) == "abc"
    assert bearer_token(Headers({"authorization": "Bearer a b"})) is None
    assert bearer_token(Headers({})) is None


def test_every_function_reads_headers_the_same_way() -> None:
    # A repeated header: `headers` has the last value, `multiValueHeaders` all of them.
    event = {
        "headers": {"Authorization": "Bearer second", "Origin": "https://b.example"},
        "multiValueHeaders": {
            "authorization": ["Bearer first", "Bearer second"],
            "Origin": ["https://b.example"],
        },
    }
    headers = event_headers(event)
    assert headers["origin"] == "https://b.example"
    assert headers["Authorization"] == "Bearer first, Bearer second"
    assert bearer_token(headers) is None  # two credentials are no credential
    assert event_headers({"headers": {"X-A": "1"}, "multiValueHeaders": None}) == {"x-a": "1"}
    assert event_headers({"headers": None, "multiValueHeaders": {"X-A": []}}) == {}


def test_settings_fail_fast_naming_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"DOCUMENTS_TABLE, S3_BUCKET"):
        EnvSettings.from_environ(
            {"AWS_REGION": "eu-west-1"}, required=("documents_table", "bucket")
        )
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        EnvSettings.from_environ({})
    with pytest.raises(ConfigurationError, match="LIST_SHARDS"):
        EnvSettings.from_environ({"AWS_REGION": "x", "LIST_SHARDS": "many"})
    wiring = Wiring(FUNCTIONS["documents_read"].needs, environ={"AWS_REGION": "eu-west-1"})
    with pytest.raises(ConfigurationError, match="S3_BUCKET"):
        wiring.get()


def test_settings_are_parsed_once_and_nothing_is_built_at_import() -> None:
    calls = []

    def factory(settings: EnvSettings, needs: Any) -> Runtime:
        calls.append(settings)
        return Runtime(settings=settings, ports=in_memory_ports())

    wiring = Wiring(
        FUNCTIONS["meta"].needs,
        factory=factory,
        environ={
            "AWS_REGION": "eu-west-1",
            "S3_BUCKET": "b",
            "DOCUMENTS_TABLE": "d",
            "HISTORY_TABLE": "h",
            "DIRECT_UPLOAD_LIMIT": "1024",
        },
    )
    assert calls == []
    first = wiring.get()
    assert wiring.get() is first
    assert len(calls) == 1
    assert first.settings.domain.direct_upload_limit == 1024


def test_every_function_module_exposes_its_handler() -> None:
    import importlib

    for function in FUNCTIONS.values():
        module_name, attribute = function.handler.rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute))
        assert module.wiring._runtime is None  # nothing built at import


def test_snapstart_hooks_build_before_the_snapshot_and_rebuild_after_restore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import types

    hooks: dict[str, list[Any]] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = hooks["before"].append  # type: ignore[attr-defined]
    module.register_after_restore = hooks["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    built: list[Runtime] = []

    def factory(settings: EnvSettings, needs: Any) -> Runtime:
        built.append(Runtime(settings=settings, ports=in_memory_ports()))
        return built[-1]

    wiring = Wiring(
        FUNCTIONS["meta"].needs,
        factory=factory,
        environ={
            "AWS_REGION": "eu-west-1",
            "S3_BUCKET": "b",
            "DOCUMENTS_TABLE": "d",
            "HISTORY_TABLE": "h",
        },
    )
    assert built == []
    hooks["before"][0]()
    assert len(built) == 1
    hooks["after"][0]()
    assert len(built) == 2
    assert wiring.get() is built[1]
