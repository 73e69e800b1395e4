"""Plain-SQL migrations, one folder per dialect, and the logic both dialects share.

Files are named ``NNNN_description.sql`` and never edited once released: the tracking
table keeps each file's SHA-256, and a file whose checksum changed is a
`MigrationError`, as is a database that has a version this code does not know. A file
whose first line is ``-- skillbox:no-transaction`` holds a statement that cannot run in
a transaction (``CREATE INDEX CONCURRENTLY``); the backend runs it on its own rather
than splitting anything silently.

This module only reads files and decides what to apply; each backend runs the SQL
under its own lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final, Literal

from skillbox_store.errors import MigrationError

__all__ = [
    "NO_TRANSACTION_MARKER",
    "AppliedMigration",
    "Dialect",
    "Migration",
    "latest_version",
    "load_migrations",
    "pending_migrations",
]

Dialect = Literal["sqlite", "postgres"]

NO_TRANSACTION_MARKER: Final = "-- skillbox:no-transaction"

_FILE_NAME: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file of a dialect."""

    version: int
    name: str
    sql: str
    checksum: str
    transactional: bool


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A row of the tracking table: a migration the database has applied."""

    version: int
    name: str
    checksum: str


@cache
def load_migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """Return the dialect's migrations in version order.

    Raises:
        MigrationError: a file is misnamed or two files share a version.
    """
    folder = files(__package__).joinpath(dialect)
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {dialect}/{entry.name} is not NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"migrations {dialect}/{found[version].name} and {dialect}/{entry.name} "
                f"share version {version}"
            )
        data = entry.read_bytes()
        sql = data.decode("utf-8")
        found[version] = Migration(
            version=version,
            name=entry.name,
            sql=sql,
            checksum=hashlib.sha256(data).hexdigest(),
            transactional=not sql.lstrip().startswith(NO_TRANSACTION_MARKER),
        )
    return tuple(found[v] for v in sorted(found))


def latest_version(dialect: Dialect = "sqlite") -> int:
    """Return the highest migration version this code knows (the same in every dialect)."""
    migrations = load_migrations(dialect)
    return migrations[-1].version if migrations else 0


def pending_migrations(dialect: Dialect, applied: list[AppliedMigration]) -> list[Migration]:
    """Return the migrations still to apply, after checking the applied ones.

    Raises:
        MigrationError: an applied file's checksum changed, or an applied version is
            unknown to this code (the database is newer).
    """
    available = {m.version: m for m in load_migrations(dialect)}
    done: set[int] = set()
    for row in applied:
        migration = available.get(row.version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {row.version} ({row.name}), which this version "
                f"of skillbox-store does not know (it knows up to {latest_version(dialect)}); "
                "upgrade skillbox-store"
            )
        if migration.checksum != row.checksum:
            raise MigrationError(
                f"migration {dialect}/{migration.name} was changed after it was applied "
                f"(checksum {row.checksum[:12]}… in the database, {migration.checksum[:12]}… "
                "in the file); released migrations must never be edited"
            )
        done.add(row.version)
    return [m for v, m in sorted(available.items()) if v not in done]
