"""The one place that knows sqlite3's exceptions: each becomes a `StoreError`.

Classified by ``sqlite_errorcode`` (the extended result code, Python >= 3.11), first by
its exact value, then by its primary code (the low byte), never by message text. The
contract's own errors (not found, already revoked…) are decided by the store from what
it reads in the same unit of work; this mapping only covers what the database refuses.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from skillbox_store.errors import (
    ConflictError,
    InvalidArgumentError,
    StoreError,
    UnavailableError,
)

__all__ = ["map_error"]

# Result codes from sqlite3.h; the sqlite3 module exports some of them only from 3.11
# on and not all, so they are spelled out here.
SQLITE_PERM: Final = 3
SQLITE_BUSY: Final = 5
SQLITE_LOCKED: Final = 6
SQLITE_NOMEM: Final = 7
SQLITE_READONLY: Final = 8
SQLITE_IOERR: Final = 10
SQLITE_CORRUPT: Final = 11
SQLITE_FULL: Final = 13
SQLITE_CANTOPEN: Final = 14
SQLITE_CONSTRAINT: Final = 19
SQLITE_NOTADB: Final = 26
SQLITE_CONSTRAINT_CHECK: Final = 275
SQLITE_CONSTRAINT_FOREIGNKEY: Final = 787
SQLITE_CONSTRAINT_NOTNULL: Final = 1299
SQLITE_CONSTRAINT_PRIMARYKEY: Final = 1555
SQLITE_CONSTRAINT_UNIQUE: Final = 2067
SQLITE_CONSTRAINT_DATATYPE: Final = 3091

_BY_EXTENDED_CODE: Final[dict[int, tuple[type[StoreError], str]]] = {
    SQLITE_CONSTRAINT_UNIQUE: (ConflictError, "the write duplicates a unique value"),
    SQLITE_CONSTRAINT_PRIMARYKEY: (ConflictError, "the write duplicates a unique value"),
    SQLITE_CONSTRAINT_FOREIGNKEY: (
        ConflictError,
        "the write would leave a reference to a missing record",
    ),
    SQLITE_CONSTRAINT_CHECK: (InvalidArgumentError, "a value is outside its allowed range"),
    SQLITE_CONSTRAINT_NOTNULL: (InvalidArgumentError, "a required value is missing"),
    SQLITE_CONSTRAINT_DATATYPE: (InvalidArgumentError, "a value has the wrong type"),
}

_BY_PRIMARY_CODE: Final[dict[int, tuple[type[StoreError], str]]] = {
    SQLITE_BUSY: (
        UnavailableError,
        "the database is locked by another connection and stayed locked past the busy timeout",
    ),
    SQLITE_LOCKED: (UnavailableError, "a table is locked by another connection"),
    SQLITE_CANTOPEN: (
        UnavailableError,
        "cannot open the database file (does its directory exist, is it writable?)",
    ),
    SQLITE_NOTADB: (UnavailableError, "the file is not a SQLite database"),
    SQLITE_CORRUPT: (UnavailableError, "the database file is corrupt"),
    SQLITE_READONLY: (UnavailableError, "the database is read-only"),
    SQLITE_PERM: (UnavailableError, "permission denied on the database"),
    SQLITE_IOERR: (UnavailableError, "disk I/O error on the database"),
    SQLITE_FULL: (UnavailableError, "the disk or the database is full"),
    SQLITE_NOMEM: (UnavailableError, "SQLite ran out of memory"),
    SQLITE_CONSTRAINT: (ConflictError, "the write breaks a constraint of the schema"),
}


def map_error(exc: sqlite3.Error, database: str) -> StoreError:
    """Return the `StoreError` that stands for ``exc``; the caller raises it ``from exc``.

    ``database`` names the file in the message (never a secret: SQLite URLs hold none).
    """
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        known = _BY_EXTENDED_CODE.get(code) or _BY_PRIMARY_CODE.get(code & 0xFF)
        if known is not None:
            error_class, what = known
            return error_class(f"SQLite {database}: {what} ({exc})")
    # Misuse caught by the sqlite3 module itself (closed connection, bad binding) has
    # no result code; it is still the store's failure, not the caller's input.
    return StoreError(f"SQLite {database}: {type(exc).__name__}: {exc}")
