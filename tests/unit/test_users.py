"""Users: keys shown once and stored as hashes, authentication, roles, the last admin."""

from __future__ import annotations

import pytest

from kumocms.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidApiKeyError,
    LastAdminError,
    UserNotFoundError,
    ValidationError,
)
from kumocms.ids import UserId
from kumocms.usecases.users import (
    authenticate,
    bootstrap_admin,
    create_user,
    delete_user,
    get_user,
    list_users,
    rotate_key,
    update_user,
)
from kumocms.users import API_KEY_PREFIX, ROLE_PERMISSIONS, Permission, Role, hash_api_key
from tests.unit.conftest import World


def test_role_permission_table() -> None:
    assert ROLE_PERMISSIONS[Role.READER] == {Permission.READ}
    assert ROLE_PERMISSIONS[Role.EDITOR] == {Permission.READ, Permission.WRITE}
    assert ROLE_PERMISSIONS[Role.ADMIN] == set(Permission)


def test_bootstrap_and_authenticate(world: World) -> None:
    issued = bootstrap_admin(world.ports, name="root")
    assert issued.api_key.startswith(API_KEY_PREFIX)
    assert issued.user.key_hash == hash_api_key(issued.api_key)
    assert issued.api_key not in repr(issued)
    principal = authenticate(world.ports, issued.api_key)
    assert principal.role is Role.ADMIN
    assert principal.user_id == issued.user.id


def test_bootstrap_with_a_chosen_key(world: World) -> None:
    issued = bootstrap_admin(world.ports, name="root", api_key="my-local-admin-key-123")
    assert authenticate(world.ports, "my-local-admin-key-123").user_id == issued.user.id
    with pytest.raises(InvalidApiKeyError):
        bootstrap_admin(world.ports, name="root", api_key="short")


@pytest.mark.parametrize("key", [None, "", "short", "x" * 200, "kumo_" + "0" * 43, "bad key " * 4])
def test_bad_and_unknown_keys_all_fail_the_same_way(world: World, key: str | None) -> None:
    bootstrap_admin(world.ports, name="root")
    with pytest.raises(AuthenticationError) as failure:
        authenticate(world.ports, key)
    assert str(failure.value) == "a valid API key is required"


def test_disabled_and_rotated_keys_stop_working(world: World) -> None:
    admin = bootstrap_admin(world.ports, name="root")
    actor = authenticate(world.ports, admin.api_key)
    editor = create_user(world.ports, actor, name="ed", role=Role.EDITOR)
    assert authenticate(world.ports, editor.api_key).role is Role.EDITOR
    rotated = rotate_key(world.ports, actor, editor.user.id)
    with pytest.raises(AuthenticationError):
        authenticate(world.ports, editor.api_key)
    assert authenticate(world.ports, rotated.api_key).user_id == editor.user.id
    update_user(world.ports, actor, editor.user.id, disabled=True)
    with pytest.raises(AuthenticationError):
        authenticate(world.ports, rotated.api_key)
    update_user(world.ports, actor, editor.user.id, disabled=False)
    assert authenticate(world.ports, rotated.api_key)
    delete_user(world.ports, actor, editor.user.id)
    with pytest.raises(AuthenticationError):
        authenticate(world.ports, rotated.api_key)
    with pytest.raises(UserNotFoundError):
        get_user(world.ports, actor, editor.user.id)


def test_only_admins_manage_users(world: World) -> None:
    for actor in (world.reader, world.editor):
        with pytest.raises(ForbiddenError):
            create_user(world.ports, actor, name="x", role=Role.READER)
        with pytest.raises(ForbiddenError):
            list_users(world.ports, actor)


def test_last_enabled_admin_cannot_be_disabled_demoted_or_deleted(world: World) -> None:
    root = bootstrap_admin(world.ports, name="root")
    actor = authenticate(world.ports, root.api_key)
    for change in ({"disabled": True}, {"role": Role.EDITOR}):
        with pytest.raises(LastAdminError):
            update_user(world.ports, actor, root.user.id, **change)  # type: ignore[arg-type]
    with pytest.raises(LastAdminError):
        delete_user(world.ports, actor, root.user.id)
    second = create_user(world.ports, actor, name="two", role=Role.ADMIN)
    update_user(world.ports, actor, root.user.id, disabled=True)
    with pytest.raises(LastAdminError):
        delete_user(world.ports, authenticate(world.ports, second.api_key), second.user.id)


def test_list_users_pages(world: World) -> None:
    root = bootstrap_admin(world.ports, name="root")
    actor = authenticate(world.ports, root.api_key)
    for i in range(4):
        create_user(world.ports, actor, name=f"u{i}", role=Role.READER)
    first = list_users(world.ports, actor, limit=3)
    assert len(first.items) == 3
    assert first.next_cursor is not None
    second = list_users(world.ports, actor, limit=3, cursor=first.next_cursor)
    assert len(second.items) == 2
    assert second.next_cursor is None
    with pytest.raises(ValidationError):
        list_users(world.ports, actor, limit=0)


@pytest.mark.parametrize("name", ["", "   ", "x" * 129, "a\nb", 5])
def test_user_names_are_validated(world: World, name: object) -> None:
    root = bootstrap_admin(world.ports, name="root")
    actor = authenticate(world.ports, root.api_key)
    with pytest.raises(ValidationError):
        create_user(world.ports, actor, name=name, role=Role.READER)  # type: ignore[arg-type]


def test_unknown_user(world: World) -> None:
    root = bootstrap_admin(world.ports, name="root")
    actor = authenticate(world.ports, root.api_key)
    missing = UserId.parse("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    for call in (
        lambda: get_user(world.ports, actor, missing),
        lambda: rotate_key(world.ports, actor, missing),
        lambda: update_user(world.ports, actor, missing, disabled=True),
        lambda: delete_user(world.ports, actor, missing),
    ):
        with pytest.raises(UserNotFoundError):
            call()


def test_changes_that_change_nothing_are_not_saved(world: World) -> None:
    root = bootstrap_admin(world.ports, name="root")
    actor = authenticate(world.ports, root.api_key)
    same = update_user(world.ports, actor, root.user.id, role=Role.ADMIN, disabled=False)
    assert same.version == 1
