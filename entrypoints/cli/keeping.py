"""Entrypoints layer: the CLI's §11 commands — revisions, trash, history, legal holds."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from entrypoints.cli.api import document_path, if_match_header
from entrypoints.cli.errors import CliError
from entrypoints.cli.options import (
    Commands,
    add_command,
    add_if_match,
    add_paging,
    api_client,
    fetch_pages,
)
from entrypoints.cli.output import human, note, out, out_json, table


def add_revisions(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `revisions ID` and `revisions restore ID N`."""
    parser = add_command(
        commands,
        "revisions",
        _run_revisions,
        parents=[api],
        summary="list a document's revisions, or restore one",
        description=(
            "`kumocms revisions ID` lists the kept revisions, highest number first; "
            "`kumocms revisions restore ID N` makes a copy of revision N the current one "
            "(large ones are copied in the background: the command prints the document)."
        ),
    )
    parser.add_argument("words", nargs="+", metavar="ID | restore ID N")
    add_paging(parser, "revisions")
    add_if_match(parser)


def _run_revisions(args: argparse.Namespace) -> int:
    words = args.words
    api = api_client(args)
    if words[0] == "restore":
        if len(words) != 3:
            raise CliError("usage: kumocms revisions restore ID N")
        number = _revision_number(words[2])
        document = api.call(
            "POST",
            document_path(words[1], "revisions", str(number), "restore"),
            {},
            headers=if_match_header(args.if_match),
        )
        out_json(document)
        return 0
    if len(words) != 1:
        raise CliError("usage: kumocms revisions ID (or: kumocms revisions restore ID N)")
    items, cursor = fetch_pages(api, document_path(words[0], "revisions"), args)
    if args.json:
        out_json({"items": items, "next_cursor": cursor})
        return 0
    rows = [
        [
            f"{item['revision']}{' *' if item.get('current') else ''}",
            human(item.get("size")),
            str(item.get("storage_class")),
            str(item.get("created_at")),
            _actor(item.get("created_by")),
            str(item.get("file_name")),
        ]
        for item in items
    ]
    out(table(rows, ["REVISION", "SIZE", "CLASS", "CREATED", "BY", "NAME"]))
    _more(cursor)
    return 0


def add_history(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `history ID`."""
    parser = add_command(
        commands,
        "history",
        _run_history,
        parents=[api],
        summary="show a document's audit trail",
        description=(
            "Print who changed the document and how, newest first (a trashed document needs "
            "an editor's key, a purged one an admin's)."
        ),
        subject="document",
    )
    add_paging(parser, "entries")


def _run_history(args: argparse.Namespace) -> int:
    items, cursor = fetch_pages(api_client(args), document_path(args.id, "history"), args)
    if args.json:
        out_json({"items": items, "next_cursor": cursor})
        return 0
    rows = [
        [
            str(item.get("at")),
            str(item.get("event")),
            str(item.get("version")),
            _actor(item.get("actor")),
            _details(item.get("details")),
        ]
        for item in items
    ]
    out(table(rows, ["AT", "EVENT", "VERSION", "BY", "DETAILS"]))
    _more(cursor)
    return 0


def add_trash(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `trash` (list), `trash restore ID` and `trash purge ID`."""
    parser = add_command(
        commands,
        "trash",
        _run_trash,
        parents=[api],
        summary="list the trash, restore from it, or purge (admin)",
        description=(
            "`kumocms trash` lists deleted documents, newest deletion first; `kumocms trash "
            "restore ID` brings one back in the state it had; `kumocms trash purge ID` "
            "deletes it for good now (admin; refused under a legal hold)."
        ),
    )
    parser.add_argument("words", nargs="*", metavar="[list | restore ID | purge ID]")
    add_paging(parser, "documents")
    add_if_match(parser)


def _run_trash(args: argparse.Namespace) -> int:
    words = args.words or ["list"]
    api = api_client(args)
    action = words[0]
    if action in ("restore", "purge"):
        if len(words) != 2:
            raise CliError(f"usage: kumocms trash {action} ID")
        path = "/trash/" + quote(words[1], safe="")
        headers = if_match_header(args.if_match)
        if action == "restore":
            out_json(api.call("POST", f"{path}/restore", {}, headers=headers))
        else:
            api.call("DELETE", path, headers=headers)
            out(f"purged {words[1]}")
        return 0
    if action != "list" or len(words) != 1:
        raise CliError("usage: kumocms trash [list | restore ID | purge ID]")
    items, cursor = fetch_pages(api, "/trash", args)
    if args.json:
        out_json({"items": items, "next_cursor": cursor})
        return 0
    rows = [
        [
            str(item["document_id"]),
            str(item.get("deleted_at")),
            _actor(item.get("deleted_by")),
            str(item.get("purge_at") or "held"),
            str(item.get("file_name") or ""),
        ]
        for item in items
    ]
    out(table(rows, ["DOCUMENT ID", "DELETED", "BY", "PURGE AT", "NAME"]))
    _more(cursor)
    return 0


def add_holds(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `hold ID --reason TEXT` and `release ID` (admin)."""
    hold = add_command(
        commands,
        "hold",
        _hold(enabled=True),
        parents=[api],
        summary="put a document under legal hold (admin)",
        description=(
            "Record a legal hold: deleting, replacing, restoring a revision and purging are "
            "refused until it is released, and S3 Object Lock holds protect every version."
        ),
        subject="document",
    )
    hold.add_argument("--reason", required=True, help="why (the case, the request)")
    add_if_match(hold)
    release = add_command(
        commands,
        "release",
        _hold(enabled=False),
        parents=[api],
        summary="release a document's legal hold (admin)",
        description="Release the legal hold; S3 holds are lifted by the transfer worker.",
        subject="document",
    )
    add_if_match(release)


def _hold(*, enabled: bool) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        body: dict[str, Any] = {"enabled": enabled}
        if enabled:
            if not args.reason.strip():
                raise CliError("--reason must not be empty")
            body["reason"] = args.reason
        document = api_client(args).call(
            "PUT",
            document_path(args.id, "legal-hold"),
            body,
            headers=if_match_header(args.if_match),
        )
        out_json(document)
        return 0

    return run


# ---- helpers ------------------------------------------------------------------------------


def _revision_number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise CliError(f"N must be a revision number (1, 2, ...), not {text!r}")
    return int(text)


def _actor(actor: object) -> str:
    if not isinstance(actor, Mapping):
        return "-"
    if "system" in actor:
        return f"({actor['system']})"
    return str(actor.get("name") or actor.get("user_id") or "-")


def _details(details: object) -> str:
    if not isinstance(details, Mapping) or not details:
        return ""
    return ", ".join(f"{key}={value}" for key, value in details.items())


def _more(cursor: str | None) -> None:
    if cursor:
        note(f"more: pass --all, or --cursor {cursor}")
