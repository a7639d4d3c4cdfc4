"""§10 over HTTP on the in-memory ports: filters, their order, cursors and their errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from kumocms.search import IndexedFields
from kumocms.settings import Settings
from tests.entrypoints.conftest import Api, build_api, scan_for_leaks

FIELDS = {"team": "string", "year": "number", "due": "date", "draft": "boolean"}


@pytest.fixture
def api() -> Iterator[Api]:
    client = build_api(Settings(indexed_fields=IndexedFields(FIELDS)))
    yield client
    scan_for_leaks(client)


def _ids(reply: Any) -> list[str]:
    assert reply.status == 200, reply.body
    return [item["document_id"] for item in reply.json["items"]]


def _all(api: Api, query: dict[str, str], *, limit: int = 2) -> list[str]:
    found: list[str] = []
    cursor = None
    while True:
        page = api(
            "GET",
            "/documents",
            key="reader",
            query={**query, "limit": str(limit), **({"cursor": cursor} if cursor else {})},
        )
        found += _ids(page)
        cursor = page.json["next_cursor"]
        if cursor is None:
            return found


def test_equality_range_and_plain_filters_answer_in_order(api: Api) -> None:
    a = api.upload(metadata={"team": "docs", "year": 2021, "draft": False})["document_id"]
    b = api.upload(metadata={"team": "docs", "year": -3.5})["document_id"]
    c = api.upload(metadata={"team": "ops", "year": 2021.0, "due": "2026-01-01T01:00:00+01:00"})[
        "document_id"
    ]
    d = api.upload(metadata={"team": "docs", "year": 1e3}, content_type="application/pdf")[
        "document_id"
    ]

    assert _all(api, {"meta.team": "docs"}) == [d, b, a]  # newest first
    assert _all(api, {"meta.year": "2021"}) == [c, a]  # 2021 = 2021.0
    # A range orders by the field ascending, then newest first.
    assert _all(api, {"meta.year.min": "-4"}) == [b, d, c, a]
    assert _all(api, {"meta.year.min": "1000", "meta.year.max": "2021"}) == [d, c, a]
    assert _all(api, {"meta.year.max": "1000", "meta.team": "docs"}) == [b, d]
    assert _all(api, {"meta.due": "2026-01-01T00:00:00Z"}) == [c]  # the same instant
    assert _all(api, {"meta.draft": "false"}) == [a]
    assert _all(api, {"content_type": "application/pdf"}) == [d]
    assert _all(api, {"meta.team": "docs", "state": "active"}) == [d, b, a]


def test_patches_and_replaces_keep_the_filters_true(api: Api) -> None:
    doc = api.upload(metadata={"team": "docs"})["document_id"]
    assert api("PATCH", f"/documents/{doc}", json_body={"team": "ops"}).status == 200
    assert _all(api, {"meta.team": "docs"}) == []
    assert _all(api, {"meta.team": "ops"}) == [doc]
    assert api("PATCH", f"/documents/{doc}", json_body={"team": None}).status == 200
    assert _all(api, {"meta.team": "ops"}) == []


def test_created_filters_and_created_by(api: Api) -> None:
    first = api.upload()
    api.clock.advance(timedelta(seconds=10))
    second = api.upload()
    boundary = second["created_at"]
    assert _all(api, {"created_after": boundary}) == [second["document_id"]]  # inclusive
    assert _all(api, {"created_before": boundary}) == [first["document_id"]]  # exclusive
    users = {u["name"]: u["user_id"] for u in api("GET", "/users", key="admin").json["items"]}
    both = [second["document_id"], first["document_id"]]
    assert _all(api, {"created_by": users["editor"]}) == both
    assert _all(api, {"created_by": users["reader"]}) == []


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"meta.colour": "red"}, "field_not_indexed", "meta.colour"),
        ({"meta.colour.min": "1"}, "field_not_indexed", "meta.colour.min"),
        ({"meta.year": "ten"}, "validation_failed", "meta.year"),
        ({"meta.draft": "yes"}, "validation_failed", "meta.draft"),
        ({"meta.due": "2026-01-01"}, "validation_failed", "meta.due"),
        ({"meta.team.min": "a"}, "validation_failed", "meta.team.min"),
        ({"meta.draft.max": "true"}, "validation_failed", "meta.draft.max"),
        ({"meta.year.min": "1", "meta.due.max": "2026-01-01T00:00:00Z"}, "validation_failed", None),
        ({"meta.year.avg": "1"}, "validation_failed", "meta.year.avg"),
        ({"created_after": "yesterday"}, "validation_failed", "created_after"),
        ({"created_by": "me"}, "validation_failed", "created_by"),
        ({"sort": "name"}, "validation_failed", "sort"),
    ],
)
def test_bad_filters_are_400_problems(
    api: Api, query: dict[str, str], code: str, field: str | None
) -> None:
    reply = api("GET", "/documents", key="reader", query=query)
    assert reply.status == 400, reply.body
    problem = reply.json
    assert problem["code"] == code
    if field is not None:
        assert problem["field"] == field
    if code == "field_not_indexed":
        assert problem["indexed_fields"] == dict(sorted(FIELDS.items()))


def test_a_cursor_only_works_with_the_filters_that_made_it(api: Api) -> None:
    for _ in range(3):
        api.upload(metadata={"team": "docs", "year": 1})
    page = api("GET", "/documents", key="reader", query={"meta.team": "docs", "limit": "1"})
    cursor = page.json["next_cursor"]
    assert cursor is not None
    other = api(
        "GET", "/documents", key="reader", query={"meta.year": "1", "limit": "1", "cursor": cursor}
    )
    assert other.status == 400
    assert other.json["field"] == "cursor"


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"year": "2021"}, "metadata.year"),
        ({"draft": "no"}, "metadata.draft"),
        ({"due": "tomorrow"}, "metadata.due"),
        ({"team": 7}, "metadata.team"),
        ({"team": "x" * 1025}, "metadata.team"),
    ],
)
def test_writes_refuse_a_declared_field_of_another_type(
    api: Api, metadata: dict[str, Any], field: str
) -> None:
    reply = api(
        "POST",
        "/documents",
        json_body={"file_name": "a.txt", "content": "aGk=", "metadata": metadata},
    )
    assert reply.status == 400, reply.body
    assert (reply.json["code"], reply.json["field"]) == ("validation_failed", field)
    doc = api.upload(metadata={"team": "docs"})["document_id"]
    patched = api("PATCH", f"/documents/{doc}", json_body=metadata)
    assert patched.status == 400
    assert patched.json["field"] == field
    # Absent and null are fine.
    assert api("PATCH", f"/documents/{doc}", json_body={"year": None}).status == 200


def test_the_openapi_document_lists_each_declared_fields_filters(api: Api) -> None:
    document = api("GET", "/docs", key=None).json
    names = {p["name"] for p in document["paths"]["/documents"]["get"]["parameters"]}
    assert {"meta.team", "meta.year", "meta.year.min", "meta.year.max", "meta.due.max"} <= names
    assert "meta.team.min" not in names
    assert {"content_type", "created_after", "created_before", "created_by"} <= names


def test_unknown_query_parameters_are_refused_on_every_route(api: Api) -> None:
    doc = api.upload()["document_id"]
    for path in ("/documents", f"/documents/{doc}", "/limits", "/users"):
        reply = api("GET", path, key="admin", query={"verbose": "1"})
        assert reply.status == 400, (path, reply.body)
        assert reply.json["field"] == "verbose"
