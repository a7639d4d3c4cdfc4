"""Contract: every UserRepository (in-memory fake and DynamoDB on moto) behaves the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import attrs
import pytest

from adapters.cursor import encode_cursor
from adapters.dynamodb import DynamoUserRepository
from adapters.memory import InMemoryUserRepository
from kumocms.errors import (
    AlreadyExistsError,
    InvalidCursorError,
    LastAdminError,
    UserNotFoundError,
    VersionConflictError,
)
from kumocms.ports import UserRepository
from kumocms.users import Role, User, hash_api_key
from tests.support.documents import T0, USERS_TABLE, api_key, document_id, make_user, moto_tables
from tests.support.documents import user_id as uid


@pytest.fixture(params=["memory", "dynamodb"])
def users(request: pytest.FixtureRequest) -> Iterator[UserRepository]:
    if request.param == "memory":
        yield InMemoryUserRepository()
        return
    with moto_tables() as client:
        yield DynamoUserRepository(client, USERS_TABLE)


LATER = T0 + timedelta(hours=1)


def change(user: User, *, role: Role | None = None, disabled: bool | None = None) -> User:
    changed = user.change(role=role, disabled=disabled, now=LATER)
    assert changed is not user
    return changed


# ---- lookups ---------------------------------------------------------------------------------


def test_get_missing_user(users: UserRepository) -> None:
    with pytest.raises(UserNotFoundError):
        users.get(uid(1))
    assert users.find_by_key_hash(hash_api_key(api_key(1))) is None


def test_add_then_find_by_id_and_by_key(users: UserRepository) -> None:
    user = make_user(1, role=Role.ADMIN)
    users.add(user)
    assert users.get(user.id) == user
    assert users.find_by_key_hash(hash_api_key(api_key(1))) == user
    assert users.find_by_key_hash(hash_api_key(api_key(2))) is None


def test_add_twice_is_refused(users: UserRepository) -> None:
    user = make_user(1)
    users.add(user)
    with pytest.raises(AlreadyExistsError):
        users.add(user)
    with pytest.raises(AlreadyExistsError):  # another user with the same key
        users.add(attrs.evolve(make_user(2), key_hash=user.key_hash))
    assert users.list(limit=10, cursor=None).items == (user,)


def test_save_changes_what_both_lookups_return(users: UserRepository) -> None:
    user = make_user(1)
    users.add(user)
    promoted = change(user, role=Role.ADMIN)
    users.save(promoted, previous=user)
    assert users.get(user.id) == promoted
    assert users.find_by_key_hash(user.key_hash) == promoted
    assert users.count_enabled_admins() == 1


def test_key_rotation_makes_the_old_hash_unknown(users: UserRepository) -> None:
    user = make_user(1)
    users.add(user)
    rotated = user.with_key(hash_api_key(api_key(1, generation=1)), LATER)
    users.save(rotated, previous=user)
    assert users.find_by_key_hash(user.key_hash) is None
    assert users.find_by_key_hash(rotated.key_hash) == rotated
    assert users.get(user.id) == rotated


def test_save_with_a_stale_version(users: UserRepository) -> None:
    user = make_user(1)
    users.add(user)
    users.save(change(user, role=Role.READER), previous=user)
    with pytest.raises(VersionConflictError) as caught:
        users.save(change(user, disabled=True), previous=user)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert users.get(user.id).role is Role.READER


def test_save_of_a_missing_user(users: UserRepository) -> None:
    user = make_user(1)
    with pytest.raises(UserNotFoundError):
        users.save(change(user, role=Role.READER), previous=user)


def test_remove_deletes_the_user_and_its_key(users: UserRepository) -> None:
    user = make_user(1)
    users.add(user)
    users.remove(user)
    with pytest.raises(UserNotFoundError):
        users.get(user.id)
    assert users.find_by_key_hash(user.key_hash) is None
    with pytest.raises(UserNotFoundError):
        users.remove(user)


def test_remove_with_a_stale_version(users: UserRepository) -> None:
    user = make_user(1)
    users.add(user)
    current = change(user, role=Role.READER)
    users.save(current, previous=user)
    with pytest.raises(VersionConflictError) as caught:
        users.remove(user)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert users.get(user.id) == current


# ---- the last enabled admin ------------------------------------------------------------------


def test_the_last_admin_cannot_be_disabled_demoted_or_removed(users: UserRepository) -> None:
    admin = make_user(1, role=Role.ADMIN)
    users.add(admin)
    users.add(make_user(2, role=Role.ADMIN, disabled=True))
    users.add(make_user(3, role=Role.EDITOR))
    assert users.count_enabled_admins() == 1
    with pytest.raises(LastAdminError):
        users.save(change(admin, disabled=True), previous=admin)
    with pytest.raises(LastAdminError):
        users.save(change(admin, role=Role.EDITOR), previous=admin)
    with pytest.raises(LastAdminError):
        users.remove(admin)
    assert users.get(admin.id) == admin
    assert users.find_by_key_hash(admin.key_hash) == admin
    assert users.count_enabled_admins() == 1
    rotated = admin.with_key(hash_api_key(api_key(1, generation=1)), LATER)
    users.save(rotated, previous=admin)  # an admin that stays one is fine
    assert users.count_enabled_admins() == 1


def test_a_second_admin_makes_the_first_one_free(users: UserRepository) -> None:
    first = make_user(1, role=Role.ADMIN)
    second = make_user(2, role=Role.ADMIN, disabled=True)
    users.add(first)
    users.add(second)
    enabled_second = change(second, disabled=False)
    users.save(enabled_second, previous=second)
    assert users.count_enabled_admins() == 2
    disabled_first = change(first, disabled=True)
    users.save(disabled_first, previous=first)
    assert users.count_enabled_admins() == 1
    with pytest.raises(LastAdminError):
        users.remove(enabled_second)
    users.remove(disabled_first)
    demoted = change(enabled_second, role=Role.READER)
    with pytest.raises(LastAdminError):
        users.save(demoted, previous=enabled_second)
    users.add(make_user(3, role=Role.ADMIN))
    assert users.count_enabled_admins() == 2
    users.save(demoted, previous=enabled_second)
    assert users.count_enabled_admins() == 1


def test_a_stale_version_wins_over_the_last_admin_rule(users: UserRepository) -> None:
    admin = make_user(1, role=Role.ADMIN)
    users.add(admin)
    rotated = admin.with_key(hash_api_key(api_key(1, generation=1)), LATER)
    users.save(rotated, previous=admin)
    with pytest.raises(VersionConflictError):
        users.save(change(admin, disabled=True), previous=admin)
    with pytest.raises(VersionConflictError):
        users.remove(admin)


def test_no_admins_counts_zero(users: UserRepository) -> None:
    assert users.count_enabled_admins() == 0
    users.add(make_user(1))
    assert users.count_enabled_admins() == 0


# ---- listing ---------------------------------------------------------------------------------


def test_list_in_id_order_across_pages(users: UserRepository) -> None:
    for n in (4, 1, 5, 3, 2):
        users.add(make_user(n))
    first = users.list(limit=2, cursor=None)
    assert [u.id for u in first.items] == [uid(1), uid(2)]
    assert first.next_cursor is not None
    second = users.list(limit=2, cursor=first.next_cursor)
    assert [u.id for u in second.items] == [uid(3), uid(4)]
    assert second.next_cursor is not None
    third = users.list(limit=2, cursor=second.next_cursor)
    assert [u.id for u in third.items] == [uid(5)]
    assert third.next_cursor is None
    assert users.list(limit=5, cursor=None).next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    ["", "nonsense", "e30", encode_cursor(document_id(1), scope="documents")],
)
def test_bad_cursors_are_refused(users: UserRepository, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        users.list(limit=2, cursor=cursor)
