"""Test support: run every Lambda handler as Lambda would, and report the modules they loaded.

`python -S -m tests.infra.handler_tour RESULT.json` in a fresh interpreter whose environment
is a function's (tables, bucket, queues, `KUMOCMS_AWS_ENDPOINT_URL` of an emulator on which an
admin with key `KUMOCMS_TOUR_ADMIN_KEY` exists). It imports each function's module by its
handler string and calls `handler(event, context)` with the events Lambda sends: the REQUEST
authorizer's, an API Gateway proxy event for every route of the route table (each on a document
in a state where the route succeeds, so the deferred imports of the successful paths run), an
SQS batch for `ingest` and the scheduled events. Then it writes, as JSON, which routes and
functions it served with what status and every module in `sys.modules` with its file.

Only the standard library is imported here, so whatever else is loaded was loaded by the
handlers (or, for the two client calls a user would make, by boto3, which the runtime provides).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import sys
import urllib.request
import uuid
from typing import Any

ACCOUNT = "123456789012"
STAGE = "prod"
LARGE = 7 * 1024**2
"""A multipart upload's size, with MULTIPART_THRESHOLD 6 MiB and MULTIPART_PART_SIZE 5 MiB."""


class Context:
    """The parts of Lambda's context object the handlers read."""

    def __init__(self, function: str) -> None:
        self.function_name = function
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        """Plenty."""
        return 900_000


class Tour:
    """Calls handlers and notes what it called."""

    def __init__(self) -> None:
        self.region = os.environ["AWS_REGION"]
        self.admin_key = os.environ["KUMOCMS_TOUR_ADMIN_KEY"]
        self.routes: list[dict[str, Any]] = []
        self.functions: dict[str, Any] = {}
        self.caller: dict[str, str] = {}

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """`handler(event, context)` of the function's module, found by its handler string."""
        module = importlib.import_module(f"entrypoints.functions.{function}")
        return module.handler(event, Context(function))

    def authorize(self) -> None:
        """The REQUEST authorizer, as API Gateway calls it; its context is every call's caller."""
        header = f"Bearer {self.admin_key}"
        answer = self.invoke(
            "authorizer",
            {
                "type": "REQUEST",
                "methodArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT}:api/{STAGE}/GET/me",
                "resource": "/me",
                "path": "/me",
                "httpMethod": "GET",
                "headers": {"Authorization": header},
                "multiValueHeaders": {"Authorization": [header]},
                "requestContext": {"stage": STAGE, "identity": {"sourceIp": "203.0.113.7"}},
            },
        )
        self.caller = dict(answer["context"])
        self.functions["authorizer"] = "allow"

    def http(
        self,
        function: str,
        method: str,
        resource: str,
        *,
        ids: dict[str, str] | None = None,
        body: object = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One API Gateway REST proxy event; the decoded JSON body of the answer."""
        path = resource
        for name, value in (ids or {}).items():
            path = path.replace("{" + name + "}", value)
        from entrypoints.http.routes import is_binary  # from the package under test

        data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.admin_key}", "Accept": "application/json"}
        if data:
            headers["Content-Type"] = content_type
        event = {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": (
                {name: [value] for name, value in query.items()} if query else None
            ),
            "pathParameters": ids,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": resource,
                "httpMethod": method,
                "path": f"/{STAGE}{path}",
                "stage": STAGE,
                "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "203.0.113.7"},
                "authorizer": {**self.caller, "principalId": self.caller["user_id"]},
            },
            # API Gateway base64-encodes only the binary media types (routes.json).
            "body": (
                None
                if not data
                else base64.b64encode(data).decode("ascii")
                if is_binary(content_type)
                else data.decode("utf-8")
            ),
            "isBase64Encoded": bool(data) and is_binary(content_type),
        }
        answer = self.invoke(function, event)
        self.routes.append(
            {
                "function": function,
                "method": method,
                "path": resource,
                "status": answer["statusCode"],
            }
        )
        return json.loads(answer["body"]) if answer.get("body") else {}

    def storage_event(self, detail_type: str, key: str, size: int, **detail: Any) -> dict[str, Any]:
        """An EventBridge S3 event for this bucket, as the ingest queue carries it."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.s3",
            "account": ACCOUNT,
            "time": "2026-01-01T00:00:00Z",
            "region": self.region,
            "resources": [f"arn:aws:s3:::{os.environ['S3_BUCKET']}"],
            "detail": {
                "version": "0",
                "bucket": {"name": os.environ["S3_BUCKET"]},
                "object": {"key": key, "size": size, "etag": "0" * 32, "sequencer": "0A"},
                "request-id": "R",
                "requester": ACCOUNT,
                **detail,
            },
        }

    def ingest(self, *events: dict[str, Any]) -> None:
        """An SQS event source mapping batch into the ingest function."""
        batch = {
            "Records": [
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": "AQEB",
                    "body": json.dumps(event),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{self.region}:{ACCOUNT}:kumocms-ingest",
                    "awsRegion": self.region,
                }
                for event in events
            ]
        }
        answer = self.invoke("ingest", batch)
        assert not answer["batchItemFailures"], answer
        self.functions["ingest"] = len(events)

    def transfer(self) -> None:
        """The copy orders waiting in the transfer queue, as its event source mapping sends them.

        The one client call here reads the queue as Lambda's poller would (boto3 is the
        runtime's, so what it loads is allowed).
        """
        import boto3

        sqs = boto3.client(
            "sqs", region_name=self.region, endpoint_url=os.environ["KUMOCMS_AWS_ENDPOINT_URL"]
        )
        queue = os.environ["TRANSFER_QUEUE_URL"]
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        assert messages, "the large archive sent a copy order"
        for message in messages:
            record = {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{self.region}:{ACCOUNT}:kumocms-transfer",
                "awsRegion": self.region,
            }
            answer = self.invoke("transfer", {"Records": [record]})
            assert not answer["batchItemFailures"], answer
        self.functions["transfer"] = len(messages)


def _form(content: bytes) -> tuple[str, bytes]:
    boundary = "tour-boundary-7d1f"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="metadata"\r\n'
            "Content-Type: application/json\r\n\r\n"
            '{"project": "tour"}\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="form.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def _put(url: str, content: bytes, headers: dict[str, str] | None = None) -> str:
    """What a client does with a presigned PUT (of an object or a part); the ETag."""
    # urllib would otherwise send a form's media type, which the emulator tries to parse.
    sent = {"Content-Type": "application/octet-stream", **(headers or {})}
    request = urllib.request.Request(url, data=content, method="PUT", headers=sent)
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200
        return str(answer.headers["ETag"])


def _key(upload: dict[str, Any]) -> str:
    path = upload["url"].split("?", 1)[0].split("://", 1)[1].split("/", 1)[1]
    return path.removeprefix(os.environ["S3_BUCKET"] + "/")


def tour() -> Tour:
    """Every route and every trigger, each at least once on its successful path."""
    t = Tour()
    t.authorize()
    content = b"hello tour"
    sha = hashlib.sha256(content).hexdigest()
    t.http("meta", "GET", "/healthcheck", query={"deep": "true"})
    t.http("meta", "GET", "/docs")
    t.http("meta", "GET", "/me")
    t.http("meta", "GET", "/limits")

    user = t.http("users", "POST", "/users", body={"name": "tour reader", "role": "reader"})
    ids = {"id": user["user_id"]}
    t.http("users", "GET", "/users")
    t.http("users", "GET", "/users/{id}", ids=ids)
    t.http("users", "PATCH", "/users/{id}", ids=ids, body={"role": "editor"})
    t.http("users", "POST", "/users/{id}/keys", ids=ids)
    t.http("users", "DELETE", "/users/{id}", ids=ids)

    direct = {
        "file_name": "a.txt",
        "content_type": "text/plain",
        "content": base64.b64encode(content).decode(),
        "metadata": {"project": "tour"},
    }
    first = {"id": t.http("documents_write", "POST", "/documents", body=direct)["document_id"]}
    media_type, form = _form(content)
    second = t.http("documents_write", "POST", "/documents", raw=form, content_type=media_type)[
        "document_id"
    ]
    presigned = t.http(
        "documents_write",
        "POST",
        "/documents",
        body={
            "file_name": "p.txt",
            "content_type": "text/plain",
            "size": len(content),
            "sha256": sha,
        },
    )
    large = t.http(
        "documents_write",
        "POST",
        "/documents",
        body={"file_name": "big.bin", "size": LARGE},
    )

    t.http("documents_read", "GET", "/documents")
    t.http("documents_read", "GET", "/documents/{id}", ids=first)
    t.http(
        "documents_read", "GET", "/documents/{id}/content", ids=first, query={"redirect": "false"}
    )

    t.http("documents_write", "PATCH", "/documents/{id}", ids=first, body={"reviewed": True})
    t.http("documents_write", "PUT", "/documents/{id}", ids={"id": second}, body=direct)
    # §11: revisions, the trash, history and legal holds.
    kept = {"id": second, "revision": "1"}
    t.http("documents_read", "GET", "/documents/{id}/revisions", ids={"id": second})
    t.http(
        "documents_read",
        "GET",
        "/documents/{id}/revisions/{revision}/content",
        ids=kept,
        query={"redirect": "false"},
    )
    t.http("documents_write", "POST", "/documents/{id}/revisions/{revision}/restore", ids=kept)
    t.http("documents_read", "GET", "/documents/{id}/history", ids={"id": second})
    t.http("documents_write", "DELETE", "/documents/{id}", ids={"id": second})
    t.http("documents_read", "GET", "/trash")
    t.http("documents_write", "POST", "/trash/{id}/restore", ids={"id": second})
    t.http("documents_write", "DELETE", "/documents/{id}", ids={"id": second})
    t.http("documents_write", "DELETE", "/trash/{id}", ids={"id": second})
    hold = {"enabled": True, "reason": "the tour"}
    t.http("documents_write", "PUT", "/documents/{id}/legal-hold", ids=first, body=hold)
    t.http("documents_write", "POST", "/documents/{id}/archive", ids=first, body={})
    t.http("documents_write", "POST", "/documents/{id}/restore", ids=first, body={"days": 1})
    t.http(
        "documents_write",
        "PUT",
        "/documents/{id}/legal-hold",
        ids=first,
        body={"enabled": False},
    )
    multipart = {"id": large["document_id"]}
    part_size = int(large["upload"]["part_size"])
    fresh = t.http(
        "documents_write",
        "POST",
        "/documents/{id}/uploads/parts",
        ids=multipart,
        body={"part_numbers": [part["part_number"] for part in large["upload"]["parts"]]},
    )
    parts = [
        {
            "part_number": part["part_number"],
            "etag": _put(
                part["url"],
                b"p" * min(part_size, LARGE - (part["part_number"] - 1) * part_size),
            ),
        }
        for part in fresh["parts"]
    ]
    t.http(
        "documents_write",
        "POST",
        "/documents/{id}/uploads/complete",
        ids=multipart,
        body={"parts": parts},
    )

    # Above SYNC_COPY_LIMIT an archive is a copy job for the transfer function.
    t.http("documents_write", "POST", "/documents/{id}/archive", ids=multipart, body={})
    t.transfer()

    # The presigned upload arrives; S3's events reach the ingest function through the queue.
    _put(presigned["upload"]["url"], content, presigned["upload"].get("headers"))
    t.ingest(
        t.storage_event(
            "Object Created", _key(presigned["upload"]), len(content), reason="PutObject"
        ),
    )
    t.invoke("dlq_retry", {})
    t.functions["dlq_retry"] = "scheduled"
    t.invoke("reconcile", {})
    t.functions["reconcile"] = "scheduled"
    return t


def main() -> None:
    """Run the tour; write what it served and what was loaded."""
    result_file = sys.argv[1]
    done = tour()
    modules = {
        name: getattr(module, "__file__", None) for name, module in sorted(sys.modules.items())
    }
    with open(result_file, "w", encoding="utf-8") as out:  # noqa: PTH123 - stdlib only
        json.dump({"routes": done.routes, "functions": done.functions, "modules": modules}, out)


if __name__ == "__main__":
    main()
