"""Domain layer: users and API keys — create, authenticate, change, rotate, delete."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

import attrs

from kumocms.deferred import Deferred
from kumocms.errors import AuthenticationError, LastAdminError, ValidationError
from kumocms.ids import UserId
from kumocms.ports import Ports
from kumocms.rules import validate_api_key_format
from kumocms.users import Permission, Principal, Role, User, hash_api_key, validate_user_name

if TYPE_CHECKING:
    from kumocms import events as ev
    from kumocms.portvalues import UserPage
else:
    ev = Deferred("kumocms.events")

_UNAUTHORIZED = "a valid API key is required"


@attrs.frozen(kw_only=True)
class IssuedKey:
    """A user with the raw API key, which exists only in this result."""

    user: User
    api_key: str = attrs.field(repr=False)


def authenticate(ports: Ports, api_key: str | None) -> Principal:
    """The caller an API key belongs to.

    One lookup by the key's SHA-256 and a constant-time comparison of the hashes; a missing,
    malformed, unknown, disabled or revoked key all raise the same error.

    Raises:
        AuthenticationError: the key does not authenticate anyone.
    """
    try:
        key = validate_api_key_format(api_key)
    except ValidationError:
        raise AuthenticationError(_UNAUTHORIZED) from None
    key_hash = hash_api_key(key)
    user = ports.users.find_by_key_hash(key_hash)
    if user is None or not hmac.compare_digest(user.key_hash, key_hash) or user.disabled:
        raise AuthenticationError(_UNAUTHORIZED)
    return user.principal()


def create_user(ports: Ports, actor: Principal, *, name: str, role: Role) -> IssuedKey:
    """Create a user with a fresh API key (returned once, stored only as its hash)."""
    actor.require(Permission.MANAGE_USERS)
    return _create(ports, name=name, role=role, api_key=ports.ids.api_key())


def bootstrap_admin(ports: Ports, *, name: str, api_key: str | None = None) -> IssuedKey:
    """Create an admin without a caller (what an operator runs once after deploying).

    Raises:
        ValidationError: the given key or name breaks the rules.
    """
    key = ports.ids.api_key() if api_key is None else validate_api_key_format(api_key)
    return _create(ports, name=name, role=Role.ADMIN, api_key=key)


def list_users(
    ports: Ports, actor: Principal, *, limit: int = 50, cursor: str | None = None
) -> UserPage:
    """Users in id order, one page at a time."""
    actor.require(Permission.MANAGE_USERS)
    if isinstance(limit, bool) or not 1 <= limit <= ports.settings.list_max_limit:
        raise ValidationError(
            f"limit must be from 1 to {ports.settings.list_max_limit}", field="limit"
        )
    return ports.users.list(limit=limit, cursor=cursor)


def get_user(ports: Ports, actor: Principal, user_id: UserId) -> User:
    """One user.

    Raises:
        UserNotFoundError: no such user.
    """
    actor.require(Permission.MANAGE_USERS)
    return ports.users.get(user_id)


def update_user(
    ports: Ports,
    actor: Principal,
    user_id: UserId,
    *,
    role: Role | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's role and/or disable or enable them.

    Raises:
        LastAdminError: no enabled admin would remain.
    """
    actor.require(Permission.MANAGE_USERS)
    user = ports.users.get(user_id)
    changed = user.change(role=role, disabled=disabled, now=ports.clock.now())
    if changed is user:
        return user
    if user.is_enabled_admin and not changed.is_enabled_admin:
        _ensure_another_admin(ports)
    ports.users.save(changed, previous=user)
    ports.events.publish(
        [
            ev.UserChanged(
                occurred_at=changed.updated_at,
                user_id=user.id,
                role=changed.role.value,
                disabled=changed.disabled,
            )
        ]
    )
    return changed


def delete_user(ports: Ports, actor: Principal, user_id: UserId) -> None:
    """Delete a user; their key stops working.

    Raises:
        LastAdminError: they are the last enabled admin.
    """
    actor.require(Permission.MANAGE_USERS)
    user = ports.users.get(user_id)
    if user.is_enabled_admin:
        _ensure_another_admin(ports)
    ports.users.remove(user)
    ports.events.publish([ev.UserDeleted(occurred_at=ports.clock.now(), user_id=user.id)])


def rotate_key(ports: Ports, actor: Principal, user_id: UserId) -> IssuedKey:
    """Give a user a new API key; the old one stops working."""
    actor.require(Permission.MANAGE_USERS)
    user = ports.users.get(user_id)
    api_key = ports.ids.api_key()
    rotated = user.with_key(hash_api_key(api_key), ports.clock.now())
    ports.users.save(rotated, previous=user)
    ports.events.publish([ev.ApiKeyRotated(occurred_at=rotated.updated_at, user_id=user.id)])
    return IssuedKey(user=rotated, api_key=api_key)


def _create(ports: Ports, *, name: str, role: Role, api_key: str) -> IssuedKey:
    now = ports.clock.now()
    user = User(
        id=ports.ids.user_id(),
        name=validate_user_name(name),
        role=role,
        disabled=False,
        key_hash=hash_api_key(api_key),
        created_at=now,
        updated_at=now,
    )
    ports.users.add(user)
    ports.events.publish([ev.UserCreated(occurred_at=now, user_id=user.id, role=role.value)])
    return IssuedKey(user=user, api_key=api_key)


def _ensure_another_admin(ports: Ports) -> None:
    if ports.users.count_enabled_admins() <= 1:
        raise LastAdminError("the last enabled admin cannot be disabled, demoted or deleted")
