"""The raw twin of the PostgreSQL store: the same SQL, sent by hand with psycopg.

Like for like with a store opened with its defaults (`open_store(url)`): autocommit
connections without server-side prepared statements (``prepare_threshold=None``, the
store's default, safe behind a pooler), and each statement that declares its tenant for
row-level security sent with its declaration as one simple query, its parameters bound
on the client, as `skillbox_store.backends.postgres.tenancy` builds it for the store.
What is left between the two sides is the store's own work: checking input, the call's
deadline, building records. The raw side takes connections the natural way,
``async with pool.connection()``.
"""

from __future__ import annotations

from typing import Any, Literal

from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool

from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.backends.postgres.tenancy import declarations

__all__ = ["Pool", "RawPostgres", "raw_pool"]

Row = tuple[Any, ...]
Pool = AsyncConnectionPool[AsyncConnection[Row]]


async def raw_pool(url: str, size: int, *, prepare_threshold: int | None = None) -> Pool:
    """Open a pool of ``size`` autocommit connections, as the store's own (by default)."""
    pool: Pool = AsyncConnectionPool(
        url,
        kwargs={"autocommit": True, "prepare_threshold": prepare_threshold},
        min_size=size,
        max_size=size,
        open=False,
    )
    await pool.open(wait=True)
    return pool


class RawPostgres:
    """Send the store's statements as the store sends them, with plain psycopg calls."""

    def __init__(self, pool: Pool, sql: Statements, *, declare: bool = True) -> None:
        """Send on ``pool``; with ``declare``, each declaring statement with its declaration."""
        self.pool = pool
        self._declared = declarations(sql) if declare else {}

    async def send(
        self, query: bytes, params: Any, fetch: Literal["one", "all", "count"] = "all"
    ) -> Any:
        """Run one statement on a pooled connection; return its row(s) or row count."""
        found = self._declared.get(query)
        async with self.pool.connection() as conn:
            if found is None:
                cursor: Any = await conn.execute(query, params)
            else:
                text, declaration = found
                where = declaration.where
                if isinstance(where, int):
                    params = (params[where], *params)
                cursor = AsyncClientCursor(conn)
                await cursor.execute(text, params)
                cursor.nextset()  # past the declaration's empty result
            if fetch == "one":
                return await cursor.fetchone()
            if fetch == "all":
                return await cursor.fetchall()
            return cursor.rowcount
