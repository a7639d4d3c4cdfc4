"""`kumocms list --where …` and `kumocms admin reindex` against the local stack (§10)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from entrypoints.cli.api import ApiClient
from entrypoints.local.stack import LocalStack
from tests.cli.conftest import ADMIN_KEY, Cli


def _create(stack: LocalStack, **metadata: Any) -> str:
    document: dict[str, Any] = ApiClient(stack.base_url, ADMIN_KEY).call(
        "POST",
        "/documents",
        {"file_name": "a.txt", "content": base64.b64encode(b"hi").decode(), "metadata": metadata},
    )
    return str(document["document_id"])


def test_list_where_finds_documents_by_indexed_fields(cli: Cli, stack: LocalStack) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"  # the stack is shared: a team of this test's own
    old = _create(stack, team=team, year=2019)
    mid = _create(stack, team=team, year=2021.5)
    new = _create(stack, team=team, year=-1)

    every = cli("list", "--where", f"team={team}", "--json", "--all", "--limit", "1")
    ranged = cli("list", "--where", f"team={team}", "--where", "year.min=2020", "--json")
    table = cli("list", "--where", f"team={team}", "--where", "year.max=2020")

    assert every.code == 0, every.err
    assert [d["document_id"] for d in every.json["items"]] == [new, mid, old]
    assert every.json["next_cursor"] is None
    assert [d["document_id"] for d in ranged.json["items"]] == [mid]
    assert table.code == 0, table.err
    assert table.out.splitlines()[0].split()[:2] == ["DOCUMENT", "ID"]
    assert [line.split()[0] for line in table.out.splitlines()[1:]] == [new, old]  # by year


def test_list_where_errors_are_one_line_messages(cli: Cli) -> None:
    undeclared = cli("list", "--where", "colour=red")
    wrong_type = cli("list", "--where", "year=ten")
    malformed = cli("list", "--where", "colour")

    assert undeclared.code == 1
    assert "colour" in undeclared.error
    assert "team" in undeclared.error  # the declared fields are named
    assert wrong_type.code == 1
    assert "year" in wrong_type.error
    assert malformed.code == 2


def test_admin_reindex_visits_every_document_and_reports(
    cli: Cli, stack: LocalStack, moto_endpoint: str
) -> None:
    _create(stack, team="reindexed", year=1)
    assert stack.resources is not None
    result = cli(
        "admin",
        "reindex",
        "--documents-table",
        stack.resources.documents_table,
        "--field",
        "team:string",
        "--field",
        "year:number",
        "--batch",
        "2",
        "--region",
        stack.options.region,
        "--endpoint-url",
        moto_endpoint,
        env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )

    assert result.code == 0, result.err
    assert result.json["documents"] >= 1
    assert result.json["fields"] == {"team": "string", "year": "number"}
    assert result.json["unindexed"] == []
    assert "documents indexed" in result.err
    found = cli("list", "--where", "team=reindexed", "--json")
    assert len(found.json["items"]) == 1
