"""Entrypoints layer: `kumocms admin` — the first admin and reindexing, with AWS credentials.

It writes straight into a deployed users table with the caller's AWS credentials, so it needs
no API key; every other command talks to the API. Its ports come from the one composition root
(`entrypoints.bootstrap.build_runtime`), like a Lambda function's.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from entrypoints.cli.errors import CliError
from entrypoints.cli.options import Commands, add_group
from entrypoints.cli.output import note, out_json


def add_parser(commands: Commands) -> None:
    """Register `admin bootstrap`."""
    actions = add_group(
        commands,
        "admin",
        summary="operator tasks on a deployment's AWS resources",
        description="Operator tasks that use AWS credentials instead of an API key.",
        title="admin commands",
    )
    bootstrap = actions.add_parser(
        "bootstrap",
        help="create the first admin in a deployed users table",
        description=(
            "Create an admin user directly in a deployment's users table (run once after "
            "`terraform apply`) with boto3's default AWS credentials, and print their API key "
            "once. Refuses when the table already has an enabled admin, unless --force."
        ),
    )
    bootstrap.add_argument(
        "--users-table", required=True, metavar="TABLE", help="the users table's name"
    )
    bootstrap.add_argument("--name", default="admin", help="the admin's name (default: admin)")
    bootstrap.add_argument(
        "--api-key",
        metavar="KEY",
        help="the key to give them, 20-128 printable ASCII characters (default: a new one)",
    )
    bootstrap.add_argument("--region", help="the AWS region (default: boto3's configuration)")
    bootstrap.add_argument(
        "--endpoint-url", metavar="URL", help="a DynamoDB endpoint (an emulator, a VPC endpoint)"
    )
    bootstrap.add_argument(
        "--event-bus",
        metavar="NAME",
        help="publish the UserCreated event on this EventBridge bus (default: not published)",
    )
    bootstrap.add_argument(
        "--force", action="store_true", help="add an admin even when enabled admins exist"
    )
    bootstrap.set_defaults(run=_run_bootstrap)
    _add_reindex(actions)


def _add_reindex(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reindex = actions.add_parser(
        "reindex",
        help="index documents stored before a metadata field was declared",
        description=(
            "Write the index entries of every document for the declared fields (the same "
            "NAME:TYPE list as the deployment's indexed_fields), then mark the fields "
            "searchable; until then a search on a newly declared field answers 409. Writes "
            "keep the index current meanwhile. Resumable: an interrupted run prints the "
            "cursor to pass to --resume. Prints a JSON report, with the values left out "
            "because an older document holds another type."
        ),
    )
    reindex.add_argument(
        "--documents-table", required=True, metavar="TABLE", help="the documents table's name"
    )
    reindex.add_argument(
        "--field",
        dest="fields",
        action="append",
        required=True,
        metavar="NAME:TYPE",
        help="a declared field (string, number, boolean or date); repeat for each",
    )
    reindex.add_argument("--resume", metavar="CURSOR", help="continue an interrupted run")
    reindex.add_argument(
        "--batch", type=int, default=100, metavar="N", help="documents per step (default: 100)"
    )
    reindex.add_argument(
        "--shards",
        type=int,
        default=16,
        metavar="N",
        help="the deployment's list_shards (LIST_SHARDS; default: 16): entries must land in "
        "the shards its functions read",
    )
    reindex.add_argument("--region", help="the AWS region (default: boto3's configuration)")
    reindex.add_argument(
        "--endpoint-url", metavar="URL", help="a DynamoDB endpoint (an emulator, a VPC endpoint)"
    )
    reindex.set_defaults(run=_run_reindex)


def _declared(pairs: list[str]) -> dict[str, str]:
    declared: dict[str, str] = {}
    for pair in pairs:
        name, colon, kind = pair.partition(":")
        if not colon or name in declared:
            raise CliError(f"--field {pair}: expected NAME:TYPE, each name once")
        declared[name] = kind
    return declared


def _run_reindex(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from entrypoints.bootstrap import Needs, build_runtime  # noqa: PLC0415
    from entrypoints.observability import configure_logging  # noqa: PLC0415
    from entrypoints.settings import EnvSettings  # noqa: PLC0415
    from kumocms.errors import KumoError  # noqa: PLC0415
    from kumocms.search import IndexedFields, ReindexBatch  # noqa: PLC0415
    from kumocms.settings import Settings  # noqa: PLC0415
    from kumocms.usecases.reindex import reindex  # noqa: PLC0415

    configure_logging("WARNING", stream=sys.stderr)
    try:
        fields = IndexedFields(_declared(args.fields))
    except ValueError as error:
        raise CliError(f"--field: {error}") from None
    if args.batch < 1:
        raise CliError("--batch must be at least 1")
    if not 1 <= args.shards <= 100:  # DynamoDocumentRepository's range
        raise CliError("--shards must be from 1 to 100")
    seen = 0
    cursor = args.resume

    def show(batch: ReindexBatch) -> None:
        nonlocal seen, cursor
        seen += batch.documents
        cursor = batch.next_cursor
        sys.stderr.write(f"\rreindex: {seen} documents indexed")
        sys.stderr.flush()

    try:
        session = _aws_session(args.region, command="reindex")
        settings = EnvSettings(
            region=session.region_name,
            documents_table=args.documents_table,
            endpoint_url=args.endpoint_url,
            list_shards=args.shards,
            domain=Settings(indexed_fields=fields),
        )
        runtime = build_runtime(settings, Needs(documents=True), session)
        report = reindex(runtime.ports, batch_size=args.batch, cursor=args.resume, on_batch=show)
    except KumoError as error:
        sys.stderr.write("\n")
        raise CliError(_stopped(f"admin reindex failed: {error}", cursor)) from None
    except (BotoCoreError, ClientError) as error:
        sys.stderr.write("\n")
        message = f"admin reindex failed: {' '.join(str(error).split())}"
        raise CliError(_stopped(message, cursor)) from None
    sys.stderr.write("\n")
    out_json(
        {
            "documents": report.documents,
            "fields": fields.as_json(),
            "unindexed": [{"document_id": d, "field": f} for d, f in report.unindexed],
        }
    )
    note("the fields are searchable now")
    return 0


def _stopped(message: str, cursor: str | None) -> str:
    if cursor is None:
        return message
    return f"{message}; resume with --resume {cursor}"


def _run_bootstrap(args: argparse.Namespace) -> int:
    # boto3 and the adapters load only for this command: the API commands never need them.
    import attrs  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from adapters.memory import RecordingEventBus  # noqa: PLC0415
    from entrypoints.bootstrap import Needs, build_runtime  # noqa: PLC0415
    from entrypoints.http.representations import user_json  # noqa: PLC0415
    from entrypoints.observability import configure_logging  # noqa: PLC0415
    from entrypoints.settings import EnvSettings  # noqa: PLC0415
    from kumocms.errors import KumoError  # noqa: PLC0415
    from kumocms.usecases.users import bootstrap_admin  # noqa: PLC0415

    configure_logging("WARNING", stream=sys.stderr)  # stdout is the user's JSON alone
    try:
        session = _aws_session(args.region, command="bootstrap")
        settings = EnvSettings(
            region=session.region_name,
            users_table=args.users_table,
            event_bus=args.event_bus,
            endpoint_url=args.endpoint_url,
        )
        runtime = build_runtime(settings, Needs(users=True, events=bool(args.event_bus)), session)
        ports = runtime.ports
        if not args.event_bus:  # not published: the events stay in memory, as --help says
            ports = attrs.evolve(ports, events=RecordingEventBus())
        if not args.force:
            admins = ports.users.count_enabled_admins()
            if admins:
                raise CliError(
                    f"{args.users_table} already has {admins} enabled admin(s); create users "
                    "with `kumocms users create`, or pass --force"
                )
        issued = bootstrap_admin(ports, name=args.name, api_key=args.api_key)
    except KumoError as error:
        raise CliError(f"admin bootstrap failed: {error}") from None
    except (BotoCoreError, ClientError) as error:
        raise CliError(f"admin bootstrap failed: {' '.join(str(error).split())}") from None
    out_json(user_json(issued.user, api_key=issued.api_key))
    note("store the API key now: it is shown only this once")
    return 0


def _aws_session(region: str | None, *, command: str) -> Any:
    """boto3's default session with credentials and a region, or a one-line CliError."""
    import boto3  # noqa: PLC0415 - only the admin commands load boto3

    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise CliError(
            "no AWS credentials found (environment, ~/.aws or an instance role); "
            f"admin {command} writes to DynamoDB directly"
        )
    if session.region_name is None:
        raise CliError(f"admin {command} failed: no AWS region; pass --region or set AWS_REGION")
    return session
