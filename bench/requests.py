"""Benchmarks: AWS requests per use case, next to the fewest that can do the job.

Each minimum is the request list a correct implementation of the contract in ARCHITECTURE.md
cannot do without; the comment beside it says why. The handlers' requests are recorded with
the botocore hook; a count above its minimum fails the figure.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from bench.aws import RECORDER, Operations
from bench.events import CONTEXT, proxy_event
from bench.warm import Stack

SHARDS = 16

MINIMUMS: Mapping[str, tuple[str, ...]] = {
    # The record is the source of truth (one consistent GetItem); the download URL is presigned
    # locally, which costs no request.
    "get document": ("dynamodb:GetItem",),
    # Same as above: the 302 points at a locally presigned URL.
    "get content": ("dynamodb:GetItem",),
    # The record and its history entry in one TransactWriteItems (the record's Put refuses to
    # overwrite; the entry goes to the history table, §11), the metadata sidecar that the use
    # cases must write as the disaster-recovery mirror (§3), and the domain event (§5). The
    # upload URL is presigned locally.
    "upload presigned": ("dynamodb:TransactWriteItems", "s3:PutObject", "events:PutEvents"),
    # The content itself, then the same three as a presigned upload.
    "upload direct": (
        "s3:PutObject",
        "dynamodb:TransactWriteItems",
        "s3:PutObject",
        "events:PutEvents",
    ),
    # One Query per index shard (LIST_SHARDS, 16 by default): the newest 50 may sit in any
    # shard, and an unsharded index would put every write through one partition (§8). Each
    # Query asks for limit+1 items, so one round trip per shard fills the page and tells
    # whether there is a next one. The same at every table size (see the list cost figures).
    "list page (limit 50)": ("dynamodb:Query",) * SHARDS,
    # Read (the version to condition on and the metadata to merge into), the conditional
    # save with its history entry (one transaction), its event, and the sidecar rewritten
    # with the merged metadata.
    "update metadata": (
        "dynamodb:GetItem",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
        "s3:PutObject",
    ),
    # Read (the key needs the current revision; the write needs the version), HEAD (the
    # object's real size and class: which copy to use, and nothing to copy when a failed
    # save left it archived already), the self-copy into GLACIER, the conditional save and
    # its event.
    "archive": (
        "dynamodb:GetItem",
        "s3:HeadObject",
        "s3:CopyObject",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
    ),
    # Read, HEAD (the object's real class decides which tiers exist, and a restore already
    # running is reported without asking again), RestoreObject, the save and its event.
    "restore": (
        "dynamodb:GetItem",
        "s3:HeadObject",
        "s3:RestoreObject",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
    ),
    # §11: a delete moves the document to the trash, deleting nothing: read, the save with
    # its `deleted` entry (one transaction), the event.
    "delete (to the trash)": (
        "dynamodb:GetItem",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
    ),
    # The same three for a restore from the trash (`undeleted`).
    "restore from trash": (
        "dynamodb:GetItem",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
    ),
    # The revisions live in the record: one consistent GetItem lists a page.
    "revision list": ("dynamodb:GetItem",),
    # Read, one CopyObject of the revision's version onto a new key (below sync_copy_limit),
    # the save with its `revision_restored` entry, the event, and the tag on the revision
    # that stopped being current (for the lifecycle rule).
    "revision restore (small)": (
        "dynamodb:GetItem",
        "s3:CopyObject",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
        "s3:PutObjectTagging",
    ),
    # One consistent Query of the document's history partition, newest first, and the
    # record (the role rules depend on whether it is live, trashed or gone).
    "history page (limit 50)": ("dynamodb:Query", "dynamodb:GetItem"),
    # Per event: read the document, HEAD the object (size and the full-object SHA-256 S3
    # computed from the signed checksum header, so the content need not be read back), the
    # conditional save and the DocumentUploaded event.
    "ingest: confirm a presigned upload (per event)": (
        "dynamodb:GetItem",
        "s3:HeadObject",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
    ),
    # Per event: the sidecar's own Object Created event verifies it against the record and
    # changes nothing: read the record, read the sidecar.
    "ingest: sidecar written (per event)": ("dynamodb:GetItem", "s3:GetObject"),
}


@attrs.frozen(kw_only=True)
class Count:
    """The requests of one use case and its minimum."""

    name: str
    operations: Operations
    minimum: tuple[str, ...]

    @property
    def extra(self) -> list[str]:
        """Requests beyond the minimum."""
        return sorted((Counter(self.operations.names) - Counter(self.minimum)).elements())

    @property
    def matches(self) -> bool:
        """Whether the requests are the minimum's (in any order)."""
        return Counter(self.operations.names) == Counter(self.minimum)


def count(name: str, operations: Operations) -> Count:
    """The count of a use case against its minimum."""
    return Count(name=name, operations=operations, minimum=MINIMUMS[name])


def _recorded(call: Callable[[], Mapping[str, Any]], status: int, name: str) -> Operations:
    with RECORDER.recording() as requests:
        response = call()
    if response.get("statusCode") != status:
        raise AssertionError(f"{name} answered {response.get('statusCode')}: {response}")
    return Operations(names=tuple(requests))


def count_other_use_cases(stack: Stack) -> list[Count]:
    """Use cases that are counted but not timed: upload, content, patch, and §11's kind.

    That is a direct upload, a content link, a metadata patch, a delete to the trash, a
    restore from it, a revision list, a revision restore and a history page.
    """
    from entrypoints.functions import documents_read, documents_write  # noqa: PLC0415

    read, write = documents_read.handler, documents_write.handler
    patched, deleted, shown, undeleted, restored = stack.seed_active(5)

    def at(method: str, resource: str, document_id: str, body: object = None) -> Any:
        path = resource.replace("{id}", document_id)
        return proxy_event(method, resource, path, path_parameters={"id": document_id}, body=body)

    direct = proxy_event(
        "POST",
        "/documents",
        "/documents",
        body={
            "file_name": "notes.txt",
            "content_type": "text/plain",
            "content": base64.b64encode(b"direct upload " * 100).decode("ascii"),
            "metadata": {"project": "kumo"},
        },
    )
    content = at("GET", "/documents/{id}/content", shown.id.value)
    patch = at("PATCH", "/documents/{id}", patched.id.value, {"reviewed": True})
    delete = at("DELETE", "/documents/{id}", deleted.id.value)
    trash = at("DELETE", "/documents/{id}", undeleted.id.value)
    undelete = at("POST", "/trash/{id}/restore", undeleted.id.value, {})
    revision = proxy_event(
        "PUT",
        "/documents/{id}",
        f"/documents/{restored.id.value}",
        path_parameters={"id": restored.id.value},
        body={"file_name": "v2.txt", "content": base64.b64encode(b"second").decode("ascii")},
    )
    revisions = at("GET", "/documents/{id}/revisions", restored.id.value)
    history = at("GET", "/documents/{id}/history", restored.id.value)
    counts = [
        count("upload direct", _recorded(lambda: write(direct, CONTEXT), 201, "upload direct")),
        count("get content", _recorded(lambda: read(content, CONTEXT), 302, "get content")),
        count("update metadata", _recorded(lambda: write(patch, CONTEXT), 200, "patch")),
        count("delete (to the trash)", _recorded(lambda: write(delete, CONTEXT), 204, "delete")),
    ]
    _recorded(lambda: write(trash, CONTEXT), 204, "delete")
    counts.append(
        count("restore from trash", _recorded(lambda: write(undelete, CONTEXT), 200, "undelete"))
    )
    _recorded(lambda: write(revision, CONTEXT), 200, "replace")
    _recorded(lambda: write(revision, CONTEXT), 200, "replace")  # revisions 2 and 3
    counts.append(
        count("revision list", _recorded(lambda: read(revisions, CONTEXT), 200, "revisions"))
    )
    restore = proxy_event(
        "POST",
        "/documents/{id}/revisions/{revision}/restore",
        f"/documents/{restored.id.value}/revisions/2/restore",
        path_parameters={"id": restored.id.value, "revision": "2"},
        body={},
    )
    counts.append(
        count(
            "revision restore (small)",
            _recorded(lambda: write(restore, CONTEXT), 200, "revision restore"),
        )
    )
    counts.append(
        count("history page (limit 50)", _recorded(lambda: read(history, CONTEXT), 200, "history"))
    )
    return counts


def order(counts: Sequence[Count]) -> list[Count]:
    """In the order of MINIMUMS."""
    position = {name: index for index, name in enumerate(MINIMUMS)}
    return sorted(counts, key=lambda c: position[c.name])
