"""KumoCMS domain: documents, their archive lifecycle, the use cases and the ports they need.

Pure Python (standard library, attrs, python-ulid). Adapters implement the ports; entrypoints
compose them and call the use cases.
"""

__version__ = "0.1.0"

from kumocms.errors import KumoError
from kumocms.ids import DocumentId, UserId
from kumocms.model import Document, RestoreRequest, UploadMode
from kumocms.ports import (
    BlobStore,
    Clock,
    DocumentRepository,
    EventBus,
    IdempotencyStore,
    IdGenerator,
    Ports,
    UserRepository,
)
from kumocms.settings import Settings
from kumocms.states import ArchiveState, RestoreTier, StorageClass
from kumocms.users import Principal, Role

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
