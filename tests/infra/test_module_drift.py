"""Infrastructure drift: the Terraform module against the code — routes, functions, variables,
tables and gateway errors (ARCHITECTURE.md §6).

How environment variables are checked: python-hcl2 reads which resource attribute feeds each
variable (`local.required_environment`) and that every function's environment is built from
routes.json; `terraform test` (nox -s terraform) then evaluates the real per-function map with a
mocked provider. The parse alone cannot evaluate `for` expressions and the plan alone cannot be
read from pytest without Terraform, so each side checks what it can see.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from adapters.dynamodb import (
    TTL_ATTRIBUTE,
    documents_table_spec,
    history_table_spec,
    users_table_spec,
)
from entrypoints.http.openapi import openapi_document
from entrypoints.http.problems import BEARER_CHALLENGE, TITLES, problem_document
from entrypoints.http.routes import BINARY_MEDIA_TYPES, ROUTES
from entrypoints.local.gateway import Gateway
from entrypoints.manifest import FUNCTIONS, routes_json
from entrypoints.settings import VARIABLES
from kumocms.keys import NONCURRENT, REVISION_TAG
from kumocms.settings import Settings
from tests.infra.module_files import (
    ROUTES_JSON,
    expression,
    locals_of,
    parsed,
    permissions_file,
    resource,
    routes_file,
)

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
REGENERATE = "regenerate it: .venv/bin/python -m entrypoints.manifest > " + str(
    ROUTES_JSON.relative_to(ROUTES_JSON.parents[3])
)

# ---- routes ---------------------------------------------------------------------------------


def test_routes_json_is_generated_from_the_manifest() -> None:
    assert ROUTES_JSON.read_text(encoding="utf-8") == routes_json(), REGENERATE


def test_terraform_routes_equal_the_openapi_document_and_the_local_front() -> None:
    terraform = {(route["method"], route["path"]) for route in routes_file()["routes"]}
    openapi = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    local_front = {(route.method, route.path) for route in ROUTES}
    assert terraform == openapi, sorted(terraform ^ openapi)
    assert terraform == local_front, sorted(terraform ^ local_front)


def test_binary_media_types_come_from_the_route_table() -> None:
    assert (
        routes_file()["binary_media_types"] == list(BINARY_MEDIA_TYPES) == ["multipart/form-data"]
    )
    api = resource("api_gateway.tf", "aws_api_gateway_rest_api", "this")
    assert expression(api["binary_media_types"]) == "local.manifest.binary_media_types"


def test_only_health_and_docs_are_public() -> None:
    public = {(r["method"], r["path"]) for r in routes_file()["routes"] if not r["authorized"]}
    assert public == {("GET", "/healthcheck"), ("GET", "/docs")}


def test_path_parameters_are_the_ones_the_api_gateway_resources_expect() -> None:
    names = {name for r in routes_file()["routes"] for name in re.findall(r"{(\w+)}", r["path"])}
    assert names == {"id", "revision"}
    depth = max(len(r["path"].strip("/").split("/")) for r in routes_file()["routes"])
    assert resource("api_gateway.tf", "aws_api_gateway_resource", f"level{depth}")


def test_every_route_is_served_by_an_http_function() -> None:
    functions = {f["name"]: f for f in routes_file()["functions"]}
    for route in routes_file()["routes"]:
        assert functions[route["function"]]["trigger"] == "http", route


# ---- functions ------------------------------------------------------------------------------


@pytest.mark.parametrize("function", routes_file()["functions"], ids=lambda f: f["name"])
def test_handler_string_resolves_to_a_callable(function: dict[str, Any]) -> None:
    module_name, _, attribute = function["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute, None)
    assert callable(handler), function["handler"]


def test_lambda_functions_are_built_from_routes_json() -> None:
    function = resource("lambda.tf", "aws_lambda_function", "this")
    assert expression(function["for_each"]) == "local.functions"
    assert expression(function["handler"]) == "each.value.handler"
    environment = function["environment"][0]["variables"]
    assert expression(environment) == "local.function_environment[each.key]"
    terraform_locals = locals_of("locals.tf")
    assert 'file("${path.module}/routes.json")' in expression(terraform_locals["manifest"])
    assert "function.required_variables" in terraform_locals["function_environment"]
    assert "function.optional_variables" in terraform_locals["function_environment"]


EXPECTED_SOURCES = {
    "S3_BUCKET": "aws_s3_bucket.documents.id",
    "DOCUMENTS_TABLE": "aws_dynamodb_table.documents.name",
    "USERS_TABLE": "aws_dynamodb_table.users.name",
    "HISTORY_TABLE": "aws_dynamodb_table.history.name",
    "EVENT_BUS_NAME": "aws_cloudwatch_event_bus.domain.name",
    "INGEST_QUEUE_URL": "aws_sqs_queue.ingest.url",
    "INGEST_DLQ_URL": "aws_sqs_queue.ingest_dlq.url",
    "PARKING_QUEUE_URL": "aws_sqs_queue.parking.url",
    "TRANSFER_QUEUE_URL": "aws_sqs_queue.transfer.url",
    "TRANSFER_DLQ_URL": "aws_sqs_queue.transfer_dlq.url",
}
"""Which resource attribute each required variable must come from."""


def test_every_required_variable_has_its_resource_as_source() -> None:
    sources = {
        name: expression(value)
        for name, value in locals_of("locals.tf")["required_environment"].items()
    }
    required = {name for f in FUNCTIONS.values() for name in f.required_variables}
    missing = required - set(sources)
    assert not missing, f"lambda environments cannot set {sorted(missing)}"
    assert set(VARIABLES.values()) <= set(EXPECTED_SOURCES)
    for name in required:
        assert sources[name] == EXPECTED_SOURCES[name], name


def test_optional_variables_are_ones_the_code_reads() -> None:
    offered = set(locals_of("locals.tf")["optional_environment"])
    read = {name for f in FUNCTIONS.values() for name in f.optional_variables}
    assert offered <= read, f"the module sets variables no function reads: {offered - read}"
    # Every optional variable of a function that the module can fill is filled for it; the
    # rest keep their defaults in code.
    unset = read - offered
    assert unset == set(), f"the module offers no value for {sorted(unset)}"


# ---- tables ---------------------------------------------------------------------------------


def _terraform_table(label: str) -> dict[str, Any]:
    table = resource("dynamodb.tf", "aws_dynamodb_table", label)
    key_schema = [{"AttributeName": table["hash_key"], "KeyType": "HASH"}]
    if "range_key" in table:
        key_schema.append({"AttributeName": table["range_key"], "KeyType": "RANGE"})
    return {
        "BillingMode": table["billing_mode"],
        "KeySchema": key_schema,
        "AttributeDefinitions": sorted(
            ({"AttributeName": a["name"], "AttributeType": a["type"]} for a in table["attribute"]),
            key=lambda a: a["AttributeName"],
        ),
        "GlobalSecondaryIndexes": sorted(
            (
                {
                    "IndexName": index["name"],
                    "KeySchema": [
                        {"AttributeName": index["hash_key"], "KeyType": "HASH"},
                        {"AttributeName": index["range_key"], "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": index["projection_type"]},
                }
                for index in table.get("global_secondary_index", [])
            ),
            key=lambda index: index["IndexName"],
        ),
    }


def _code_table(spec: Any) -> dict[str, Any]:
    return {
        "BillingMode": spec["BillingMode"],
        "KeySchema": spec["KeySchema"],
        "AttributeDefinitions": sorted(
            spec["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        ),
        "GlobalSecondaryIndexes": sorted(
            spec.get("GlobalSecondaryIndexes", []), key=lambda index: index["IndexName"]
        ),
    }


@pytest.mark.parametrize(
    ("label", "spec"),
    [
        ("documents", documents_table_spec),
        ("users", users_table_spec),
        ("history", history_table_spec),
    ],
)
def test_tables_match_the_adapters_table_specs(label: str, spec: Any) -> None:
    assert _terraform_table(label) == _code_table(spec("name"))


def test_the_trash_and_prune_indexes_are_in_the_module() -> None:
    # Named, so that a spec losing them fails here and not only as an equal pair of omissions.
    indexes = {
        index["IndexName"]: index
        for index in _terraform_table("documents")["GlobalSecondaryIndexes"]
    }
    assert indexes["by_trash"]["Projection"] == {"ProjectionType": "ALL"}
    assert indexes["by_prune"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


@pytest.mark.parametrize("label", ["documents", "history"])
def test_tables_expire_items_by_the_adapters_ttl_attribute(label: str) -> None:
    table = resource("dynamodb.tf", "aws_dynamodb_table", label)
    assert table["ttl"] == [{"attribute_name": TTL_ATTRIBUTE, "enabled": True}]


@pytest.mark.parametrize("label", ["documents", "users", "history"])
def test_every_table_is_protected_like_the_others(label: str) -> None:
    table = resource("dynamodb.tf", "aws_dynamodb_table", label)
    assert table["point_in_time_recovery"] == [{"enabled": True}]
    assert table["server_side_encryption"] == [
        {"enabled": True, "kms_key_arn": "${var.kms_key_arn}"}
    ]
    assert expression(table["deletion_protection_enabled"]) == "var.deletion_protection"
    assert table["name"] == f"${{var.name_prefix}}-{label}"


def test_permissions_can_name_the_history_table_and_the_new_indexes() -> None:
    resources = {
        name: expression(value) for name, value in locals_of("locals.tf")["iam_resources"].items()
    }
    assert resources["history_table"] == "aws_dynamodb_table.history.arn"
    for index in ("by_trash", "by_prune"):
        assert resources[f"documents_table/index/{index}"] == (
            f"${{aws_dynamodb_table.documents.arn}}/index/{index}"
        )


# ---- the bucket's Object Lock (§11) ---------------------------------------------------------


def test_new_buckets_get_object_lock_and_existing_ones_are_never_replaced() -> None:
    # object_lock_enabled forces a new bucket when it changes; a deployment whose bucket was
    # created before §11 holds false in its state. terraform test (retention.tftest.hcl) plans
    # over such a state; this checks the two lines that make it pass, readable without Terraform.
    bucket = resource("s3.tf", "aws_s3_bucket", "documents")
    assert bucket["object_lock_enabled"] is True
    lifecycle = bucket["lifecycle"][0]
    assert "object_lock_enabled" in [expression(name) for name in lifecycle["ignore_changes"]]
    lock = resource("s3.tf", "aws_s3_bucket_object_lock_configuration", "documents")
    assert expression(lock["bucket"]) == "aws_s3_bucket.documents.id"
    assert lock["object_lock_enabled"] == "Enabled"
    assert "rule" not in lock, "no default retention: it forces Content-MD5 on presigned PUTs"
    assert [expression(name) for name in lock["depends_on"]] == [
        "aws_s3_bucket_versioning.documents"
    ]


# ---- §11 retention and cadence variables ----------------------------------------------------


def _variable(name: str) -> dict[str, Any]:
    for block in parsed("variables.tf").get("variable", []):
        if name in block:
            body: dict[str, Any] = block[name]
            return body
    raise KeyError(name)


RETENTION = {
    # environment variable: (Terraform variable, the code's default in the variable's unit)
    "TRASH_DAYS": ("trash_days", Settings().trash_retention.days),
    "MAX_REVISIONS": ("max_revisions", Settings().max_revisions),
    "REVISION_DAYS": ("revision_days", Settings().revision_retention.days),
    "HISTORY_RETENTION_DAYS": ("history_retention_days", Settings().history_retention.days),
}


@pytest.mark.parametrize("variable", sorted(RETENTION))
def test_retention_variables_default_to_the_codes_defaults(variable: str) -> None:
    name, default = RETENTION[variable]
    assert _variable(name)["default"] == default
    source = locals_of("locals.tf")["optional_environment"][variable]
    assert expression(source) == f"tostring(var.{name})"
    assert all(variable in f.optional_variables for f in FUNCTIONS.values())


def test_reconcile_every_becomes_the_reconcile_schedule() -> None:
    assert _variable("reconcile_every")["default"] is None
    schedule = resource("lambda.tf", "aws_cloudwatch_event_rule", "schedule")
    assert "local.reconcile_schedule" in str(schedule["for_each"])
    rule = expression(locals_of("locals.tf")["reconcile_schedule"])
    assert '"minute"' in rule, "rate(1 minute) is singular"
    assert '"minutes"' in rule


# ---- gateway errors -------------------------------------------------------------------------


def _gateway_responses() -> dict[str, dict[str, Any]]:
    responses = locals_of("api_gateway.tf")["gateway_responses"]
    assert isinstance(responses, dict)
    return responses


def _terraform_problem(response_type: str) -> dict[str, Any]:
    """The body Terraform renders (`jsonencode({type, title, status, detail, code})`)."""
    entry = _gateway_responses()[response_type]
    return {
        "type": f"urn:kumocms:problem:{entry['code']}",
        "title": entry["title"],
        "status": entry["status"],
        "detail": entry["detail"],
        "code": entry["code"],
    }


def test_gateway_response_template_renders_the_problem_fields() -> None:
    template = resource("api_gateway.tf", "aws_api_gateway_gateway_response", "problem")
    rendered = template["response_templates"]
    for field in ("type", "title", "status", "detail", "code"):
        assert f"{field} = " in rendered or f"{field}=" in rendered.replace(" ", ""), field
    assert "urn:kumocms:problem:${each.value.code}" in rendered


@pytest.mark.parametrize("response_type", sorted(_gateway_responses()))
def test_gateway_errors_are_the_functions_problem_documents(response_type: str) -> None:
    entry = _gateway_responses()[response_type]
    assert entry["title"] == TITLES[entry["status"]]
    expected = problem_document(entry["status"], entry["code"], entry["detail"])
    assert _terraform_problem(response_type) == expected


def test_required_gateway_responses_exist() -> None:
    statuses = {name: entry["status"] for name, entry in _gateway_responses().items()}
    assert (
        statuses
        | {
            "UNAUTHORIZED": 401,
            "ACCESS_DENIED": 403,
            "MISSING_AUTHENTICATION_TOKEN": 404,
            "REQUEST_TOO_LARGE": 413,
            "THROTTLED": 429,
            "AUTHORIZER_FAILURE": 503,
            "DEFAULT_4XX": 400,
            "DEFAULT_5XX": 500,
        }
        == statuses
    )


def _unauthorized(_event: Any, _context: Any) -> Any:
    raise Exception("Unauthorized")


def _broken(_event: Any, _context: Any) -> Any:
    raise RuntimeError("the users table is unreachable")


def _deny_everything(_event: Any, _context: Any) -> Any:
    return {"principalId": "u", "policyDocument": {"Statement": []}, "context": {}}


@pytest.mark.parametrize(
    ("response_type", "authorizer", "method", "path", "headers", "body"),
    [
        ("UNAUTHORIZED", _unauthorized, "GET", "/me", [("Authorization", "Bearer x")], b""),
        ("UNAUTHORIZED", _unauthorized, "GET", "/me", [], b""),
        ("ACCESS_DENIED", _deny_everything, "GET", "/users", [("Authorization", "Bearer x")], b""),
        ("MISSING_AUTHENTICATION_TOKEN", _unauthorized, "GET", "/nowhere", [], b""),
        ("AUTHORIZER_FAILURE", _broken, "GET", "/me", [("Authorization", "Bearer x")], b""),
        ("REQUEST_TOO_LARGE", _unauthorized, "POST", "/documents", [], b"x" * 10_000_001),
    ],
)
def test_local_front_answers_gateway_errors_like_terraform(
    response_type: str,
    authorizer: Any,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    gateway = Gateway({}, authorizer, region="eu-west-1", cache_ttl_seconds=0)
    reply = gateway.handle(method, path, headers=headers, body=body)
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert json.loads(reply.body) == _terraform_problem(response_type)
    assert reply.status == _gateway_responses()[response_type]["status"]
    if reply.status == 401:
        assert reply.headers["WWW-Authenticate"] == BEARER_CHALLENGE
    else:
        assert "WWW-Authenticate" not in reply.headers


def test_every_401_gateway_response_challenges_like_the_handlers() -> None:
    # python-hcl2 keeps HCL's escapes in string literals.
    challenge = locals_of("api_gateway.tf")["bearer_challenge"].replace('\\"', '"')
    assert challenge == BEARER_CHALLENGE
    template = resource("api_gateway.tf", "aws_api_gateway_gateway_response", "problem")
    parameters = str(template["response_parameters"])
    assert "each.value.status == 401" in parameters
    assert "gatewayresponse.header.WWW-Authenticate" in parameters
    assert "'${local.bearer_challenge}'" in parameters
    assert [name for name, entry in _gateway_responses().items() if entry["status"] == 401] == [
        "UNAUTHORIZED"
    ]


# ---- permissions.json -----------------------------------------------------------------------


def test_permissions_cover_exactly_the_manifest_functions() -> None:
    assert set(permissions_file()["functions"]) == set(FUNCTIONS)


def test_permissions_name_only_resources_the_module_resolves() -> None:
    known = set(locals_of("locals.tf")["iam_resources"])
    for name, statements in permissions_file()["functions"].items():
        sids = [statement["sid"] for statement in statements]
        assert len(sids) == len(set(sids)), name
        for statement in statements:
            assert statement["actions"], statement
            assert set(statement["resources"]) <= known - {"*"}, (name, statement)
            assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", a) for a in statement["actions"])


def test_the_revision_lifecycle_rule_filters_on_the_tag_the_code_sets() -> None:
    assert locals_of("s3.tf")["revision_tag"] == {"key": REVISION_TAG, "value": NONCURRENT}
    configuration = resource("s3.tf", "aws_s3_bucket_lifecycle_configuration", "documents")
    rule = configuration["dynamic"][0]["rule"]["content"][0]
    tag = rule["filter"][0]["tag"][0]
    assert expression(tag["key"]) == "local.revision_tag.key"
    assert expression(tag["value"]) == "local.revision_tag.value"
    assert _variable("noncurrent_revision_storage_class")["default"] is None
