"""Test support: the Terraform module's data files and HCL, read the way the tests need them.

python-hcl2 parses the module's `.tf` files into plain data. It keeps quotes around block labels
and string literals and leaves expressions as `${...}` text; `unquote` and `expression` undo that,
so tests can compare literal maps (the value sources of environment variables, the gateway
responses, the table definitions) with the code. Expressions are not evaluated here: `terraform
test` (nox -s terraform) evaluates them against a mocked provider.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform" / "modules" / "kumocms"
ROUTES_JSON = MODULE / "routes.json"
PERMISSIONS_JSON = MODULE / "permissions.json"


def routes_file() -> dict[str, Any]:
    """terraform/modules/kumocms/routes.json."""
    data: dict[str, Any] = json.loads(ROUTES_JSON.read_text(encoding="utf-8"))
    return data


def permissions_file() -> dict[str, Any]:
    """terraform/modules/kumocms/permissions.json."""
    data: dict[str, Any] = json.loads(PERMISSIONS_JSON.read_text(encoding="utf-8"))
    return data


def unquote(value: Any) -> Any:
    """A label or literal without the quotes python-hcl2 keeps; containers recursively."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [unquote(item) for item in value]
    if isinstance(value, dict):
        return {
            unquote(key): unquote(item)
            for key, item in value.items()
            if key not in {"__comments__", "__is_block__", "__start_line__", "__end_line__"}
        }
    return value


def expression(value: Any) -> str:
    """The text of an interpolation: `${aws_s3_bucket.documents.id}` -> the inner reference."""
    text = unquote(value)
    assert isinstance(text, str), text
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


@cache
def parsed(name: str) -> dict[str, Any]:
    """One `.tf` file of the module, parsed and unquoted."""
    with (MODULE / name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = unquote(hcl2.load(handle))
    return data


def locals_of(name: str) -> dict[str, Any]:
    """Every `locals` entry of one file, merged."""
    merged: dict[str, Any] = {}
    for block in parsed(name).get("locals", []):
        merged.update(block)
    return merged


def resource(name: str, kind: str, label: str) -> dict[str, Any]:
    """The body of `resource "<kind>" "<label>"` in one file."""
    for block in parsed(name).get("resource", []):
        if kind in block and label in block[kind]:
            body = block[kind][label]
            assert isinstance(body, dict)
            return body
    raise KeyError(f'resource "{kind}" "{label}" is not in {name}')
