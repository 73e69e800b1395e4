"""The exceptions a store raises on purpose.

Every backend raises these and only these: a driver's own exception never leaves a
`Store` method. Each name says which promise of the contract was broken.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "AlreadyFinishedError",
    "AlreadyRevokedError",
    "ConflictError",
    "InvalidArgumentError",
    "MigrationError",
    "NotFoundError",
    "StoreError",
    "UnavailableError",
]


class StoreError(Exception):
    """Base of every error a store raises on purpose."""


class NotFoundError(StoreError, LookupError):
    """The record does not exist for this tenant, or its id is not a well-formed UUID.

    Another tenant's record is indistinguishable from a missing one.
    """


class ConflictError(StoreError):
    """The write contradicts what is stored."""


class AlreadyExistsError(ConflictError):
    """A record with the same unique key (an API key's hash) is already stored."""


class AlreadyRevokedError(ConflictError):
    """The API key was revoked before; a key is revoked once."""


class AlreadyFinishedError(ConflictError):
    """The execution is no longer `running`; an execution finishes once."""


class InvalidArgumentError(StoreError, ValueError):
    """The input breaks a rule of the contract; the message names the field.

    Raised before anything is written, so the store is unchanged.
    """


class UnavailableError(StoreError):
    """The database cannot be reached, or no connection was free within the timeout."""


class MigrationError(StoreError):
    """The schema cannot be brought to the version this code expects.

    Also raised when a released migration file was changed, or when the database was
    migrated by a newer version of this library.
    """
