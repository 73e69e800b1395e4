"""The listings without a limit: a tenant's keys and skills, a session's files, a chain.

They return every row there is, so they cannot all be read on the event loop's thread
as a page is (`SqliteStore._point_read`): a tenant with 100,000 keys would hold the
loop for a tenth of a second. Nor should the usual listing, a few dozen rows, pay a
thread hop that costs more than reading it. So the loop's thread reads the first
`HERE_ROWS` rows of the statement (`first_of`); when there are more, a reader thread
reads the rest of the same statement (`rest_of`). One statement from start to end: the
whole listing comes from one snapshot, as if one thread had read it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.rows import files_from_rows, keys_from_rows, skills_from_rows
from skillbox_store.records import APIKey, File, SkillRecord

__all__ = [
    "FILE_VERSIONS",
    "HERE_ROWS",
    "KEYS",
    "SESSION_FILES",
    "SKILLS",
    "Listing",
    "everything",
    "first_of",
    "rest_of",
]

R = TypeVar("R")
Params = tuple[Any, ...] | dict[str, Any]

HERE_ROWS: Final = 256
"""The rows a listing reads on the loop's thread: about as long as the largest page (200
files) holds it, ~0.5 ms; a listing of up to 255 rows never hops to find it has no more."""


@dataclass(frozen=True, slots=True)
class Listing(Generic[R]):
    """One listing: its statement, and the records of a batch of its rows."""

    statement: str
    records: Callable[[Sequence[tuple[Any, ...]]], list[R]]


KEYS: Final[Listing[APIKey]] = Listing(sql.SELECT_KEYS, keys_from_rows)
"""A tenant's keys, newest first; bound to ``(tenant_id,)``."""
SKILLS: Final[Listing[SkillRecord]] = Listing(sql.SELECT_SKILLS, skills_from_rows)
"""A tenant's skills by name, then version; bound to ``(tenant_id,)``."""
SESSION_FILES: Final[Listing[File]] = Listing(sql.SELECT_SESSION_FILES, files_from_rows)
"""A session's files, newest first; bound to ``(tenant_id, session_id)``."""
FILE_VERSIONS: Final[Listing[File]] = Listing(sql.SELECT_FILE_VERSIONS, files_from_rows)
"""A file's whole chain, highest version first; bound to ``tenant_id`` and ``file_id``."""


def everything(conn: sqlite3.Connection, listing: Listing[R], params: Params) -> list[R]:
    """Return the whole listing, read on ``conn``'s thread (a reader's, or a block's)."""
    # fetchall builds the rows in C: ~0.15 µs a row less than converting while stepping.
    return listing.records(conn.execute(listing.statement, params).fetchall())


def first_of(
    conn: sqlite3.Connection, listing: Listing[R], params: Params
) -> tuple[list[R], sqlite3.Cursor | None]:
    """Return the records of the listing's first `HERE_ROWS` rows, and its cursor if
    there may be more (else None).

    A cursor returned is still inside its statement, and so inside its read transaction:
    its owner must read it to the end (`rest_of`) or close it.
    """
    cursor = conn.execute(listing.statement, params)
    try:
        rows = cursor.fetchmany(HERE_ROWS)
        records = listing.records(rows)
    except BaseException:
        cursor.close()
        raise
    if len(rows) < HERE_ROWS:
        # Stepped to its end: the statement is reset, its read transaction over.
        return records, None
    return records, cursor


def rest_of(_reader: sqlite3.Connection, cursor: sqlite3.Cursor, listing: Listing[R]) -> list[R]:
    """Return the records of the rows ``cursor`` has left (``first_of``'s cursor).

    A reader's unit (`connection.run`): it runs on that reader's thread, but reads the
    loop's connection through ``cursor``, whose statement holds the listing's snapshot.
    """
    return listing.records(cursor.fetchall())
