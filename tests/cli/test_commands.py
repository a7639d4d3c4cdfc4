"""The API client commands of `kumocms`, run as a subprocess against a live local stack."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from entrypoints.cli.api import ApiClient, ApiError
from entrypoints.cli.presigned import follow_upload
from entrypoints.local.stack import LocalStack
from tests.cli.conftest import ADMIN_KEY, Cli, MiB

pytestmark = pytest.mark.slow


def _file(directory: Path, name: str, size: int) -> tuple[Path, str]:
    data = os.urandom(size)
    path = directory / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _small(directory: Path, name: str, text: str = "hello kumo\n") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def _create(
    stack: LocalStack, name: str, text: str = "hello kumo\n", **fields: Any
) -> dict[str, Any]:
    """A document made through the API in-process (setup for tests of other commands)."""
    content = base64.b64encode(text.encode()).decode()
    document: dict[str, Any] = ApiClient(stack.base_url, ADMIN_KEY).call(
        "POST", "/documents", {"file_name": name, "content": content, **fields}
    )
    return document


def _upload(cli: Cli, path: Path, *args: str) -> dict[str, Any]:
    result = cli("upload", str(path), *args)
    assert result.code == 0, result.err
    document: dict[str, Any] = result.json
    return document


# ---- upload flows ---------------------------------------------------------------------------


def test_a_small_file_is_uploaded_directly(cli: Cli, files: Path) -> None:
    path = _small(files, "notes.txt")
    doc = _upload(cli, path, "--metadata", '{"team": "docs"}')
    assert doc["state"] == "active"
    assert doc["content_type"] == "text/plain"
    assert doc["sha256"] == hashlib.sha256(b"hello kumo\n").hexdigest()
    assert doc["metadata"] == {"team": "docs"}
    quiet = cli("upload", str(path), "--name", "other.md", "-q")
    assert quiet.code == 0
    assert len(quiet.out.strip()) == 26
    shown = cli("get", quiet.out.strip()).json
    assert (shown["file_name"], shown["content_type"]) == ("other.md", "text/markdown")


def test_a_6_mb_file_goes_through_a_presigned_put_with_progress(cli: Cli, files: Path) -> None:
    path, sha = _file(files, "six.bin", 6_000_000)
    result = cli("upload", str(path), "--progress")
    assert result.code == 0, result.err
    doc = result.json
    assert (doc["state"], doc["size"], doc["sha256"]) == ("active", 6_000_000, sha)
    assert doc["upload"] is None
    assert "upload [" in result.err
    assert "100% 6.0/6.0 MB" in result.err


def test_without_a_declared_sha256_the_form_post_flow_is_used(cli: Cli, files: Path) -> None:
    path, sha = _file(files, "form.bin", 5 * MiB)
    result = cli("upload", str(path), "--no-sha256")
    assert result.code == 0, result.err
    assert (result.json["state"], result.json["sha256"]) == ("active", sha)
    assert result.err == ""  # stderr is not a terminal: no progress bar without --progress


def test_a_large_file_is_uploaded_in_parallel_parts_and_downloads_intact(
    cli: Cli, files: Path
) -> None:
    path, sha = _file(files, "parts.bin", 12 * MiB)  # 3 parts of 5 MiB on this stack
    doc = _upload(cli, path, "--parallel", "3", "--progress")
    assert (doc["state"], doc["size"], doc["sha256"]) == ("active", 12 * MiB, sha)
    result = cli("download", doc["document_id"], "-o", str(cli.cwd / "copy.bin"))
    assert result.code == 0, result.err
    assert result.out.strip() == str(cli.cwd / "copy.bin")
    assert (cli.cwd / "copy.bin").read_bytes() == path.read_bytes()


@contextlib.contextmanager
def _refusing_storage() -> Iterator[dict[str, Any]]:
    """A stand-in storage endpoint answering every PUT as S3 answers an expired URL."""
    seen: dict[str, Any] = {"hits": 0}

    class Refuse(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["hits"] += 1
            body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}/bucket/key?partNumber=1"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_multipart_reissues_missing_and_refused_part_urls(stack: LocalStack, files: Path) -> None:
    path, sha = _file(files, "reissue.bin", 11 * MiB)
    api = ApiClient(stack.base_url, ADMIN_KEY)
    doc = api.call(
        "POST", "/documents", {"file_name": "reissue.bin", "size": 11 * MiB, "sha256": sha}
    )
    assert doc["upload"]["method"] == "MULTIPART"
    assert len(doc["upload"]["parts"]) == 3
    with _refusing_storage() as refused:
        # Part 1's URL is refused as expired; parts 2 and 3 were never handed out.
        doc["upload"]["parts"] = [{"part_number": 1, "url": refused["url"]}]
        done = follow_upload(api, doc, path, size=11 * MiB, parallel=2)
    assert refused["hits"] == 1
    assert done is not None
    assert (done["state"], done["sha256"]) == ("active", sha)


def test_an_idempotency_key_creates_the_document_once(cli: Cli, files: Path) -> None:
    path = _small(files, "once.txt")
    first = _upload(cli, path, "--idempotency-key", "cli-once")
    again, other = cli.many(
        ["upload", str(path), "--idempotency-key", "cli-once"],
        ["upload", str(path), "--name", "x.txt", "--idempotency-key", "cli-once"],
    )
    assert again.json["document_id"] == first["document_id"]
    assert other.code == 1
    assert other.error.startswith("422 idempotency_key_reused: ")


# ---- reading --------------------------------------------------------------------------------


def test_get_and_list(cli: Cli, stack: LocalStack) -> None:
    oldest = _create(stack, "listed-1.txt")
    older = _create(stack, "listed-2.txt")
    doc = _create(stack, "listed-3.txt")
    table, everything, rejected = cli.many(
        ["list", "--limit", "1"],
        ["list", "--all", "--json", "--limit", "2"],
        ["list", "--state", "rejected", "--json"],
    )
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split() == ["DOCUMENT", "ID", "STATE", "SIZE", "UPDATED", "NAME"]
    assert row.split()[0] == doc["document_id"]
    assert row.split()[1] == "active"
    assert "more documents: pass --all, or --cursor " in table.err
    ids = [item["document_id"] for item in everything.json["items"]]
    assert {doc["document_id"], older["document_id"], oldest["document_id"]} <= set(ids)
    assert len(ids) == len(set(ids))  # three or more documents: at least two pages of two
    assert everything.json["next_cursor"] is None
    assert rejected.json["items"] == []


def test_download_names_the_file_after_the_document(cli: Cli, stack: LocalStack) -> None:
    doc = _create(stack, "named.txt", "named content\n")
    first = cli("download", doc["document_id"])
    assert first.code == 0, first.err
    saved = cli.cwd / "named.txt"
    assert first.out.strip() == "named.txt"
    assert saved.read_text() == "named content\n"
    again, piped = cli.many(
        ["download", doc["document_id"]], ["download", doc["document_id"], "-o", "-"]
    )
    assert piped.out == "named content\n"
    assert again.code == 1
    assert "named.txt exists; pass --force" in again.error
    assert cli("download", doc["document_id"], "--force").code == 0
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["named.txt"]


def test_a_download_that_fails_verification_is_deleted(
    cli: Cli, stack: LocalStack, moto_endpoint: str
) -> None:
    # Download links name the object version the record holds, and a version's bytes
    # never change: what can still differ is the record, so the record's hash is altered.
    doc = _create(stack, "tampered.txt", "the original\n")
    assert stack.resources is not None
    dynamodb = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dynamodb.update_item(
        TableName=stack.resources.documents_table,
        Key={"pk": {"S": f"DOC#{doc['document_id']}"}},
        UpdateExpression="SET sha256 = :other",
        ExpressionAttributeValues={":other": {"S": "0" * 64}},
    )
    result = cli("download", doc["document_id"], "-o", "out.txt")
    assert result.code == 1
    assert "failed verification: its sha256 is " in result.error
    assert result.error.endswith("the partial file was deleted")
    assert list(cli.cwd.iterdir()) == []


# ---- writing --------------------------------------------------------------------------------


def test_patch_and_delete_with_and_without_a_matching_version(cli: Cli, stack: LocalStack) -> None:
    doc = _create(stack, "patched.txt", metadata={"a": 1, "b": 2})
    patched = cli("patch", doc["document_id"], '{"b": null, "c": {"d": 3}}', "--if-match", "1")
    assert patched.code == 0, patched.err
    assert patched.json["metadata"] == {"a": 1, "c": {"d": 3}}
    stale = cli("patch", doc["document_id"], '{"a": 2}', "--if-match", "1")
    assert stale.code == 1
    assert stale.error.startswith("412 version_mismatch: ")
    deleted = cli("delete", doc["document_id"], "--if-match", "2")
    assert (deleted.code, deleted.out.strip()) == (0, f"moved {doc['document_id']} to the trash")
    gone = cli("get", doc["document_id"])
    assert gone.code == 1
    assert gone.error == f"404 not_found: document {doc['document_id']} not found"


def test_replace_directly_and_through_a_presigned_upload(
    cli: Cli, stack: LocalStack, files: Path
) -> None:
    doc = _create(stack, "replaced.txt", "v1\n")
    direct = cli("replace", doc["document_id"], str(_small(files, "v2.txt", "v2\n")))
    assert direct.code == 0, direct.err
    assert direct.json["sha256"] == hashlib.sha256(b"v2\n").hexdigest()
    path, sha = _file(files, "v3.bin", 5 * MiB)
    presigned = cli("replace", doc["document_id"], str(path), "--if-match", "2")
    assert presigned.code == 0, presigned.err
    replaced = presigned.json
    assert (replaced["state"], replaced["size"], replaced["sha256"]) == ("active", 5 * MiB, sha)
    assert replaced["file_name"] == "v3.bin"


def test_archive_restore_wait_and_download(cli: Cli, stack: LocalStack) -> None:
    doc = _create(stack, "cold.txt", "cold content\n")
    archived = cli("archive", doc["document_id"], "--storage-class", "GLACIER")
    assert archived.code == 0, archived.err
    assert (archived.json["state"], archived.json["storage_class"]) == ("archived", "GLACIER")
    blocked = cli("download", doc["document_id"])
    assert blocked.code == 1
    assert blocked.error.startswith("409 document_archived: ")
    restored = cli("restore", doc["document_id"], "--days", "2", "--wait", "--timeout", "30")
    assert restored.code == 0, restored.err
    assert restored.json["state"] == "restored"
    assert restored.json["restore"]["days"] == 2
    fetched = cli("download", doc["document_id"], "-o", str(cli.cwd / "cold.txt"))
    assert fetched.code == 0, fetched.err
    assert (cli.cwd / "cold.txt").read_text() == "cold content\n"


# ---- users ----------------------------------------------------------------------------------


def _status(stack: LocalStack, key: str) -> int:
    """What the API answers this key on GET /me (in-process, not through the CLI)."""
    try:
        ApiClient(stack.base_url, key).call("GET", "/me")
    except ApiError as error:
        return error.status
    return 200


def test_users_create_list_rotate_and_disable(cli: Cli, stack: LocalStack) -> None:
    doc = _create(stack, "guarded.txt")
    created = cli("users", "create", "rita", "--role", "reader")
    assert created.code == 0, created.err
    rita = created.json
    assert (rita["name"], rita["role"], rita["disabled"]) == ("rita", "reader", False)
    assert "shown only this once" in created.err
    listing, denied = cli.many(
        ["users", "list"], ["delete", doc["document_id"], "--api-key", rita["api_key"]]
    )
    assert any(line.split()[0] == rita["user_id"] for line in listing.out.splitlines()[1:])
    assert "api_key" not in listing.out
    assert denied.code == 1
    assert denied.error.startswith("403 forbidden: ")

    rotated = cli("users", "rotate-key", rita["user_id"])
    assert rotated.code == 0, rotated.err
    new_key = rotated.json["api_key"]
    assert (_status(stack, rita["api_key"]), _status(stack, new_key)) == (401, 200)

    disabled = cli("users", "disable", rita["user_id"])
    assert (disabled.code, disabled.json["disabled"]) == (0, True)
    assert _status(stack, new_key) == 401


def test_users_get_update_and_delete(cli: Cli, stack: LocalStack) -> None:
    ed = cli("users", "create", "ed", "--role", "reader").json
    shown = cli("users", "get", ed["user_id"])
    assert shown.code == 0, shown.err
    fields = ("user_id", "name", "role", "disabled")
    assert {key: shown.json[key] for key in fields} == {key: ed[key] for key in fields}
    assert "api_key" not in shown.json

    promoted = cli("users", "update", ed["user_id"], "--role", "editor")
    assert (promoted.code, promoted.json["role"], promoted.json["disabled"]) == (
        0,
        "editor",
        False,
    )
    disabled = cli("users", "update", ed["user_id"], "--disable", "--role", "admin")
    assert (disabled.json["role"], disabled.json["disabled"]) == ("admin", True)
    assert _status(stack, ed["api_key"]) == 401
    enabled = cli("users", "update", ed["user_id"], "--enable", "--role", "reader")
    assert (enabled.json["role"], enabled.json["disabled"]) == ("reader", False)
    assert _status(stack, ed["api_key"]) == 200

    nothing, both = cli.many(
        ["users", "update", ed["user_id"]],
        ["users", "update", ed["user_id"], "--disable", "--enable"],
    )
    assert (nothing.code, nothing.error) == (
        2,
        "nothing to change: pass --role, --disable or --enable",
    )
    assert both.code == 2
    assert "not allowed with argument" in both.err

    deleted = cli("users", "delete", ed["user_id"])
    assert (deleted.code, deleted.out.strip()) == (0, f"deleted user {ed['user_id']}")
    assert _status(stack, ed["api_key"]) == 401
    gone, bad_id = cli.many(["users", "get", ed["user_id"]], ["users", "delete", "not-an-id"])
    assert (gone.code, bad_id.code) == (1, 1)
    assert gone.error.startswith("404 not_found: ")
    assert bad_id.error.startswith("400 validation_failed: ")


def test_the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted(
    cli: Cli, stack: LocalStack
) -> None:
    me = ApiClient(stack.base_url, ADMIN_KEY).call("GET", "/me")
    others = [
        user["user_id"]
        for user in cli("users", "list", "--json").json["items"]
        if user["role"] == "admin" and not user["disabled"] and user["user_id"] != me["user_id"]
    ]
    for user_id in others:  # admins that other tests bootstrapped
        assert cli("users", "disable", user_id).code == 0
    refusals = cli.many(
        ["users", "update", me["user_id"], "--role", "editor"],
        ["users", "update", me["user_id"], "--disable"],
        ["users", "delete", me["user_id"]],
    )
    for refused in refusals:
        assert refused.code == 1
        assert refused.error.startswith("409 conflict: the last enabled admin cannot be ")
    assert _status(stack, ADMIN_KEY) == 200


# ---- failures -------------------------------------------------------------------------------


def test_bad_flags_are_usage_errors_and_every_command_has_help(cli: Cli) -> None:
    top, *results = cli.many(
        ["--help"],
        ["list", "--limit", "0"],
        ["upload"],
        ["upload", "x", "--metadata", "[1]"],
        ["users"],
    )
    for result in results:
        assert result.code == 2, result
        assert "usage: kumocms" in result.err
        assert result.out == ""
    for command in ("upload", "get", "download", "list", "patch", "replace", "archive"):
        assert command in top.out
    for command in ("restore", "delete", "users", "admin", "serve"):
        assert command in top.out


def test_user_facing_failures_are_one_line(cli: Cli, files: Path) -> None:
    unreachable, missing, bad_key = cli.many(
        ["list", "--api-url", "http://127.0.0.1:9"],
        ["upload", str(files / "no-such-file.bin")],
        ["list", "--api-key", "kumo_not-a-key-that-exists-000000"],
    )
    assert unreachable.code == missing.code == bad_key.code == 1
    assert unreachable.error.startswith("cannot reach http://127.0.0.1:9: ")
    assert missing.error.endswith("no-such-file.bin: No such file or directory")
    assert bad_key.error == "401 unauthorized: a valid API key is required"
    no_key = cli("list", key=None)
    assert no_key.error == "no API key: pass --api-key or set KUMOCMS_API_KEY"


# ---- admin bootstrap ------------------------------------------------------------------------


def test_admin_bootstrap_writes_to_the_users_table(
    cli: Cli, stack: LocalStack, moto_endpoint: str
) -> None:
    assert stack.resources is not None
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    base = ["admin", "bootstrap", "--region", "eu-west-1", "--endpoint-url", moto_endpoint]
    table = ["--users-table", stack.resources.users_table]
    refused, missing = cli.many([*base, *table], [*base, "--users-table", "nope"], env=aws)
    assert refused.code == 1
    assert "already has 1 enabled admin(s)" in refused.error
    ops_key = "cli-ops-key-00000000000000000000"
    created = cli(*base, *table, "--force", "--name", "ops", "--api-key", ops_key, env=aws)
    assert created.code == 0, created.err
    assert (created.json["role"], created.json["api_key"]) == ("admin", ops_key)
    assert _status(stack, ops_key) == 200
    assert missing.code == 1
    assert missing.error.startswith("admin bootstrap failed: ")
    assert "ResourceNotFoundException" in missing.error
    no_credentials = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    anonymous = cli(*base, *table, env=no_credentials)
    assert anonymous.error.startswith("no AWS credentials found")


def test_admin_bootstrap_publishes_user_created_on_the_named_bus(
    cli: Cli, stack: LocalStack, moto_endpoint: str
) -> None:
    assert stack.resources is not None
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    options: dict[str, Any] = {
        "region_name": "eu-west-1",
        "endpoint_url": moto_endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    sqs, events = boto3.client("sqs", **options), boto3.client("events", **options)
    queue = sqs.create_queue(QueueName="cli-bootstrap-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    bus = stack.resources.event_bus
    events.put_rule(
        Name="cli-bootstrap-users", EventBusName=bus, EventPattern='{"source": ["kumocms"]}'
    )
    events.put_targets(
        Rule="cli-bootstrap-users",
        EventBusName=bus,
        Targets=[{"Id": "queue", "Arn": arn["QueueArn"]}],
    )
    created = cli(
        "admin",
        "bootstrap",
        "--region",
        "eu-west-1",
        "--endpoint-url",
        moto_endpoint,
        "--users-table",
        stack.resources.users_table,
        "--event-bus",
        bus,
        "--force",
        "--name",
        "ops-events",
        env=aws,
    )
    assert created.code == 0, created.err
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    published = [json.loads(message["Body"]) for message in received.get("Messages", [])]
    assert [(event["detail-type"], event["detail"]["user_id"]) for event in published] == [
        ("UserCreated", created.json["user_id"])
    ]
