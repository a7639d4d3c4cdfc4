"""The local stack provisions what the Terraform module defines (§7): they cannot drift."""

from __future__ import annotations

import re

from entrypoints.local import provision
from entrypoints.local.stack import StackOptions
from entrypoints.storage_events import DETAIL_TYPES
from tests.infra.module_files import MODULE, parsed, resource, unquote


def _variable_default(name: str) -> object:
    for block in parsed("variables.tf").get("variable", []):
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
    assert "TTL_ATTRIBUTE" in source
