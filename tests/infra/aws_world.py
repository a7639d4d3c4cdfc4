"""Test support: every Lambda function running on moto with real adapters, its AWS calls recorded.

A `World` provisions what the Terraform module creates (the bucket with EventBridge
notifications and the rule into the ingest queue, the three tables, the domain bus, the three
queues), then builds each function's runtime the way Lambda would: `EnvSettings.from_environ`
on exactly the variables Terraform gives the function (required plus the optional ones the
module sets, from routes.json) and `build_runtime` on a boto3 session of its own. A `Recorder`
hooked into that session sees every API call (`before-parameter-build`) and every presigned URL
or POST (`before-sign` of a presign request) the function's clients make, with its parameters.

HTTP functions are driven through `entrypoints.local.gateway.Gateway` (API Gateway proxy events,
the REQUEST authorizer in front); the ingest queue is pumped into the ingest function like an
event source mapping (or, for `dlq_retry`, moved to the DLQ and re-driven from there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from adapters.dynamodb import (
    TTL_ATTRIBUTE,
    documents_table_spec,
    history_table_spec,
    users_table_spec,
)
from adapters.memory import ManualClock
from entrypoints.bootstrap import Runtime, build_runtime, fixed
from entrypoints.functions.authorizer import make_authorizer
from entrypoints.functions.dlq_retry import make_dlq_retry_handler
from entrypoints.functions.ingest import make_ingest_handler
from entrypoints.functions.reconcile import make_reconcile_handler
from entrypoints.functions.transfer import make_transfer_handler
from entrypoints.http.api import make_http_handler
from entrypoints.local.gateway import Gateway, GatewayResponse, LambdaContext
from entrypoints.manifest import FUNCTIONS
from entrypoints.settings import EnvSettings
from kumocms.usecases.users import bootstrap_admin

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ADMIN_KEY = "kumo_infra-admin-key-000000000000000000"
MiB = 1024**2

# Values the Terraform module would put in each variable (locals.tf) for this world.
NAMES = {
    "S3_BUCKET": "kumocms-infra-documents",
    "DOCUMENTS_TABLE": "kumocms-documents",
    "USERS_TABLE": "kumocms-users",
    "HISTORY_TABLE": "kumocms-history",
    "EVENT_BUS_NAME": "kumocms",
}
OPTIONAL_VALUES = {
    # INFO, the default: logging is configured once per process, so a quieter level here
    # would silence the log lines later tests in the same run assert on.
    "LOG_LEVEL": "INFO",
    "SERVICE_NAME": "kumocms",
    "LIST_SHARDS": "2",
    "MULTIPART_THRESHOLD": str(6 * MiB),
    "MULTIPART_PART_SIZE": str(5 * MiB),
    "DLQ_MAX_RETRIES": "2",
    "DLQ_RETRY_DELAY_SECONDS": "0",
    "CORS_ALLOWED_ORIGINS": "https://app.example",
    # Archives of the 7 MiB multipart uploads go to the transfer worker, in 5 MiB parts.
    "SYNC_COPY_LIMIT": str(6 * MiB),
    "COPY_PART_SIZE": str(5 * MiB),
    "COPY_CONCURRENCY": "2",
    "COPY_MAX_ATTEMPTS": "3",
    "COPY_STALL_SECONDS": "900",
    # §10: every writer keeps the metadata index current; documents_read searches it.
    "INDEXED_FIELDS": '{"project": "string", "year": "number"}',
    # §11: the trash and non-current revisions kept for no time, so that a reconcile run
    # purges and prunes; every writer computes those sparse keys from these values.
    "TRASH_DAYS": "0",
    "MAX_REVISIONS": "1",
    "REVISION_DAYS": "0",
}


@attrs.frozen
class Call:
    """One AWS request a function's client made (`presigned`: a URL or form it signed)."""

    service: str
    operation: str
    params: Mapping[str, Any]
    presigned: bool = False


class Recorder:
    """Collects the calls made by the clients of one boto3 session."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def attach(self, session: boto3.Session) -> None:
        """Hook the session's event system; clients created afterwards report to this."""
        session.events.register("before-parameter-build", self._api_call)
        session.events.register("before-sign.s3", self._presign)

    def _api_call(self, params: Mapping[str, Any], model: Any, context: Any, **_: Any) -> None:
        if context.get("is_presign_request"):
            return  # recorded when it is signed, under the operation the URL performs
        service = model.service_model.service_name
        self.calls.append(Call(service, model.name, dict(params)))

    def _presign(self, request: Any, operation_name: str, **_: Any) -> None:
        if request.context.get("is_presign_request"):
            # The signed URL's query names what the client may read (a VersionId included).
            self.calls.append(Call("s3", operation_name, {"url": request.url}, presigned=True))


def ulid_for(moment: datetime) -> str:
    """A ULID whose timestamp is `moment` (for keys of documents that no longer exist)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    number = int(moment.timestamp() * 1000) << 80 | 0x1234
    return "".join(alphabet[(number >> shift) & 31] for shift in range(125, -1, -5))


class FunctionDied(Exception):  # noqa: N818 - what happened, not an error of ours
    """A function's invocation ending abruptly (its timeout, out of memory)."""


def die() -> None:
    """An `after_call` action: the function dies, the operation's effect stands."""
    raise FunctionDied("died right after the call")


class World:
    """The module's resources on moto, and each function's runtime, recorder and handler."""

    def __init__(self) -> None:
        self.admin = boto3.Session(region_name=REGION)
        self.s3: Any = self.admin.client("s3")
        self.sqs: Any = self.admin.client("sqs")
        self.events: Any = self.admin.client("events")
        self.dynamodb: Any = self.admin.client("dynamodb")
        self.recorders = {name: Recorder() for name in FUNCTIONS}
        self.runtimes: dict[str, Runtime] = {}
        self.queues: dict[str, str] = {}
        self.outages: set[str] = set()
        """Operations the functions' clients see fail (a dependency outage)."""
        self.after_call: dict[str, Callable[[], None]] = {}
        """Operation -> what happens (once) right after it succeeded: the calling function
        dying (`die`), or another client racing it."""
        self._provision()
        self.environment = self._environment()
        for name in FUNCTIONS:
            self.runtimes[name] = self._runtime(name)
        handlers = {
            name: make_http_handler(name, fixed(self.runtimes[name]))
            for name, function in FUNCTIONS.items()
            if function.trigger == "http"
        }
        self.gateway = Gateway(
            handlers,
            make_authorizer(fixed(self.runtimes["authorizer"])),
            region=REGION,
            cache_ttl_seconds=0,
            cors_allowed_origins=("https://app.example",),
        )
        self.ingest = make_ingest_handler(fixed(self.runtimes["ingest"]))
        self.dlq_retry = make_dlq_retry_handler(fixed(self.runtimes["dlq_retry"]))
        self.transfer = make_transfer_handler(fixed(self.runtimes["transfer"]))
        self.keys = {"admin": ADMIN_KEY}
        self.ingest_failures = 0

    # ---- provisioning (what Terraform creates) --------------------------------------------

    def _provision(self) -> None:
        bucket = NAMES["S3_BUCKET"]
        self.s3.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,  # legal holds (§11), as s3.tf enables it
        )
        self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        for spec in (
            documents_table_spec(NAMES["DOCUMENTS_TABLE"]),
            users_table_spec(NAMES["USERS_TABLE"]),
            history_table_spec(NAMES["HISTORY_TABLE"]),
        ):
            self.dynamodb.create_table(**spec)
        for table in (NAMES["DOCUMENTS_TABLE"], NAMES["HISTORY_TABLE"]):
            self.dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
        self.events.create_event_bus(Name=NAMES["EVENT_BUS_NAME"])
        for name in ("ingest", "ingest-dlq", "parking", "transfer", "transfer-dlq"):
            self.queues[name] = self.sqs.create_queue(QueueName=f"kumocms-{name}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queues["ingest"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        # The module's rule (events.tf), read from the same pattern the module renders.
        self.events.put_rule(
            Name="kumocms-s3-events",
            EventPattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": [
                        "Object Created",
                        "Object Restore Initiated",
                        "Object Restore Completed",
                        "Object Restore Expired",
                    ],
                    "detail": {"bucket": {"name": [bucket]}},
                }
            ),
        )
        self.events.put_targets(Rule="kumocms-s3-events", Targets=[{"Id": "q", "Arn": arn}])

    def _environment(self) -> dict[str, str]:
        return {
            **NAMES,
            "INGEST_QUEUE_URL": self.queues["ingest"],
            "INGEST_DLQ_URL": self.queues["ingest-dlq"],
            "PARKING_QUEUE_URL": self.queues["parking"],
            "TRANSFER_QUEUE_URL": self.queues["transfer"],
            "TRANSFER_DLQ_URL": self.queues["transfer-dlq"],
        }

    def _runtime(self, name: str) -> Runtime:
        """The function's runtime from exactly the variables Terraform gives it."""
        function = FUNCTIONS[name]
        environ = {"AWS_REGION": REGION}
        environ.update({var: self.environment[var] for var in function.required_variables})
        environ.update(
            {
                var: OPTIONAL_VALUES[var]
                for var in function.optional_variables
                if var in OPTIONAL_VALUES
            }
        )
        settings = EnvSettings.from_environ(environ, required=function.needs.required_settings())
        session = boto3.Session(region_name=REGION)
        self.recorders[name].attach(session)
        outage: Any = self._outage  # a handler that answers in botocore's place
        session.events.register("before-call", outage)
        session.events.register("after-call", self._after_call)
        return build_runtime(settings, function.needs, session)

    def _after_call(self, model: Any, **_: Any) -> None:
        action = self.after_call.pop(model.name, None)
        if action is not None:
            action()

    def _outage(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        """Answer an operation under outage with a 503, as a failing AWS service would."""
        if model.name not in self.outages:
            return None
        error = {"Error": {"Code": "ServiceUnavailable", "Message": "injected outage"}}
        return AWSResponse("https://aws.invalid", 503, HTTPHeaders(), None), error

    def bootstrap_admin(self) -> None:
        """What an operator does once after deploying (not a function's call)."""
        session = boto3.Session(region_name=REGION)
        setup = build_runtime(
            EnvSettings(
                region=REGION,
                users_table=NAMES["USERS_TABLE"],
                documents_table=NAMES["DOCUMENTS_TABLE"],
                event_bus=NAMES["EVENT_BUS_NAME"],
            ),
            FUNCTIONS["users"].needs,
            session,
        )
        bootstrap_admin(setup.ports, name="admin", api_key=ADMIN_KEY)

    # ---- driving ---------------------------------------------------------------------------

    def http(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "admin",
        json_body: object = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        expect: int | tuple[int, ...] = (200, 201, 202, 204, 302),
    ) -> GatewayResponse:
        """One request through the gateway; fails the scenario on an unexpected status."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        reply = self.gateway.handle(
            method,
            path,
            query=list((query or {}).items()),
            headers=list(sent.items()),
            body=body,
        )
        allowed = (expect,) if isinstance(expect, int) else expect
        assert reply.status in allowed, (method, path, reply.status, reply.body[:500])
        return reply

    def doc(self, reply: GatewayResponse) -> dict[str, Any]:
        """The JSON body of a reply."""
        return dict(json.loads(reply.body))

    def upload_object(self, key: str, content: bytes, *, checksum: bool = False) -> None:
        """A client (or S3 itself) writing an object: not a function's call."""
        extra: dict[str, Any] = {}
        if checksum:
            digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
            extra = {"ChecksumSHA256": digest, "ChecksumAlgorithm": "SHA256"}
        self.s3.put_object(Bucket=NAMES["S3_BUCKET"], Key=key, Body=content, **extra)

    def send_storage_event(self, detail_type: str, key: str, **detail: Any) -> None:
        """An S3 event as EventBridge delivers it (moto emits no restore completion/expiry)."""
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.s3",
            "account": ACCOUNT,
            "time": now,
            "region": REGION,
            "resources": [f"arn:aws:s3:::{NAMES['S3_BUCKET']}"],
            "detail": {
                "version": "0",
                "bucket": {"name": NAMES["S3_BUCKET"]},
                "object": {"key": key, "size": 11, "etag": "0" * 32},
                "request-id": "R",
                "requester": "s3.amazonaws.com",
                **detail,
            },
        }
        self.sqs.send_message(QueueUrl=self.queues["ingest"], MessageBody=json.dumps(event))

    def drain(self, consumer: str) -> None:
        """Deliver everything in the ingest queue to `consumer` until the queue is empty."""
        for _ in range(50):
            messages = self.sqs.receive_message(
                QueueUrl=self.queues["ingest"],
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return
            if consumer == "ingest":
                self._ingest(messages)
            else:
                for message in messages:
                    self.sqs.send_message(
                        QueueUrl=self.queues["ingest-dlq"], MessageBody=message["Body"]
                    )
                self.dlq_retry({}, LambdaContext("dlq_retry", timeout_seconds=300))
            for message in messages:
                self.sqs.delete_message(
                    QueueUrl=self.queues["ingest"], ReceiptHandle=message["ReceiptHandle"]
                )
        raise AssertionError("the ingest queue never emptied")

    def lose_storage_events(self) -> None:
        """Drop what the ingest queue holds, as if the events were lost (no function sees
        them); PurgeQueue would allow one call a minute."""
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queues["ingest"], MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.sqs.delete_message(
                    QueueUrl=self.queues["ingest"], ReceiptHandle=message["ReceiptHandle"]
                )

    def drain_transfers(self, *, limit: int = 20, empty: bool = True) -> list[dict[str, Any]]:
        """Deliver the transfer queue to the transfer function, one order per invocation.

        Up to `limit` orders; with `empty`, the queue must be empty by then.
        """
        results: list[dict[str, Any]] = []
        for _ in range(limit):
            messages = self.sqs.receive_message(
                QueueUrl=self.queues["transfer"],
                MaxNumberOfMessages=1,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return results
            message = messages[0]
            attributes = {
                name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                for name, value in (message.get("MessageAttributes") or {}).items()
            }
            record = {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "messageAttributes": attributes,
                "eventSource": "aws:sqs",
            }
            results.append(
                self.transfer({"Records": [record]}, LambdaContext("transfer", timeout_seconds=900))
            )
            self.sqs.delete_message(
                QueueUrl=self.queues["transfer"], ReceiptHandle=message["ReceiptHandle"]
            )
        if not empty:
            return results
        raise AssertionError("the transfer queue never emptied")

    def _ingest(self, messages: list[Mapping[str, Any]]) -> None:
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:kumocms-ingest",
                    "awsRegion": REGION,
                }
                for message in messages
            ]
        }
        result = self.ingest(event, LambdaContext("ingest"))
        self.ingest_failures += len(result["batchItemFailures"])

    def reconcile_later(self, later: timedelta) -> dict[str, int]:
        """Run the reconcile function as if `later` had passed (only its clock moves)."""
        runtime = self.runtimes["reconcile"]
        clock = ManualClock(datetime.now(UTC) + later)
        shifted = attrs.evolve(runtime, ports=attrs.evolve(runtime.ports, clock=clock))
        handler = make_reconcile_handler(fixed(shifted))
        return handler({}, LambdaContext("reconcile", timeout_seconds=300))
