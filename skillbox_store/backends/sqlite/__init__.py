"""The SQLite backend: `open_sqlite_store` for ``sqlite:`` URLs, and `SqliteStore`.

URLs: ``sqlite:///relative/path.db`` (relative to the working directory),
``sqlite:////abs/path.db``, and ``sqlite:///:memory:``. Options of `open_store`:
``busy_timeout`` (seconds, default 5) and ``readers`` (reader connections of a file
database, default 1). A file database runs in WAL mode with ``synchronous=NORMAL`` and
foreign keys on; `SqliteStore.from_connection` wraps an aiosqlite connection that the
caller owns.

Modules: `statements` (every SQL statement), `errors` (sqlite3 errors to `StoreError`),
`rows` (rows to records), `units` (each method's SQL as one function run on the
connection's thread), `connection` (opening, running a unit in one hop, and a point
read on the event loop's thread),
`migrate` (the migration runner), `store` (`SqliteStore`), `open`, and `probe`
(`SqliteProbe`: the figures of ``skillbox-store status``, without the records).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from skillbox_store.lazy import lazy_names

if TYPE_CHECKING:
    from skillbox_store.backends.sqlite.open import open_sqlite_store
    from skillbox_store.backends.sqlite.store import SqliteStore

__all__ = ["SqliteStore", "open_sqlite_store"]

# Imported on first use (PEP 562), as the package's own names are: `SqliteStore` needs
# the records (SQLModel, SQLAlchemy, pydantic), which `probe` and the other plain
# modules of this package must not pull in just by being imported
# (tests/test_startup_imports.py). Keep this in step with the imports above.
_LAZY: Final = {
    "SqliteStore": "skillbox_store.backends.sqlite.store",
    "open_sqlite_store": "skillbox_store.backends.sqlite.open",
}


__getattr__, __dir__ = lazy_names(globals(), _LAZY)
