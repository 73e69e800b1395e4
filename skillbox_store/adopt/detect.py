"""Is this a Go Skillbox database, and which: its tables, its goose table, its version.

The sign of a Go database is the ``sandbox`` tables (or the ``schema=`` given) with a
goose table, ``goose_db_version`` or the legacy ``sandbox_migrations``, and no
``schema_migrations`` of this store. goose puts its table in the first schema of the
Go DSN's search_path, normally ``public``, so it is looked for in every schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from psycopg import AsyncConnection

from skillbox_store.adopt import statements as q
from skillbox_store.errors import InvalidArgumentError, MigrationError

__all__ = [
    "GO_TABLES",
    "GoDatabase",
    "adopted_version",
    "detect_go_database",
    "refuse_unadopted_go_database",
]

Row = tuple[Any, ...]

GO_TABLES: Final = ("api_keys", "executions", "files", "sessions", "skills")
GOOSE_TABLE: Final = "goose_db_version"
LEGACY_TABLE: Final = "sandbox_migrations"
# The releases this code adopts: v0.8.x (goose 1-6), and v0.9+ up to goose 7, which
# only widened the status CHECK to what this store already allows.
ACCEPTED_VERSIONS: Final = (tuple(range(1, 7)), tuple(range(1, 8)))
_LEGACY_FILE: Final = re.compile(r"^(\d+)_")


@dataclass(frozen=True, slots=True)
class GoDatabase:
    """A Go Skillbox database found in ``schema``.

    Attributes:
        schema: the schema of the Go tables.
        goose_schema: the schema of the goose table(s).
        goose_tables: which of goose_db_version and sandbox_migrations are there.
        legacy: the legacy goose layout (serial id, or sandbox_migrations beside it).
        versions: the applied goose versions, ascending.
    """

    schema: str
    goose_schema: str
    goose_tables: tuple[str, ...]
    legacy: bool
    versions: tuple[int, ...]

    @property
    def version(self) -> int:
        """The highest applied goose version (0 when none)."""
        return self.versions[-1] if self.versions else 0

    @property
    def accepted(self) -> bool:
        """Whether the versions are exactly those of a release this code adopts."""
        return self.versions in ACCEPTED_VERSIONS

    @property
    def layout(self) -> str:
        """The goose layout, as the report shows it."""
        where = ", ".join(f"{self.goose_schema}.{t}" for t in self.goose_tables)
        return f"{'legacy goose' if self.legacy else 'goose'} ({where})"


async def _relations(conn: AsyncConnection[Row], schema: str) -> set[str]:
    cursor = await conn.execute(q.SELECT_RELATIONS, (schema,))
    return {str(name) for (name,) in await cursor.fetchall()}


async def adopted_version(conn: AsyncConnection[Row], schema: str) -> int | None:
    """Return this store's schema version in ``schema`` if it has its tracking table."""
    if "schema_migrations" not in await _relations(conn, schema):
        return None
    cursor = await conn.execute(q.compose(q.SELECT_MIGRATED_VERSION, go=schema))
    row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def _goose_schema(
    conn: AsyncConnection[Row], schema: str, given: str | None
) -> tuple[str, tuple[str, ...]] | None:
    cursor = await conn.execute(q.SELECT_GOOSE_TABLES)
    found: dict[str, list[str]] = {}
    for namespace, table in await cursor.fetchall():
        found.setdefault(str(namespace), []).append(str(table))
    if given is not None:
        return (given, tuple(found[given])) if given in found else None
    # The Go schema itself, then public (goose's usual place), then the only other one.
    for candidate in (schema, "public"):
        if candidate in found:
            return candidate, tuple(found[candidate])
    if len(found) == 1:
        ((only, tables),) = found.items()
        return only, tuple(tables)
    if found:
        raise InvalidArgumentError(
            f"goose tables are in several schemas ({', '.join(sorted(found))}): name the "
            "Go service's with goose_schema= (--goose-schema)"
        )
    return None


async def detect_go_database(
    conn: AsyncConnection[Row], schema: str, *, goose_schema: str | None = None
) -> GoDatabase | None:
    """Return the Go database in ``schema``, or None when ``schema`` holds none.

    None when the schema is missing, lacks a Go table, holds this store's
    ``schema_migrations``, or no goose table is found.

    Raises:
        InvalidArgumentError: goose tables are in several schemas and none was named.
    """
    relations = await _relations(conn, schema)
    if "schema_migrations" in relations or not set(GO_TABLES) <= relations:
        return None
    goose = await _goose_schema(conn, schema, goose_schema)
    if goose is None:
        return None
    where, tables = goose
    versions: list[int] = []
    legacy = LEGACY_TABLE in tables
    if GOOSE_TABLE in tables:
        cursor = await conn.execute(q.compose(q.SELECT_GOOSE_VERSIONS, goose=where))
        versions = [int(v) for (v,) in await cursor.fetchall()]
        qualified = q.compose("{goose}.goose_db_version", goose=where).as_string(conn)
        cursor = await conn.execute(q.SELECT_GOOSE_ID_IS_IDENTITY, (qualified,))
        identity = await cursor.fetchone()
        legacy = legacy or not (identity and identity[0])
    else:
        # Before goose (v0.1.0): the file names are the versions.
        cursor = await conn.execute(q.compose(q.SELECT_LEGACY_FILES, goose=where))
        for (filename,) in await cursor.fetchall():
            match = _LEGACY_FILE.match(str(filename))
            if match:
                versions.append(int(match.group(1)))
        versions.sort()
    return GoDatabase(schema, where, tables, legacy, tuple(versions))


async def refuse_unadopted_go_database(conn: AsyncConnection[Row], schema: str) -> None:
    """Raise `MigrationError` if ``schema`` holds a Go Skillbox database not yet adopted.

    The hook of the migrator, called only when it is about to build the tables in a
    schema that already exists: the Go tables there would make the first migration fail
    with "relation api_keys already exists", which tells the operator nothing.
    """
    try:
        found = await detect_go_database(conn, schema)
    except InvalidArgumentError:
        # Raised only once the Go tables are found: goose tables in several schemas.
        raise MigrationError(
            f"schema {schema!r} holds a Go Skillbox database (goose tables in several "
            "schemas), which skillbox-store does not migrate: stop the Go service, then "
            "convert it in place with `skillbox-store adopt URL --goose-schema NAME` "
            "(see docs/adopting-go.md)"
        ) from None
    if found is not None:
        raise MigrationError(
            f"schema {schema!r} holds a Go Skillbox database (goose version {found.version}, "
            f"{found.layout}), which skillbox-store does not migrate: stop the Go service, "
            "then convert it in place with `skillbox-store adopt URL` (see "
            "docs/adopting-go.md; --dry-run shows what it would do)"
        )
