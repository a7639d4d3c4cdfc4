"""Domain layer: the storage key layout (hash prefix, ULID, revision) and its inverse."""

from __future__ import annotations

import hashlib
import re

import attrs

from kumocms.errors import InvalidIdError
from kumocms.ids import DocumentId

SIDECAR_NAME = "meta.json"
REVISION_TAG = "kumocms-revision"
"""Object tag the bucket's lifecycle filters on: `noncurrent` marks a superseded revision."""
NONCURRENT = "noncurrent"
PREFIX_LENGTH = 4
"""Hex digits of the hash prefix: 65,536 prefixes spread a burst of ULIDs (which share their
leading time digits) over many S3 partitions."""

_KEY = re.compile(
    r"(?P<prefix>[0-9a-f]{4})/(?P<ulid>[0-9a-z]{26})/(?:r(?P<rev>[1-9][0-9]*)|meta\.json)"
)


@attrs.frozen
class ContentRef:
    """One immutable content revision of a document."""

    document_id: DocumentId
    revision: int


@attrs.frozen
class SidecarRef:
    """A document's metadata sidecar."""

    document_id: DocumentId


def _prefix(document_id: DocumentId) -> str:
    return hashlib.sha256(document_id.value.encode("ascii")).hexdigest()[:PREFIX_LENGTH]


def _folder(document_id: DocumentId) -> str:
    return f"{_prefix(document_id)}/{document_id.value.lower()}"


def content_key(ref: ContentRef) -> str:
    """`<hash4>/<ulid>/r<revision>`: only `[0-9a-z/]`, never a file name."""
    return f"{_folder(ref.document_id)}/r{ref.revision}"


def document_folder(document_id: DocumentId) -> str:
    """`<hash4>/<ulid>/`: the prefix of every key of the document, and of no other's."""
    return f"{_folder(document_id)}/"


def sidecar_key(document_id: DocumentId) -> str:
    """`<hash4>/<ulid>/meta.json`."""
    return f"{_folder(document_id)}/{SIDECAR_NAME}"


def parse_key(key: str) -> ContentRef | SidecarRef | None:
    """The object a storage key names, or None for keys this service did not make."""
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    try:
        document_id = DocumentId.parse(match["ulid"])
    except InvalidIdError:
        return None
    if match["prefix"] != _prefix(document_id):
        return None
    if match["rev"] is None:
        return SidecarRef(document_id)
    return ContentRef(document_id, int(match["rev"]))
