"""The emulator's cheap transaction backups (entrypoints/local/transactions.py) roll back."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from entrypoints.local import transactions
from tests.support.aws import REGION

TABLE = "transactions"


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    transactions.install()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        yield dynamodb


def _refused(client, writes) -> None:  # type: ignore[no-untyped-def]
    missing = {
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "missing"}},
            "ConditionExpression": "attribute_exists(pk)",
        }
    }
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(TransactItems=[*writes, missing])


def test_a_refused_transaction_undoes_its_puts_deletes_and_updates(client) -> None:  # type: ignore[no-untyped-def]
    _refused(
        client,
        [
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "b"}}}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ],
    )
    _refused(client, [{"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "a"}}}}])
    items = client.scan(TableName=TABLE)["Items"]
    assert items == [{"pk": {"S": "a"}, "n": {"N": "1"}}]


def test_an_accepted_transaction_applies(client) -> None:  # type: ignore[no-untyped-def]
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "b"}}}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    items = {i["pk"]["S"]: i for i in client.scan(TableName=TABLE)["Items"]}
    assert items["a"]["n"] == {"N": "2"}
    assert "b" in items
