"""Entrypoints layer: the CLI's document commands — get, list, patch, archive, restore, delete."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from entrypoints.cli.api import ApiClient, document_path, if_match_header
from entrypoints.cli.errors import CliError
from entrypoints.cli.options import (
    Commands,
    add_command,
    add_if_match,
    add_paging,
    api_client,
    fetch_pages,
    int_range,
    json_object,
    seconds,
)
from entrypoints.cli.output import human, note, out, out_json, table
from entrypoints.cli.waiting import ARCHIVE, PERMANENT_RESTORE, Pacing, Settling, settle

STATES = ("pending", "active", "archiving", "archived", "restoring", "restored", "rejected")
TIERS = ("Standard", "Expedited", "Bulk")
STORAGE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")


def add_get(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `get`."""
    add_command(
        commands,
        "get",
        _run_get,
        parents=[api],
        summary="show a document",
        description="Print a document as JSON, with a download link when it is readable.",
        subject="document",
    )


def _run_get(args: argparse.Namespace) -> int:
    out_json(api_client(args).call("GET", document_path(args.id)))
    return 0


def add_list(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `list`."""
    parser = add_command(
        commands,
        "list",
        _run_list,
        parents=[api],
        summary="list and find documents, newest first",
        description=(
            "List documents newest first, as a table or (--json) as the API's page. Filters "
            "combine with AND: --where on indexed metadata fields (NAME=VALUE, or "
            "NAME.min=VALUE / NAME.max=VALUE on one number or date field, which then orders "
            "the list), and the content type, creator and creation time."
        ),
    )
    add_paging(parser, "documents")
    parser.add_argument(
        "--where",
        type=_where,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an indexed metadata field's value (NAME.min= / NAME.max= for a range); repeatable",
    )
    parser.add_argument("--state", choices=STATES, help="only documents in this state")
    parser.add_argument("--content-type", metavar="TYPE", help="only this media type")
    parser.add_argument("--created-by", metavar="USER_ID", help="only documents of this user")
    parser.add_argument(
        "--created-after", metavar="RFC3339", help="created at or after this instant"
    )
    parser.add_argument("--created-before", metavar="RFC3339", help="created before this instant")


def _where(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return f"meta.{name}", value


def _list_query(args: argparse.Namespace) -> dict[str, Any]:
    query: dict[str, Any] = {
        "state": args.state,
        "content_type": args.content_type,
        "created_by": args.created_by,
        "created_after": args.created_after,
        "created_before": args.created_before,
    }
    for name, value in args.where:
        if name in query:
            raise CliError(f"--where {name[len('meta.') :]} is given twice")
        query[name] = value
    return query


def _run_list(args: argparse.Namespace) -> int:
    items, cursor = fetch_pages(api_client(args), "/documents", args, _list_query(args))
    if args.json:
        out_json({"items": items, "next_cursor": cursor})
        return 0
    rows = [
        [
            str(item["document_id"]),
            str(item["state"]),
            human(item.get("size")),
            str(item.get("updated_at") or "-"),
            str(item.get("file_name") or ""),
        ]
        for item in items
    ]
    out(table(rows, ["DOCUMENT ID", "STATE", "SIZE", "UPDATED", "NAME"]))
    if cursor:
        note(f"more documents: pass --all, or --cursor {cursor}")
    return 0


def add_patch(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `patch`."""
    parser = add_command(
        commands,
        "patch",
        _run_patch,
        parents=[api],
        summary="merge-patch a document's metadata",
        description=(
            "Apply a JSON merge patch (RFC 7396) to a document's user metadata: keys set to "
            "null are removed, objects merge. Prints the document."
        ),
        subject="document",
    )
    parser.add_argument("patch", type=json_object, metavar="JSON", help="the merge patch")
    add_if_match(parser)


def _run_patch(args: argparse.Namespace) -> int:
    document = api_client(args).call(
        "PATCH",
        document_path(args.id),
        args.patch,
        headers=if_match_header(args.if_match),
        media_type="application/merge-patch+json",
    )
    out_json(document)
    return 0


def add_archive(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `archive`."""
    parser = add_command(
        commands,
        "archive",
        _run_archive,
        parents=[api],
        summary="move a document's content to Glacier",
        description=(
            "Move an active document's content to an archive storage class. A large object "
            "is copied after the answer (state archiving); with --wait, poll until it is "
            "archived, as often as the API's Retry-After says."
        ),
        subject="document",
    )
    parser.add_argument(
        "--storage-class", choices=STORAGE_CLASSES, default="GLACIER", help="(default: GLACIER)"
    )
    add_if_match(parser)
    _add_wait(parser, "wait until the document is archived")


def _add_wait(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--wait", action="store_true", help=what)
    parser.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help="give up waiting after this long (default: no limit)",
    )


def _run_archive(args: argparse.Namespace) -> int:
    api = api_client(args)
    reply = api.request(
        "POST",
        document_path(args.id, "archive"),
        body={"storage_class": args.storage_class},
        headers=if_match_header(args.if_match),
    )
    document = reply.json()
    if args.wait:
        document = _settle(api, args, ARCHIVE, document, reply.retry_after)
    out_json(document)
    return 0


def _settle(
    api: ApiClient,
    args: argparse.Namespace,
    settling: Settling,
    document: Any,
    retry_after: int | None,
) -> Any:
    def fetch() -> tuple[Any, int | None]:
        reply = api.request("GET", document_path(args.id))
        return reply.json(), reply.retry_after

    return settle(settling, document, fetch, Pacing(retry_after=retry_after, timeout=args.timeout))


def add_restore(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `restore`."""
    parser = add_command(
        commands,
        "restore",
        _run_restore,
        parents=[api],
        summary="restore archived content",
        description=(
            "Start a restore of an archived document (or extend a restored copy). With --wait, "
            "poll until the content is readable, as often as the API's Retry-After says; with "
            "--permanent --wait, until the document is active again."
        ),
        subject="document",
    )
    parser.add_argument(
        "--days",
        type=int_range(1, 365),
        default=1,
        help="how long the restored copy stays (default: %(default)s)",
    )
    parser.add_argument("--tier", choices=TIERS, default="Standard", help="(default: Standard)")
    parser.add_argument(
        "--permanent", action="store_true", help="copy the content back to a hot storage class"
    )
    add_if_match(parser)
    _add_wait(parser, "wait until the content is readable (with --permanent: until it is active)")


def _run_restore(args: argparse.Namespace) -> int:
    api = api_client(args)
    reply = api.request(
        "POST",
        document_path(args.id, "restore"),
        body={"days": args.days, "tier": args.tier, "permanent": args.permanent},
        headers=if_match_header(args.if_match),
    )
    document = reply.json()
    if args.wait and args.permanent:
        document = _settle(api, args, PERMANENT_RESTORE, document, reply.retry_after)
    elif args.wait:
        _await_restore(api, args.id, args.timeout)
        document = api.call("GET", document_path(args.id))
    out_json(document)
    return 0


def _await_restore(api: ApiClient, document_id: str, timeout: float | None) -> None:
    started = time.monotonic()
    content = document_path(document_id, "content")
    while True:
        reply = api.request(
            "GET", content, query={"redirect": False}, allow=("restore_in_progress",)
        )
        if reply.status == 200:
            return
        pause = float(reply.retry_after or 5)
        waited = time.monotonic() - started
        if timeout is not None:
            if waited >= timeout:
                raise CliError(f"document {document_id} is still restoring after {timeout:g} s")
            pause = min(pause, timeout - waited)
        if sys.stderr.isatty():
            note(f"restoring {document_id}; asking again in {pause:g} s")
        time.sleep(pause)


def add_delete(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `delete`."""
    parser = add_command(
        commands,
        "delete",
        _run_delete,
        parents=[api],
        summary="move a document to the trash",
        description=(
            "Move a document to the trash: it disappears from reads, lists and searches, and "
            "its content and revisions are kept until the trash is purged (`kumocms trash`). "
            "A pending upload is aborted instead."
        ),
        subject="document",
    )
    add_if_match(parser)


def _run_delete(args: argparse.Namespace) -> int:
    api_client(args).call("DELETE", document_path(args.id), headers=if_match_header(args.if_match))
    out(f"moved {args.id} to the trash")
    return 0
