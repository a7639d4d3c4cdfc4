"""KumoCMS domain: documents, their archive lifecycle, the use cases and the ports they need.

Pure Python (standard library, attrs, python-ulid). Adapters implement the ports; entrypoints
compose them and call the use cases.

The names below are exported lazily: `from kumocms import Document` imports `kumocms.model` on
first use, so importing any one module of the package (as every Lambda function does) does not
build the classes of all the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kumocms.errors import KumoError as KumoError
    from kumocms.ids import DocumentId as DocumentId
    from kumocms.ids import UserId as UserId
    from kumocms.model import Document as Document
    from kumocms.model import RestoreRequest as RestoreRequest
    from kumocms.model import UploadMode as UploadMode
    from kumocms.ports import BlobStore as BlobStore
    from kumocms.ports import Clock as Clock
    from kumocms.ports import DocumentRepository as DocumentRepository
    from kumocms.ports import EventBus as EventBus
    from kumocms.ports import IdempotencyStore as IdempotencyStore
    from kumocms.ports import IdGenerator as IdGenerator
    from kumocms.ports import Ports as Ports
    from kumocms.ports import UserRepository as UserRepository
    from kumocms.settings import Settings as Settings
    from kumocms.states import ArchiveState as ArchiveState
    from kumocms.states import RestoreTier as RestoreTier
    from kumocms.states import StorageClass as StorageClass
    from kumocms.users import Principal as Principal
    from kumocms.users import Role as Role

_EXPORTS = {
    "KumoError": "kumocms.errors",
    "DocumentId": "kumocms.ids",
    "UserId": "kumocms.ids",
    "Document": "kumocms.model",
    "RestoreRequest": "kumocms.model",
    "UploadMode": "kumocms.model",
    "BlobStore": "kumocms.ports",
    "Clock": "kumocms.ports",
    "DocumentRepository": "kumocms.ports",
    "EventBus": "kumocms.ports",
    "IdempotencyStore": "kumocms.ports",
    "IdGenerator": "kumocms.ports",
    "Ports": "kumocms.ports",
    "UserRepository": "kumocms.ports",
    "Settings": "kumocms.settings",
    "ArchiveState": "kumocms.states",
    "RestoreTier": "kumocms.states",
    "StorageClass": "kumocms.states",
    "Principal": "kumocms.users",
    "Role": "kumocms.users",
}
"""Exported name -> the module that defines it."""

__all__ = [
    "ArchiveState",
    "BlobStore",
    "Clock",
    "Document",
    "DocumentId",
    "DocumentRepository",
    "EventBus",
    "IdGenerator",
    "IdempotencyStore",
    "KumoError",
    "Ports",
    "Principal",
    "RestoreRequest",
    "RestoreTier",
    "Role",
    "Settings",
    "StorageClass",
    "UploadMode",
    "UserId",
    "UserRepository",
    "__version__",
]


def __getattr__(name: str) -> object:
    """Import an exported name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kumocms' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return __all__
