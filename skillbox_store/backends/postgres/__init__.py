"""The PostgreSQL backend: psycopg 3 with a psycopg_pool connection pool.

Open it with ``open_store("postgresql://…")`` (options: `PostgresOptions`), or wrap a
pool you own in `PostgresStore`.
"""

from __future__ import annotations

from skillbox_store.backends.postgres.open import PostgresOptions, open_postgres_store
from skillbox_store.backends.postgres.store import PostgresStore

__all__ = ["PostgresOptions", "PostgresStore", "open_postgres_store"]
