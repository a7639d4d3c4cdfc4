"""Domain layer: users, roles, permissions and API-key hashing."""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from datetime import datetime
from types import MappingProxyType

import attrs

from kumocms.errors import ForbiddenError, ValidationError
from kumocms.ids import UserId

MAX_USER_NAME_LENGTH = 128
API_KEY_PREFIX = "kumo_"
"""Generated keys start with this, so leaked keys are recognisable by secret scanners."""


class Permission(enum.Enum):
    """What a caller may do."""

    READ = "read"
    WRITE = "write"
    MANAGE_USERS = "manage_users"


class Role(enum.Enum):
    """A user's role; each role includes the one before."""

    READER = "reader"
    EDITOR = "editor"
    ADMIN = "admin"

    def allows(self, permission: Permission) -> bool:
        """Whether this role grants `permission`."""
        return permission in ROLE_PERMISSIONS[self]


ROLE_PERMISSIONS = MappingProxyType(
    {
        Role.READER: frozenset({Permission.READ}),
        Role.EDITOR: frozenset({Permission.READ, Permission.WRITE}),
        Role.ADMIN: frozenset({Permission.READ, Permission.WRITE, Permission.MANAGE_USERS}),
    }
)
"""The role x permission table."""


def hash_api_key(api_key: str) -> str:
    """The SHA-256 (hex) of the whole key: the only form of a key that is ever stored."""
    return hashlib.sha256(api_key.encode("ascii")).hexdigest()


def validate_user_name(name: object) -> str:
    """Return a user name: 1 to 128 characters without control characters.

    Raises:
        ValidationError: empty, too long or containing control characters.
    """
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > MAX_USER_NAME_LENGTH
        or any(unicodedata.category(char) == "Cc" for char in name)
    ):
        raise ValidationError(
            f"name must be 1 to {MAX_USER_NAME_LENGTH} characters without control characters",
            field="name",
        )
    return name


@attrs.frozen(kw_only=True)
class Actor:
    """Who made a change: an API caller (`user_id`, `name`) or a processor (`system`)."""

    user_id: UserId | None = None
    name: str | None = None
    system: str | None = None

    @classmethod
    def of_system(cls, function: str) -> Actor:
        """A processor, named by its function (`ingest`, `reconcile`, `transfer`)."""
        return cls(system=function)


@attrs.frozen(kw_only=True)
class Principal:
    """The authenticated caller."""

    user_id: UserId
    name: str
    role: Role

    @property
    def actor(self) -> Actor:
        """The caller as the author of a change."""
        return Actor(user_id=self.user_id, name=self.name)

    def require(self, permission: Permission) -> None:
        """Raise unless the caller's role grants `permission`.

        Raises:
            ForbiddenError: the role does not allow it.
        """
        if not self.role.allows(permission):
            raise ForbiddenError(f"the {self.role.value} role cannot {permission.value}")


@attrs.frozen(kw_only=True)
class User:
    """Someone who calls the API with an API key; only the key's hash is kept."""

    id: UserId
    name: str
    role: Role
    disabled: bool
    key_hash: str
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def is_enabled_admin(self) -> bool:
        """Whether this user counts towards the enabled admins that must never reach zero."""
        return self.role is Role.ADMIN and not self.disabled

    def principal(self) -> Principal:
        """The caller this user authenticates as."""
        return Principal(user_id=self.id, name=self.name, role=self.role)

    def change(self, *, role: Role | None, disabled: bool | None, now: datetime) -> User:
        """A copy with the role and/or enabled flag changed (same object when nothing changes)."""
        new_role = self.role if role is None else role
        new_disabled = self.disabled if disabled is None else disabled
        if (new_role, new_disabled) == (self.role, self.disabled):
            return self
        return attrs.evolve(
            self, role=new_role, disabled=new_disabled, updated_at=now, version=self.version + 1
        )

    def with_key(self, key_hash: str, now: datetime) -> User:
        """A copy whose API key is replaced."""
        return attrs.evolve(self, key_hash=key_hash, updated_at=now, version=self.version + 1)
