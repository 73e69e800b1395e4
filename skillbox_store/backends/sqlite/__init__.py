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
`migrate` (the migration runner), `store` (`SqliteStore`), `open`.
"""

from __future__ import annotations

from skillbox_store.backends.sqlite.open import open_sqlite_store
from skillbox_store.backends.sqlite.store import SqliteStore

__all__ = ["SqliteStore", "open_sqlite_store"]
