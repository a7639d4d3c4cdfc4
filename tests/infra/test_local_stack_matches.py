"""The local stack provisions what the Terraform module defines (§7): they cannot drift."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adapters.dynamodb import TTL_ATTRIBUTE
from entrypoints.local import provision
from entrypoints.local.stack import StackOptions
from entrypoints.storage_events import DETAIL_TYPES
from tests.infra.module_files import MODULE, locals_of, parsed, resource, unquote


def _variable_default(name: str, file: str = "variables.tf") -> object:
    for block in parsed(file).get("variable", []):
        if name in block:
            return unquote(block[name]).get("default")
    raise KeyError(name)


def test_the_s3_event_rule_matches() -> None:
    text = (MODULE / "events.tf").read_text(encoding="utf-8")
    rule = text[text.index('resource "aws_cloudwatch_event_rule" "s3_events"') :]
    rule = rule[: rule.index("\n}\n")]
    pattern = provision.s3_event_pattern("BUCKET")
    assert pattern["source"] == ["aws.s3"]
    assert 'source = ["aws.s3"]' in rule
    assert re.findall(r'"(Object [A-Za-z ]+)"', rule) == list(DETAIL_TYPES)
    assert pattern["detail-type"] == list(DETAIL_TYPES)
    assert "bucket = { name = [aws_s3_bucket.documents.id] }" in rule
    assert pattern["detail"] == {"bucket": {"name": ["BUCKET"]}}
    target = unquote(resource("events.tf", "aws_cloudwatch_event_target", "s3_events"))
    assert target["arn"] == "${aws_sqs_queue.ingest.arn}"


def test_the_ingest_queue_redrives_like_the_module() -> None:
    assert _variable_default("ingest_max_receive_count") == provision.MAX_RECEIVE_COUNT
    assert StackOptions().max_receive_count == provision.MAX_RECEIVE_COUNT
    queue = (MODULE / "events.tf").read_text(encoding="utf-8")
    assert "deadLetterTargetArn = aws_sqs_queue.ingest_dlq.arn" in queue


def test_the_bucket_lifecycle_matches() -> None:
    rules = {rule["ID"]: rule for rule in provision.lifecycle_rules()}
    assert (
        _variable_default("noncurrent_version_days")
        == (rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"])
    )
    assert (
        _variable_default("abort_incomplete_multipart_days")
        == (
            rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"][
                "DaysAfterInitiation"
            ]
        )
    )
    s3 = (MODULE / "s3.tf").read_text(encoding="utf-8")
    assert "expired_object_delete_marker = true" in s3
    assert rules["expire-noncurrent-versions"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}


def test_the_tables_match() -> None:
    # provision() creates the tables from adapters.dynamodb's specs, which
    # test_module_drift.py compares with dynamodb.tf; here: it really uses them.
    source = (MODULE.parents[2] / "entrypoints" / "local" / "provision.py").read_text()
    assert "documents_table_spec(documents_table)" in source
    assert "users_table_spec(users_table)" in source
    assert "history_table_spec(history_table)" in source
    assert "TTL_ATTRIBUTE" in source


# ---- what provision() really creates, read back from the emulator ---------------------------


def _module_queues() -> dict[str, dict[str, Any]]:
    """Every `aws_sqs_queue` of the module by its name without the prefix (`ingest-dlq`)."""
    queues: dict[str, dict[str, Any]] = {}
    for file in ("events.tf", "transfer.tf"):
        for block in parsed(file).get("resource", []):
            for body in block.get("aws_sqs_queue", {}).values():
                queues[body["name"].removeprefix("${var.name_prefix}-")] = body
    return queues


@pytest.fixture(scope="module")
def provisioned() -> Iterator[tuple[provision.Resources, Any, Any]]:
    with mock_aws():
        session = boto3.Session(
            region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        resources = provision.provision(session)
        yield resources, session.client("sqs"), session.client("dynamodb")


@pytest.fixture(scope="module")
def bucket_settings(
    provisioned: tuple[provision.Resources, Any, Any],
) -> tuple[provision.Resources, Any]:
    """The provisioned resources and an S3 client of the same (still active) emulator."""
    session = boto3.Session(
        region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return provisioned[0], session.client("s3")


def _queue_urls(resources: provision.Resources) -> dict[str, str]:
    return {
        "ingest": resources.ingest_queue_url,
        "ingest-dlq": resources.ingest_dlq_url,
        "parking": resources.parking_queue_url,
        "transfer": resources.transfer_queue_url,
        "transfer-dlq": resources.transfer_dlq_url,
    }


def test_the_stack_has_exactly_the_modules_queues(
    provisioned: tuple[provision.Resources, Any, Any],
) -> None:
    resources, sqs, _ = provisioned
    names = {
        url.rsplit("/", 1)[1].removeprefix("kumocms-") for url in sqs.list_queues()["QueueUrls"]
    }
    assert names == set(_module_queues()) == set(_queue_urls(resources))


@pytest.mark.parametrize("queue", sorted(provision.QUEUE_RETENTION_SECONDS))
def test_each_queue_keeps_messages_as_long_as_the_module_says(
    provisioned: tuple[provision.Resources, Any, Any], queue: str
) -> None:
    resources, sqs, _ = provisioned
    attributes = sqs.get_queue_attributes(
        QueueUrl=_queue_urls(resources)[queue], AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]
    expected = _module_queues()[queue]["message_retention_seconds"]
    assert int(attributes["MessageRetentionPeriod"]) == expected


def test_the_transfer_queue_redrives_and_waits_like_the_module(
    provisioned: tuple[provision.Resources, Any, Any],
) -> None:
    resources, sqs, _ = provisioned
    attributes = sqs.get_queue_attributes(
        QueueUrl=resources.transfer_queue_url, AttributeNames=["All"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=resources.transfer_dlq_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == _variable_default(
        "transfer_max_receive_count", "transfer.tf"
    )
    transfer = _module_queues()["transfer"]
    assert transfer["visibility_timeout_seconds"] == "${local.transfer_visibility_timeout}"
    assert locals_of("transfer.tf")["transfer_visibility_timeout"] == (
        '${6 * local.timeouts["transfer"]}'
    )
    module_timeout = locals_of("locals.tf")["default_timeouts"]["transfer"]
    assert int(attributes["VisibilityTimeout"]) == 6 * module_timeout


def _table_names(resources: provision.Resources) -> dict[str, str]:
    return {
        "documents": resources.documents_table,
        "users": resources.users_table,
        "history": resources.history_table,
    }


def _module_tables() -> dict[str, dict[str, Any]]:
    return {
        label: body
        for block in parsed("dynamodb.tf").get("resource", [])
        for label, body in block.get("aws_dynamodb_table", {}).items()
    }


def test_the_stack_has_exactly_the_modules_tables(
    provisioned: tuple[provision.Resources, Any, Any],
) -> None:
    resources, _, dynamodb = provisioned
    names = {name.removeprefix("kumocms-") for name in dynamodb.list_tables()["TableNames"]}
    assert names == set(_module_tables()) == set(_table_names(resources))


@pytest.mark.parametrize("table", ["documents", "users", "history"])
def test_each_table_expires_items_like_the_module(
    provisioned: tuple[provision.Resources, Any, Any], table: str
) -> None:
    resources, _, dynamodb = provisioned
    module_ttl = _module_tables()[table].get("ttl", [])
    described = dynamodb.describe_time_to_live(TableName=_table_names(resources)[table])
    ttl = described["TimeToLiveDescription"]
    if module_ttl:
        assert module_ttl == [{"attribute_name": TTL_ATTRIBUTE, "enabled": True}]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}
    else:
        assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_the_functions_get_every_resource_the_module_passes(
    provisioned: tuple[provision.Resources, Any, Any],
) -> None:
    resources, _, _ = provisioned
    environment = resources.environment()
    module = set(locals_of("locals.tf")["required_environment"])
    assert set(environment) - {"AWS_REGION"} == module
    assert environment["HISTORY_TABLE"] == resources.history_table == "kumocms-history"
    assert all(environment.values())


def test_the_bucket_has_object_lock_without_a_default_retention_like_the_module(
    bucket_settings: tuple[provision.Resources, Any],
) -> None:
    resources, s3 = bucket_settings
    assert resource("s3.tf", "aws_s3_bucket", "documents")["object_lock_enabled"] is True
    lock = resource("s3.tf", "aws_s3_bucket_object_lock_configuration", "documents")
    assert lock["object_lock_enabled"] == "Enabled"
    assert "rule" not in lock
    configuration = s3.get_object_lock_configuration(Bucket=resources.bucket)
    assert configuration["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    versioning = s3.get_bucket_versioning(Bucket=resources.bucket)
    assert versioning["Status"] == "Enabled"


def test_a_presigned_style_put_needs_no_content_md5(
    bucket_settings: tuple[provision.Resources, Any],
) -> None:
    # Without a default retention S3 (and moto) accept a PUT with no checksum header, as a
    # browser's presigned upload sends it; a legal hold can still be placed afterwards.
    resources, s3 = bucket_settings
    put = s3.put_object(Bucket=resources.bucket, Key="probe", Body=b"x")
    s3.put_object_legal_hold(
        Bucket=resources.bucket,
        Key="probe",
        VersionId=put["VersionId"],
        LegalHold={"Status": "ON"},
    )
    hold = s3.get_object_legal_hold(
        Bucket=resources.bucket, Key="probe", VersionId=put["VersionId"]
    )
    assert hold["LegalHold"] == {"Status": "ON"}


def test_superseded_revisions_stay_in_standard_by_default_like_the_module(
    bucket_settings: tuple[provision.Resources, Any],
) -> None:
    resources, s3 = bucket_settings
    assert _variable_default("noncurrent_revision_storage_class") is None
    rules = s3.get_bucket_lifecycle_configuration(Bucket=resources.bucket)["Rules"]
    assert not any("Transitions" in rule or "Transition" in rule for rule in rules)


@pytest.mark.parametrize("table", ["documents", "users", "history"])
def test_point_in_time_recovery_is_on_for_each_table_like_the_module(
    provisioned: tuple[provision.Resources, Any, Any], table: str
) -> None:
    resources, _, dynamodb = provisioned
    assert resource("dynamodb.tf", "aws_dynamodb_table", table)["point_in_time_recovery"] == [
        {"enabled": True}
    ]
    name = _table_names(resources)[table]
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    status = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert status == "ENABLED"
