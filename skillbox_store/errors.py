"""The exceptions a store raises on purpose.

Every backend raises these and only these: a driver's own exception never leaves a
`Store` method. Each name says which promise of the contract was broken.
"""

from __future__ import annotations

from typing import Final

from skillbox_store.urls import redact_url

__all__ = [
    "OUTER_STORE_IN_TRANSACTION",
    "AlreadyExistsError",
    "AlreadyFinishedError",
    "AlreadyRevokedError",
    "ConflictError",
    "InvalidArgumentError",
    "MigrationError",
    "NotFoundError",
    "SchemaOutdatedError",
    "StoreError",
    "UnavailableError",
    "already_finished",
    "already_revoked",
    "hash_taken",
    "not_found",
    "not_in_listing",
    "shown",
    "still_a_parent",
    "version_misplaced",
    "version_not_above_parent",
    "version_taken",
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


class SchemaOutdatedError(MigrationError):
    """The database's schema is older than this code, and the store was not migrated.

    Raised by `open_store` with ``migrate=False``, and by a store built around a
    connection or pool of the caller at its first call (other than `ping` and
    `schema_version`). The message names the version found, the version needed and the
    command that migrates the database; ``found`` and ``needed`` hold the two versions.
    """

    def __init__(self, found: int, needed: int, url: str | None = None) -> None:
        # Without a URL (a store built around the caller's connection or pool), the
        # message still names the command, with URL left for the caller to fill in.
        shown_url = redact_url(url) if url else None
        where = f"the schema of {shown_url}" if shown_url else "the database's schema"
        super().__init__(
            f"{where} is at version {found}, this skillbox-store needs version {needed}: "
            f"run `skillbox-store migrate {shown_url or 'URL'}`, or open the store with "
            "migrations on"
        )
        self.found = found
        self.needed = needed


# -- the wording every backend shares -----------------------------------------------------
# One text per kind of failure, whichever backend raises it: a caller (or a test) that
# reads a message learns nothing about which backend is underneath.

OUTER_STORE_IN_TRANSACTION: Final = (
    "this task has a transaction open on the store: inside the block, use the "
    "transaction's store (tx), and tx.transaction() to nest"
)
"""The `StoreError` of a call through the outer store from inside its own transaction block."""


def shown(value: object) -> str:
    """Render a caller's value for a message: short, and without calling its own code.

    A value may be megabytes long, an int too long for `str`, or an object whose
    ``__repr__`` raises; none of that may turn a refusal into another error.
    """
    if type(value) is str:
        if len(value) <= 40:
            return repr(value)
        return f"{value[:40]!r}… ({len(value)} characters)"
    if type(value) is int and -(10**20) < value < 10**20:
        return str(value)
    return f"a value of type {type(value).__name__}"


def not_found(tenant_id: object, what: str) -> NotFoundError:
    """Return the `NotFoundError` for a record the tenant does not have.

    The one wording on every backend, for a missing record and a malformed id alike:
    ``tenant 'acme' has no execution '8c0e…'``. ``what`` names the record, its values
    rendered with `shown`: ``f"execution {shown(execution_id)}"``,
    ``f"session with external id {shown(external_id)}"``.
    """
    return NotFoundError(f"tenant {shown(tenant_id)} has no {what}")


def not_in_listing(tenant_id: object, record: str, after: object) -> NotFoundError:
    """Return the `NotFoundError` for a paging cursor that names no record of the listing.

    `not_found`'s words, ``after`` rendered with `shown`, and what it was given for:
    ``tenant 'acme' has no execution '8c0e…' to list after``.
    """
    return not_found(tenant_id, f"{record} {shown(after)} to list after")


# -- the ConflictError family: one text each, whichever backend found the conflict --------


def hash_taken() -> AlreadyExistsError:
    """Return the `AlreadyExistsError` of `create_key` with a hash that is stored already.

    The hash is not repeated: it identifies a key across tenants.
    """
    return AlreadyExistsError("an API key with this hash already exists")


def already_revoked(key_id: object) -> AlreadyRevokedError:
    """Return the `AlreadyRevokedError` of revoking a revoked key.

    ``API key '8c0e…' is already revoked``.
    """
    return AlreadyRevokedError(f"API key {shown(key_id)} is already revoked")


def already_finished(execution_id: object, status: object) -> AlreadyFinishedError:
    """Return the `AlreadyFinishedError` of updating an execution that is not `running`.

    ``execution '…' already finished with status 'success'``.
    """
    return AlreadyFinishedError(
        f"execution {shown(execution_id)} already finished with status {shown(status)}"
    )


def version_taken(version: object) -> ConflictError:
    """Return the `ConflictError` of a new file whose version its parent's chain uses."""
    return ConflictError(f"version {shown(version)} is already in the file's chain")


def version_not_above_parent(version: object, parent_version: object) -> ConflictError:
    """Return the `ConflictError` of a new file whose version is not above its parent's."""
    return ConflictError(
        f"version {shown(version)} must be greater than the parent's ({shown(parent_version)})"
    )


def version_misplaced(version: object) -> ConflictError:
    """Return the `ConflictError` of `update_file` moving a version out of its chain's order.

    One text for the three ways (used in the chain, not above the parent's, not below a
    child's): PostgreSQL decides all three in one statement and cannot tell them apart
    without another round trip, and the caller's remedy is the same.
    """
    return ConflictError(
        f"version {shown(version)} does not fit the file's chain: it must be unused there, "
        "greater than the parent's and smaller than every child's"
    )


def still_a_parent(file_id: object) -> ConflictError:
    """Return the `ConflictError` of deleting a file that a later version names as parent."""
    return ConflictError(f"file {shown(file_id)} is the parent of a later version")
