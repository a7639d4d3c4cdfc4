"""Infrastructure drift: the written-out function policies are permissions.json, and least
privilege holds where a tool can see it (no `*` action anywhere, no `*` resource but X-Ray's)."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from tests.infra.module_files import MODULE, ROOT, parsed, permissions_file

SCRIPT = ROOT / "scripts" / "render_function_policies.py"
STAR_RESOURCE_EXCEPTIONS = {"XRayTracing"}
"""Statements that may name every resource: X-Ray's telemetry actions have no resource level."""


def _renderer() -> Any:
    spec = importlib.util.spec_from_file_location("render_function_policies", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _documents(name: str) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    for block in parsed(name).get("data", []):
        documents.update(block.get("aws_iam_policy_document", {}))
    return documents


def _function_documents() -> dict[str, Any]:
    return {
        label: body
        for label, body in _documents("function_policies.tf").items()
        if label.startswith("function_")
    }


def test_function_policies_tf_is_rendered_from_permissions_json() -> None:
    text = (MODULE / "function_policies.tf").read_text(encoding="utf-8")
    assert text == _renderer().render(permissions_file()), (
        f"regenerate it: python {SCRIPT.relative_to(ROOT)}"
    )


def test_every_function_has_a_written_out_document_without_dynamic_blocks() -> None:
    documents = _function_documents()
    assert set(documents) == {f"function_{name}" for name in permissions_file()["functions"]}
    for label, body in documents.items():
        assert "dynamic" not in body, label
        assert "for_each" not in body, label
    merged = _documents("iam.tf")["function"]
    assert "dynamic" not in merged
    assert "statement" not in merged
    assert "local.function_policy_documents[each.key].json" in str(
        merged["source_policy_documents"]
    )


def test_no_function_role_grants_every_action_or_every_resource() -> None:
    documents = {**_function_documents(), **_documents("iam.tf")}
    documents.pop("lambda_assume")
    checked = 0
    for label, body in documents.items():
        for statement in body.get("statement", []):
            assert all("*" not in action for action in statement["actions"]), (label, statement)
            if statement["sid"] not in STAR_RESOURCE_EXCEPTIONS:
                assert "*" not in statement["resources"], (label, statement)
            checked += 1
    assert checked > len(permissions_file()["functions"])
    for statements in permissions_file()["functions"].values():
        for statement in statements:
            assert "*" not in statement["resources"], statement


def test_shared_statements_grant_what_permissions_json_lists() -> None:
    common = permissions_file()["every_function"]
    iam = _documents("iam.tf")
    (xray,) = iam["xray_tracing"]["statement"]
    (kms,) = iam["kms_key"]["statement"]
    assert xray["actions"] == common["xray_tracing"]
    assert kms["actions"] == common["kms_key"]
    for body in _function_documents().values():
        (logs,) = [s for s in body["statement"] if s["sid"] == "OwnLogGroup"]
        assert logs["actions"] == common["logs"]
