"""Entrypoints layer: `kumocms users` — create, show, change and delete users; rotate keys.

Every command needs an admin key.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from entrypoints.cli.api import user_path
from entrypoints.cli.errors import CliError
from entrypoints.cli.options import Commands, add_command, add_group, api_client
from entrypoints.cli.output import note, out, out_json, table

ROLES = ("reader", "editor", "admin")
_DISABLE = "disable a user (their key stops working)"
_ENABLE = "enable a disabled user"


def add_parser(commands: Commands, api: argparse.ArgumentParser) -> None:
    """Register `users` and its commands."""
    actions = add_group(
        commands,
        "users",
        summary="manage users and API keys (admin)",
        description="Manage users and their API keys; needs an admin key.",
        title="user commands",
    )
    create = add_command(
        actions,
        "create",
        _run_users_create,
        parents=[api],
        summary="create a user and their API key",
        description="Create a user; prints them with their API key, which is shown only once.",
    )
    create.add_argument("name", metavar="NAME", help="the user's name")
    create.add_argument("--role", choices=ROLES, required=True, help="what they may do")
    listing = add_command(
        actions,
        "list",
        _run_users_list,
        parents=[api],
        summary="list users",
        description="List every user.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for name, run, text in (
        ("get", _run_users_get, "show a user (never their key)"),
        ("delete", _run_users_delete, "delete a user (their key stops working)"),
        ("disable", functools.partial(_run_users_change, disabled=True), _DISABLE),
        ("enable", functools.partial(_run_users_change, disabled=False), _ENABLE),
    ):
        add_command(
            actions, name, run, parents=[api], summary=text, description=text + ".", subject="user"
        )
    _add_update(actions, api)
    add_command(
        actions,
        "rotate-key",
        _run_users_rotate,
        parents=[api],
        summary="issue a user a new API key",
        description="Issue a new API key (shown only once); the old one stops working.",
        subject="user",
    )


def _run_users_create(args: argparse.Namespace) -> int:
    user = api_client(args).call("POST", "/users", {"name": args.name, "role": args.role})
    out_json(user)
    note("the API key is shown only this once")
    return 0


def _run_users_list(args: argparse.Namespace) -> int:
    api = api_client(args)
    users: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.call("GET", "/users", query={"limit": 100, "cursor": cursor})
        users += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if args.json:
        out_json({"items": users, "next_cursor": None})
        return 0
    rows = [
        [
            str(user["user_id"]),
            str(user["role"]),
            "yes" if user.get("disabled") else "no",
            str(user.get("name") or ""),
        ]
        for user in users
    ]
    out(table(rows, ["USER ID", "ROLE", "DISABLED", "NAME"]))
    return 0


def _add_update(actions: Commands, api: argparse.ArgumentParser) -> None:
    update = add_command(
        actions,
        "update",
        _run_users_update,
        parents=[api],
        summary="change a user's role, or disable or enable them",
        description=(
            "Change a user's role and/or disable or enable them; prints the user. The last "
            "enabled admin cannot be demoted or disabled."
        ),
        subject="user",
    )
    update.add_argument("--role", choices=ROLES, help="what they may do from now on")
    state = update.add_mutually_exclusive_group()
    state.add_argument(
        "--disable", dest="disabled", action="store_const", const=True, help=_DISABLE
    )
    state.add_argument("--enable", dest="disabled", action="store_const", const=False, help=_ENABLE)


def _run_users_get(args: argparse.Namespace) -> int:
    out_json(api_client(args).call("GET", user_path(args.id)))
    return 0


def _run_users_delete(args: argparse.Namespace) -> int:
    api_client(args).call("DELETE", user_path(args.id))
    out(f"deleted user {args.id}")
    return 0


def _run_users_change(args: argparse.Namespace, *, disabled: bool) -> int:
    out_json(api_client(args).call("PATCH", user_path(args.id), {"disabled": disabled}))
    return 0


def _run_users_update(args: argparse.Namespace) -> int:
    change = {
        name: value
        for name, value in (("role", args.role), ("disabled", args.disabled))
        if value is not None
    }
    if not change:
        raise CliError("nothing to change: pass --role, --disable or --enable", exit_code=2)
    out_json(api_client(args).call("PATCH", user_path(args.id), change))
    return 0


def _run_users_rotate(args: argparse.Namespace) -> int:
    out_json(api_client(args).call("POST", user_path(args.id, "keys"), {}))
    note("the new API key is shown only this once; the old one stops working")
    return 0
