"""The SQLite benchmark: the store against the same SQL through raw aiosqlite.

Both sides use the same file, the same pragmas (WAL, synchronous=NORMAL, foreign keys)
and the same statements (`skillbox_store.backends.sqlite.statements`). The raw side is
aiosqlite used the natural way: ``async with db.execute(sql, params) as cursor`` and
``await cursor.fetchone()``/``fetchall()``, then ``await db.commit()`` for writes, and
it gets plain tuples back where the store builds records.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from benchmarks.timing import Case, Result, compare
from skillbox_store import Execution, open_store
from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.store import SqliteStore

__all__ = ["run_sqlite"]

SEED_KEYS = 10_000
SEED_EXECUTIONS = 10_000
TENANTS = 10


def _now_text() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


async def _seed(store: SqliteStore) -> tuple[list[str], list[tuple[str, str]]]:
    """Create the keys and executions through the store; return hashes and (tenant, id)."""
    hashes = [f"{i:064x}" for i in range(SEED_KEYS)]
    executions: list[tuple[str, str]] = []
    async with store.transaction() as tx:
        for i, key_hash in enumerate(hashes):
            await tx.create_key(f"tenant-{i % TENANTS}", f"key {i}", key_hash)
        for i in range(SEED_EXECUTIONS):
            execution = await tx.create_execution(
                Execution(
                    skill_name="bench",
                    skill_version="1.0.0",
                    tenant_id=f"tenant-{i % TENANTS}",
                    input={"n": i, "args": ["a", "b"]},
                )
            )
            executions.append((execution.tenant_id, execution.id))
    return hashes, executions


def _cases(
    store: SqliteStore,
    raw: aiosqlite.Connection,
    hashes: list[str],
    executions: list[tuple[str, str]],
) -> list[Case]:
    async def store_validate(i: int) -> Any:
        return await store.validate_key(hashes[i % len(hashes)])

    async def raw_validate(i: int) -> Any:
        async with raw.execute(sql.SELECT_VALID_KEY_BY_HASH, (hashes[i % len(hashes)],)) as cur:
            return await cur.fetchone()

    async def store_get(i: int) -> Any:
        return await store.get_execution(*executions[i % len(executions)])

    async def raw_get(i: int) -> Any:
        async with raw.execute(sql.SELECT_EXECUTION, executions[i % len(executions)]) as cur:
            return await cur.fetchone()

    async def store_create(i: int) -> Any:
        return await store.create_execution(
            Execution(
                skill_name="bench",
                skill_version="1.0.0",
                tenant_id="tenant-new",
                input={"n": i, "args": ["a", "b"]},
            )
        )

    async def raw_create(i: int) -> Any:
        params = (
            str(uuid.uuid4()),
            "bench",
            "1.0.0",
            "tenant-new",
            "running",
            json.dumps({"n": i, "args": ["a", "b"]}),
            None,
            "",
            "",
            "[]",
            0,
            None,
            _now_text(),
            None,
        )
        async with raw.execute(sql.INSERT_EXECUTION, params):
            pass
        await raw.commit()

    async def store_list(i: int) -> Any:
        return await store.list_executions(f"tenant-{i % TENANTS}")

    async def raw_list(i: int) -> Any:
        async with raw.execute(sql.SELECT_EXECUTIONS_PAGE, (f"tenant-{i % TENANTS}", 20, 0)) as cur:
            return await cur.fetchall()

    return [
        Case("validate_key", store_validate, raw_validate),
        Case("get_execution", store_get, raw_get),
        Case("create_execution", store_create, raw_create),
        Case("list_executions", store_list, raw_list),
    ]


async def run_sqlite(rounds: int, iterations: int, directory: str | None = None) -> list[Result]:
    """Seed a fresh SQLite file, then time each case; return the medians."""
    with tempfile.TemporaryDirectory(dir=directory) as folder:
        path = Path(folder) / "bench.db"
        store = await open_store(f"sqlite:///{path}")
        assert isinstance(store, SqliteStore)
        try:
            hashes, executions = await _seed(store)
            async with aiosqlite.connect(path, timeout=5.0) as raw:
                for pragma in (sql.SET_SYNCHRONOUS_NORMAL, sql.SET_FOREIGN_KEYS_ON):
                    await raw.execute(pragma)
                cases = _cases(store, raw, hashes, executions)
                return await compare("sqlite", cases, rounds, iterations)
        finally:
            await store.close()
