"""§10 end to end: `kumocms serve --index-field …` as a subprocess, driven over HTTP."""

from __future__ import annotations

import base64
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import SERVE, call_json, serve_process

pytestmark = pytest.mark.slow
KEY = "search-serve-admin-key-000000"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve_process(
        *("--admin-key", KEY),
        *("--index-field", "team:string", "--index-field", "year:number"),
        *("--index-field", "due:date", "--index-field", "draft:boolean"),
    )


def _call(url: str, method: str, path: str, body: object = None) -> tuple[int, Any]:
    return call_json(url, KEY, method, path, body)


def _find(url: str, **query: str) -> list[str]:
    found: list[str] = []
    cursor: str | None = None
    while True:
        params = {**query, "limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page = _call(url, "GET", "/documents?" + urllib.parse.urlencode(params))
        assert status == 200, page
        found += [item["document_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _upload(url: str, metadata: dict[str, object]) -> str:
    body = {"file_name": "a.txt", "content": base64.b64encode(b"hi").decode(), "metadata": metadata}
    status, document = _call(url, "POST", "/documents", body)
    assert status == 201, document
    return str(document["document_id"])


def test_filters_over_http_on_the_local_stack(url: str) -> None:
    a = _upload(url, {"team": "docs", "year": 2021, "due": "2026-03-01T10:00:00+02:00"})
    b = _upload(url, {"team": "docs", "year": -0.5, "draft": True})
    c = _upload(url, {"team": "ops", "year": 2021.0})

    assert _find(url, **{"meta.team": "docs"}) == [b, a]
    assert _find(url, **{"meta.year": "2021"}) == [c, a]
    assert _find(url, **{"meta.year.min": "-1"}) == [b, c, a]
    assert _find(url, **{"meta.due.max": "2026-03-01T08:00:00Z"}) == [a]
    assert _find(url, **{"meta.draft": "true"}) == [b]
    status, patched = _call(url, "PATCH", f"/documents/{a}", {"team": "ops"})
    assert status == 200, patched
    assert _find(url, **{"meta.team": "docs"}) == [b]
    assert _find(url, **{"meta.team": "ops"}) == [c, a]


def test_bad_filters_and_writes_are_problems(url: str) -> None:
    status, problem = _call(url, "GET", "/documents?meta.colour=red")
    assert (status, problem["code"]) == (400, "field_not_indexed")
    assert problem["indexed_fields"] == {
        "draft": "boolean",
        "due": "date",
        "team": "string",
        "year": "number",
    }
    status, problem = _call(url, "GET", "/documents?meta.year=ten")
    assert (status, problem["code"], problem["field"]) == (400, "validation_failed", "meta.year")
    status, problem = _call(url, "GET", "/documents?limit=1&limit=2")
    assert (status, problem["field"]) == (400, "limit")
    body = {"file_name": "a.txt", "content": "aGk=", "metadata": {"year": "2021"}}
    status, problem = _call(url, "POST", "/documents", body)
    assert (status, problem["field"]) == (400, "metadata.year")
    status, document = _call(url, "GET", "/docs")
    names = {p["name"] for p in document["paths"]["/documents"]["get"]["parameters"]}
    assert {"meta.year.min", "meta.year.max", "meta.team", "meta.draft"} <= names


def test_a_bad_index_field_fails_at_start_in_one_line() -> None:
    result = subprocess.run(
        [*SERVE, "--index-field", "Team:string"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "'Team'" in result.stderr
    assert "Traceback" not in result.stderr
