"""The one place that knows psycopg's exceptions: each maps to a `StoreError` here.

Classified by SQLSTATE and, for integrity errors, by the constraint named in the
diagnostics (the names are set in the migrations), never by message text. Messages
never carry the DSN's password: libpq does not put it in its own messages, and every
text taken from the driver is scrubbed of it anyway.
"""

from __future__ import annotations

from typing import Final

import psycopg
from psycopg import errors as pg
from psycopg_pool import PoolTimeout, TooManyRequests

from skillbox_store.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    StoreError,
    UnavailableError,
)

__all__ = [
    "CHAIN_VERSION_CONSTRAINT",
    "KEY_HASH_CONSTRAINT",
    "is_chain_version_taken",
    "is_dead_connection",
    "is_lock_timeout",
    "is_missing_table",
    "is_session_terminated",
    "scrub",
    "translate",
]

KEY_HASH_CONSTRAINT: Final = "api_keys_key_hash_key"
CHAIN_VERSION_CONSTRAINT: Final = "files_chain_version_key"

# SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57 operator
# intervention (server shutting down, session terminated), 58 system error.
_UNAVAILABLE_CLASSES: Final = frozenset({"08", "53", "57", "58"})
# The server ended the session before our statement ran (restart, pg_terminate_backend):
# it never executed, so running it again on a fresh connection is safe even for writes.
_SESSION_TERMINATED: Final = frozenset({"57P01", "57P02", "57P03"})


def scrub(text: str, password: str | None) -> str:
    """Return ``text`` with ``password`` replaced by ``***``."""
    if password:
        text = text.replace(password, "***")
    return text


def _constraint(exc: psycopg.Error) -> str | None:
    return exc.diag.constraint_name


def is_chain_version_taken(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a version already used in a file chain."""
    return isinstance(exc, pg.UniqueViolation) and _constraint(exc) == CHAIN_VERSION_CONSTRAINT


def is_missing_table(exc: BaseException | None) -> bool:
    """Tell whether ``exc`` is a statement on a table that does not exist (42P01)."""
    return isinstance(exc, pg.UndefinedTable)


def is_lock_timeout(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a lock not granted within ``lock_timeout`` (55P03)."""
    return isinstance(exc, pg.LockNotAvailable)


def is_dead_connection(exc: psycopg.Error) -> bool:
    """Tell whether ``exc`` means the connection died (not the statement failed).

    Statement timeouts and the like (57014) are not: running them again would only
    double the wait.
    """
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith("08") or state in _SESSION_TERMINATED


def is_session_terminated(exc: psycopg.Error) -> bool:
    """Tell whether the server ended the session before the statement ran."""
    return exc.sqlstate in _SESSION_TERMINATED


def translate(
    exc: BaseException,
    *,
    password: str | None = None,
    referenced: type[StoreError] = NotFoundError,
) -> StoreError:
    """Return the `StoreError` that stands for a driver or pool exception.

    ``referenced`` is the error of a foreign-key violation: `NotFoundError` when a new
    row names a missing parent or execution, `ConflictError` when a deleted row is
    still named by another.
    """
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, PoolTimeout | TooManyRequests):
        return UnavailableError(f"PostgreSQL: no pooled connection became free in time ({exc})")
    if not isinstance(exc, psycopg.Error):
        return StoreError(
            f"PostgreSQL: unexpected {type(exc).__name__}: {scrub(str(exc), password)}"
        )
    detail = scrub(str(exc).strip(), password)
    if isinstance(exc, pg.UniqueViolation):
        if _constraint(exc) == KEY_HASH_CONSTRAINT:
            return AlreadyExistsError("an API key with this hash already exists")
        if _constraint(exc) == CHAIN_VERSION_CONSTRAINT:
            return ConflictError("this version is already used in the file's chain")
        return ConflictError(f"the write conflicts with a stored record: {detail}")
    if isinstance(exc, pg.ForeignKeyViolation):
        if referenced is NotFoundError:
            return NotFoundError(f"a referenced record does not exist for the tenant: {detail}")
        return referenced(f"the record is still referenced: {detail}")
    if isinstance(exc, pg.InvalidTextRepresentation):
        # Validation rejects malformed uuids first; this is the safety net.
        return NotFoundError(f"no record has this id: {detail}")
    if isinstance(exc, pg.CheckViolation | pg.NotNullViolation | pg.DataException):
        return InvalidArgumentError(f"PostgreSQL refused a value: {detail}")
    if isinstance(exc, pg.LockNotAvailable):
        return UnavailableError(f"PostgreSQL: a lock was not granted in time: {detail}")
    if isinstance(exc, pg.InvalidPassword | pg.InvalidAuthorizationSpecification):
        return UnavailableError(f"PostgreSQL refused the credentials: {detail}")
    if is_dead_connection(exc) or (exc.sqlstate or "")[:2] in _UNAVAILABLE_CLASSES:
        return UnavailableError(f"PostgreSQL is unavailable: {detail}")
    return StoreError(f"PostgreSQL error {exc.sqlstate or ''}: {detail}".replace("  ", " "))
