"""Domain layer: archive states, storage classes, restore tiers and the one transition table."""

from __future__ import annotations

import enum
from datetime import timedelta
from types import MappingProxyType

from kumocms.errors import IllegalTransitionError, InvalidRestoreRequestError


class ArchiveState(enum.Enum):
    """Where a document's content is in its life."""

    PENDING = "pending"
    """The record exists; the content has not been confirmed yet."""
    ACTIVE = "active"
    """The content is in a hot storage class and readable."""
    ARCHIVED = "archived"
    """The content is in GLACIER or DEEP_ARCHIVE and must be restored before reading."""
    ARCHIVING = "archiving"
    """The transfer worker is copying the content to a Glacier class; it stays readable."""
    RESTORING = "restoring"
    """A restore has been requested and has not completed."""
    RESTORED = "restored"
    """A temporary readable copy exists until the restore expires."""
    REJECTED = "rejected"
    """The arrived content differed from what was declared and was deleted (terminal)."""


class Action(enum.Enum):
    """Everything that can happen to a document, as named in the transition table."""

    CONFIRM_UPLOAD = "confirm_upload"
    REJECT_UPLOAD = "reject_upload"
    UPDATE_METADATA = "update_metadata"
    REPLACE = "replace"
    CONFIRM_REPLACE = "confirm_replace"
    REJECT_REPLACE = "reject_replace"
    ARCHIVE = "archive"
    START_ARCHIVE = "start_archive"
    COMMIT_ARCHIVE = "commit_archive"
    START_PERMANENT = "start_permanent"
    FAIL_COPY = "fail_copy"
    CANCEL_COPY = "cancel_copy"
    REQUEST_RESTORE = "request_restore"
    EXTEND_RESTORE = "extend_restore"
    COMPLETE_RESTORE = "complete_restore"
    MAKE_PERMANENT = "make_permanent"
    EXPIRE_RESTORE = "expire_restore"
    DELETE = "delete"
    EXPIRE_UPLOAD = "expire_upload"
    ABORT_UPLOAD = "abort_upload"
    UNDELETE = "undelete"
    PURGE = "purge"
    RESTORE_REVISION = "restore_revision"
    START_REVISION_RESTORE = "start_revision_restore"
    COMMIT_REVISION_RESTORE = "commit_revision_restore"
    SET_LEGAL_HOLD = "set_legal_hold"
    RECORD_HOLDS = "record_holds"


_P, _A, _AR = ArchiveState.PENDING, ArchiveState.ACTIVE, ArchiveState.ARCHIVED
_RG, _RD, _RJ = ArchiveState.RESTORING, ArchiveState.RESTORED, ArchiveState.REJECTED
_AG = ArchiveState.ARCHIVING

TRANSITIONS: MappingProxyType[Action, MappingProxyType[ArchiveState, ArchiveState]] = (
    MappingProxyType(
        {
            action: MappingProxyType(moves)
            for action, moves in {
                Action.CONFIRM_UPLOAD: {_P: _A},
                Action.REJECT_UPLOAD: {_P: _RJ},
                Action.UPDATE_METADATA: {_P: _P, _A: _A, _AG: _AG, _AR: _AR, _RG: _RG, _RD: _RD},
                Action.REPLACE: {_A: _A},
                Action.CONFIRM_REPLACE: {_A: _A},
                Action.REJECT_REPLACE: {_A: _A},
                Action.ARCHIVE: {_A: _AR},
                Action.START_ARCHIVE: {_A: _AG},
                Action.COMMIT_ARCHIVE: {_AG: _AR},
                Action.START_PERMANENT: {_RD: _RD},
                Action.FAIL_COPY: {_AG: _A, _RD: _RD, _A: _A},
                Action.CANCEL_COPY: {_AG: _A, _RD: _RD, _A: _A},
                Action.REQUEST_RESTORE: {_AR: _RG, _RG: _RG},
                Action.EXTEND_RESTORE: {_RD: _RD},
                Action.COMPLETE_RESTORE: {_RG: _RD, _AR: _RD},
                Action.MAKE_PERMANENT: {_RD: _A},
                Action.EXPIRE_RESTORE: {_RD: _AR, _RG: _AR},
                Action.DELETE: {_P: _P, _A: _A, _AG: _AG, _AR: _AR, _RG: _RG, _RD: _RD, _RJ: _RJ},
                Action.EXPIRE_UPLOAD: {_P: _P},
                Action.ABORT_UPLOAD: {_P: _P},
                Action.UNDELETE: {_A: _A, _AR: _AR, _RG: _RG, _RD: _RD, _RJ: _RJ},
                Action.PURGE: {_A: _A, _AR: _AR, _RG: _RG, _RD: _RD, _RJ: _RJ},
                Action.RESTORE_REVISION: {_A: _A},
                Action.START_REVISION_RESTORE: {_A: _A},
                Action.COMMIT_REVISION_RESTORE: {_A: _A},
                Action.SET_LEGAL_HOLD: {_A: _A, _AG: _AG, _AR: _AR, _RG: _RG, _RD: _RD, _RJ: _RJ},
                Action.RECORD_HOLDS: {_A: _A, _AG: _AG, _AR: _AR, _RG: _RG, _RD: _RD, _RJ: _RJ},
            }.items()
        }
    )
)
"""For each action, the states it may start from and the state it leads to. DELETE and
EXPIRE_UPLOAD end the document's life; their target is the state the record is removed in.
DELETE puts the document in the trash (§11) in the state it had (a copy it waited for is
cancelled first); UNDELETE takes it out; PURGE marks it purged (its objects, then its record,
are deleted); ABORT_UPLOAD removes the record.
A copy by the transfer worker starts with START_ARCHIVE or START_PERMANENT and ends with
COMMIT_ARCHIVE or MAKE_PERMANENT, or with FAIL_COPY / CANCEL_COPY back in the state it started
from; nothing else leaves ARCHIVING but DELETE, so a document is never stuck there."""


def transition(state: ArchiveState, action: Action) -> ArchiveState:
    """Return the state `action` leads to from `state`.

    Raises:
        IllegalTransitionError: the table has no such move.
    """
    target = TRANSITIONS[action].get(state)
    if target is None:
        raise IllegalTransitionError(
            f"cannot {action.value.replace('_', ' ')} a document that is {state.value}",
            state=state.value,
            action=action.value,
        )
    return target


def allows(state: ArchiveState, action: Action) -> bool:
    """Whether the table has a move for `action` from `state`."""
    return state in TRANSITIONS[action]


class StorageClass(enum.Enum):
    """S3 storage classes a document's content can be in."""

    STANDARD = "STANDARD"
    GLACIER = "GLACIER"
    DEEP_ARCHIVE = "DEEP_ARCHIVE"

    @property
    def is_archive(self) -> bool:
        """Whether reading needs a restore first."""
        return self is not StorageClass.STANDARD


class RestoreTier(enum.Enum):
    """Glacier retrieval tiers."""

    EXPEDITED = "Expedited"
    STANDARD = "Standard"
    BULK = "Bulk"

    def window(self, storage_class: StorageClass) -> timedelta:
        """The longest time AWS documents for this tier and class.

        Raises:
            InvalidRestoreRequestError: the tier does not exist for that class.
        """
        window = _RESTORE_WINDOWS.get((storage_class, self))
        if window is None:
            raise InvalidRestoreRequestError(
                f"the {self.value} tier is not available for {storage_class.value}",
                field="tier",
            )
        return window


_RESTORE_WINDOWS = {
    (StorageClass.GLACIER, RestoreTier.EXPEDITED): timedelta(minutes=5),
    (StorageClass.GLACIER, RestoreTier.STANDARD): timedelta(hours=5),
    (StorageClass.GLACIER, RestoreTier.BULK): timedelta(hours=12),
    (StorageClass.DEEP_ARCHIVE, RestoreTier.STANDARD): timedelta(hours=12),
    (StorageClass.DEEP_ARCHIVE, RestoreTier.BULK): timedelta(hours=48),
}
