"""The PostgreSQL store's own CPU per call, measured without a server.

    python benchmarks/overhead.py

Against a pool whose statements cost nothing (each waits once for the event loop, as a
real one waits for the server, and returns a canned row), it times ``validate_key``,
``get_execution`` and ``create_execution`` through `PostgresStore`, and the bare driver
calls a call needs at the least (``getconn``, ``execute``, ``fetchone``, ``putconn``;
for an insert also a fresh id, the input as ``Jsonb`` and the time), and prints the
difference: what the store adds in input checks, building the record and its own
frames. With no server and no network, and the least of 15 alternating rounds, this
figure moves by a few tenths of a µs between runs where one batch of the concurrency
table of ``scale.py`` moves by ±15 %: it is what shows a change in the store's own
cost. Compare it with the 100–200 µs of client CPU a whole call costs (``scale.py
--concurrency-only``, last column), and with the 4.7 µs that ``pool.connection()``
adds to a raw call over ``getconn``/``putconn``.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

if __package__ in (None, ""):
    # Run as a script: make `benchmarks` and `skillbox_store` importable from the repo.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg.types.json import Jsonb

from skillbox_store import Execution
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.backends.postgres.store import PostgresStore

CALLS: Final = 20_000
ROUNDS: Final = 15
KEY_HASH: Final = "ab" * 32
NOW: Final = datetime.now(UTC)
KEY_ROW: Final = (str(uuid.uuid4()), KEY_HASH, "keys", "k", NOW, None)
EXECUTION_ROW: Final[tuple[Any, ...]] = (
    *(str(uuid.uuid4()), "bench", "1.0.0", "big", "success", {"n": 1}, None, "", ""),
    *([], 0, None, NOW, None),
)


class _Result:
    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self.row = row
        self.rowcount = 1

    async def fetchone(self) -> tuple[Any, ...] | None:
        return self.row


class _PGconn:
    transaction_status = psycopg.pq.TransactionStatus.IDLE


class _ClientCursor(psycopg.AsyncClientCursor[Any]):
    """Only a class for the store's check of the factory (`_send_declared`); the
    connection's `cursor()` lends a `_Declared` instead."""


class _Declared(_Result):
    """A statement sent with its row-level-security declaration: two results."""

    async def execute(self, query: bytes, params: Any, *, prepare: bool = False) -> None:
        await asyncio.sleep(0)

    def nextset(self) -> bool:
        return True


class _Connection:
    """An autocommit connection whose every statement returns ``row`` at once."""

    pgconn = _PGconn()
    closed = False
    # As the pools the store opens lend: client-side binding (row-level security).
    cursor_factory = _ClientCursor

    def __init__(self) -> None:
        self.row: tuple[Any, ...] | None = None

    def cursor(self) -> _Declared:
        return _Declared(self.row)

    async def execute(self, query: bytes, params: Any) -> _Result:
        await asyncio.sleep(0)
        return _Result(self.row)


class _Pool:
    timeout = 30.0
    kwargs: dict[str, Any] = {}  # noqa: RUF012 - read only

    def __init__(self) -> None:
        self.conn = _Connection()

    async def getconn(self, wait: float | None = None) -> _Connection:
        return self.conn

    async def putconn(self, conn: _Connection) -> None:
        return None


async def _cpu_us(call: Callable[[], Awaitable[object]]) -> float:
    began = time.process_time()
    for _ in range(CALLS):
        await call()
    return (time.process_time() - began) / CALLS * 1e6


async def _least_cpu_us(*calls: Callable[[], Awaitable[object]]) -> list[float]:
    """Each call's least CPU µs per call over rounds that alternate between them.

    The least, because a neighbour's load only ever adds; alternating, because it comes
    and goes, and every call should have its chance at a quiet moment.
    """
    best = [float("inf")] * len(calls)
    for _ in range(ROUNDS):
        for index, call in enumerate(calls):
            best[index] = min(best[index], await _cpu_us(call))
    return best


async def main() -> None:
    """Print the store's own µs per call for each operation."""
    pool = _Pool()
    store = PostgresStore(pool, schema="bench", owns_pool=True)  # type: ignore[arg-type]
    sql = Statements.for_schema("bench")
    execution = Execution(
        skill_name="bench", skill_version="1.0.0", tenant_id="new", input={"n": 1, "args": ["a"]}
    )
    execution_id = str(EXECUTION_ROW[0])

    async def bare(query: bytes, params: Any) -> object:
        conn = await pool.getconn()
        cursor = await conn.execute(query, params)
        row = await cursor.fetchone()
        await pool.putconn(conn)
        return row

    def bare_create() -> Awaitable[object]:
        # What any insert of an execution builds, by hand as in scale.py's raw twin: a
        # fresh id, the input as jsonb, the time.
        params: tuple[Any, ...] = (
            *(str(uuid.uuid4()), "bench", "1.0.0", "new", "running"),
            *(Jsonb(execution.input), None, "", "", [], 0, None, datetime.now(UTC), None),
        )
        return bare(sql.INSERT_EXECUTION, params)

    Case = tuple[
        str,
        tuple[Any, ...] | None,
        Callable[[], Awaitable[object]],
        Callable[[], Awaitable[object]],
    ]
    cases: list[Case] = [
        (
            "validate_key",
            KEY_ROW,
            lambda: store.validate_key(KEY_HASH),
            lambda: bare(sql.SELECT_VALID_KEY_BY_HASH, (KEY_HASH,)),
        ),
        (
            "get_execution",
            EXECUTION_ROW,
            lambda: store.get_execution("big", execution_id),
            lambda: bare(sql.SELECT_EXECUTION, ("big", execution_id)),
        ),
        ("create_execution", None, lambda: store.create_execution(execution), bare_create),
    ]
    gc.collect()
    gc.freeze()
    print(f"{'operation':<18} {'store µs':>9} {'bare µs':>8} {'store adds µs':>14}")
    for name, row, through_store, through_bare in cases:
        pool.conn.row = row
        stored, bared = await _least_cpu_us(through_store, through_bare)
        print(f"{name:<18} {stored:>9.2f} {bared:>8.2f} {stored - bared:>14.2f}")


if __name__ == "__main__":
    asyncio.run(main())
