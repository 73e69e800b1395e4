"""The one place that knows psycopg's exceptions: each maps to a `StoreError` here.

Classified by SQLSTATE alone, never by the constraint named in the diagnostics nor by
message text: through Citus a worker's unique violation arrives without the constraint
name field, its message naming the shard's copy of the constraint. A unique violation
is a `ConflictError` here; the store, which knows which unique index each of its
statements can violate, says which promise was broken (`create_key`: the hash is
taken) or asks the database what happened (`SELECT_CHAIN_VERSION_TAKEN`). Messages
never carry the DSN's password: libpq does not put it in its own messages, and every
text taken from the driver is scrubbed of it anyway.
"""

from __future__ import annotations

from typing import Final

import psycopg
from psycopg import errors as pg
from psycopg_pool import PoolTimeout, TooManyRequests

from skillbox_store.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    StoreError,
    UnavailableError,
)

__all__ = [
    "PREPARED_BEHIND_POOLER",
    "is_dead_connection",
    "is_foreign_key_violation",
    "is_lock_timeout",
    "is_missing_table",
    "is_session_terminated",
    "is_statement_mixup",
    "is_unique_violation",
    "scrub",
    "translate",
]

PREPARED_BEHIND_POOLER: Final = (
    "PostgreSQL: a prepared statement was met on a server connection it was not prepared "
    "on (SQLSTATE {sqlstate}: {detail}); a transaction-pooling proxy such as PgBouncer "
    "stands between the store and the server, where prepared statements can run another "
    "client's query: open the store with prepare_threshold=None (?prepare_threshold=none "
    "in the URL), the default"
)

# SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57 operator
# intervention (server shutting down, session terminated), 58 system error.
_UNAVAILABLE_CLASSES: Final = frozenset({"08", "53", "57", "58"})
# The server ended the session before our statement ran (restart, pg_terminate_backend):
# it never executed, so running it again on a fresh connection is safe even for writes.
_SESSION_TERMINATED: Final = frozenset({"57P01", "57P02", "57P03"})
# What a connection's prepared statements meet on a server connection that is not the
# one they were prepared on (a transaction-pooling proxy hands each transaction any
# server connection): the name is unknown there (26000), already taken by another
# client's statement (42P05), or taken by one of another shape (08P01, "bind message
# supplies 3 parameters, but prepared statement requires 14"). The connection is alive:
# retrying would only meet the same mix-up, and a same-shaped statement of another
# client runs silently, so the only remedy is not to prepare.
_STATEMENT_MIXUP: Final = frozenset({"26000", "42P05", "08P01"})


def scrub(text: str, password: str | None) -> str:
    """Return ``text`` with ``password`` replaced by ``***``."""
    if password:
        text = text.replace(password, "***")
    return text


def is_unique_violation(exc: BaseException | None) -> bool:
    """Tell whether ``exc`` is a unique violation (23505), whichever index it hit."""
    return isinstance(exc, pg.UniqueViolation)


def is_foreign_key_violation(exc: BaseException | None) -> bool:
    """Tell whether ``exc`` is a foreign-key violation (23503), whichever key it hit."""
    return isinstance(exc, pg.ForeignKeyViolation)


def is_missing_table(exc: BaseException | None) -> bool:
    """Tell whether ``exc`` is a statement on a table that does not exist (42P01)."""
    return isinstance(exc, pg.UndefinedTable)


def is_lock_timeout(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a lock not granted within ``lock_timeout`` (55P03)."""
    return isinstance(exc, pg.LockNotAvailable)


def is_dead_connection(exc: psycopg.Error) -> bool:
    """Tell whether ``exc`` means the connection died (not the statement failed).

    Statement timeouts and the like (57014) are not: running them again would only
    double the wait. Nor is a protocol violation (08P01): the server answered, and the
    connection is alive (behind a pooler it is a prepared-statement mix-up).
    """
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return (state.startswith("08") and state != "08P01") or state in _SESSION_TERMINATED


def is_statement_mixup(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a prepared statement met on the wrong server connection."""
    return isinstance(exc, psycopg.Error) and exc.sqlstate in _STATEMENT_MIXUP


def is_session_terminated(exc: psycopg.Error) -> bool:
    """Tell whether the server ended the session before the statement ran."""
    return exc.sqlstate in _SESSION_TERMINATED


def translate(
    exc: BaseException,
    *,
    password: str | None = None,
    referenced: type[StoreError] = NotFoundError,
    prepared: bool = False,
) -> StoreError:
    """Return the `StoreError` that stands for a driver or pool exception.

    ``referenced`` is the error of a foreign-key violation: `NotFoundError` when a new
    row names a missing parent or execution, `ConflictError` when a deleted row is
    still named by another. ``prepared`` says the connection prepares statements, so
    that a statement mix-up is named as what it is: a pooler between store and server.
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
    if prepared and is_statement_mixup(exc):
        return StoreError(PREPARED_BEHIND_POOLER.format(sqlstate=exc.sqlstate, detail=detail))
    if isinstance(exc, pg.UniqueViolation):
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
