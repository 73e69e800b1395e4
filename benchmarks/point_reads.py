"""SQLite point reads through the store against a plain synchronous `sqlite3` SELECT.

The floor is what the driver itself costs: the same statement
(`skillbox_store.backends.sqlite.statements`) on a `sqlite3` connection to the same file,
``execute(...).fetchone()`` called directly, returning a tuple where the store checks its
arguments and builds a record. Each of the six point reads must cost at most 5x that
floor (issue #22), median of interleaved rounds. A script, not a test: the figures move
with the machine's load.

    python benchmarks/point_reads.py [--rounds 15] [--iterations 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks.timing import Case, Result, compare
from skillbox_store import Execution, File, SkillRecord, open_store
from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.store import SqliteStore

__all__ = ["TARGET", "run_point_reads"]

TARGET = 5.0
KEYS = 1_500
TENANTS = 10
ROWS = 1_000


async def _seed(store: SqliteStore) -> dict[str, list[tuple[str, ...]]]:
    """Add keys, executions, files, sessions and skills; return each one's lookup args."""
    found: dict[str, list[tuple[str, ...]]] = {
        "hash": [],
        "execution": [],
        "file": [],
        "session": [],
        "skill": [],
    }
    async with store.transaction() as tx:
        for i in range(KEYS):
            key_hash = f"{i:064x}"
            await tx.create_key(f"tenant-{i % TENANTS}", f"key {i}", key_hash)
            found["hash"].append((key_hash,))
        for i in range(ROWS):
            tenant = f"tenant-{i % TENANTS}"
            execution = await tx.create_execution(
                Execution(
                    skill_name="bench", skill_version="1.0.0", tenant_id=tenant, input={"n": i}
                )
            )
            found["execution"].append((tenant, execution.id))
            session = await tx.get_or_create_session(tenant, f"external-{i}")
            found["session"].append((tenant, session.id))
            file = await tx.create_file(
                File(tenant_id=tenant, session_id=session.id, name=f"f{i}.txt", s3_key=f"k/{i}")
            )
            found["file"].append((tenant, file.id))
            await tx.upsert_skill(SkillRecord(tenant_id=tenant, name=f"skill-{i}", version="1.0.0"))
            found["skill"].append((tenant, f"skill-{i}", "1.0.0"))
    return found


def _cases(
    store: SqliteStore, raw: sqlite3.Connection, found: dict[str, list[tuple[str, ...]]]
) -> list[Case]:
    def pair(name: str, method: str, statement: str, kind: str) -> Case:
        rows = found[kind]
        call = getattr(store, method)

        async def through_store(i: int) -> object:
            return await call(*rows[i % len(rows)])

        async def plain_sqlite3(i: int) -> object:
            return raw.execute(statement, rows[i % len(rows)]).fetchone()

        return Case(name, through_store, plain_sqlite3)

    return [
        pair("validate_key", "validate_key", sql.SELECT_VALID_KEY_BY_HASH, "hash"),
        pair("get_key_by_hash", "get_key_by_hash", sql.SELECT_KEY_BY_HASH, "hash"),
        pair("get_execution", "get_execution", sql.SELECT_EXECUTION, "execution"),
        pair("get_file", "get_file", sql.SELECT_FILE, "file"),
        pair("get_session", "get_session", sql.SELECT_SESSION, "session"),
        pair("get_skill", "get_skill", sql.SELECT_SKILL, "skill"),
    ]


async def run_point_reads(rounds: int, iterations: int) -> list[Result]:
    """Seed a fresh file and time every point read both ways; return the medians."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        store = await open_store(f"sqlite:///{path}")
        assert isinstance(store, SqliteStore)
        raw = sqlite3.connect(path, isolation_level=None)
        try:
            found = await _seed(store)
            return await compare("sqlite", _cases(store, raw, found), rounds, iterations)
        finally:
            raw.close()
            await store.close()


def main() -> None:
    """Print each point read's store and sqlite3 cost, their ratio and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median)")
    parser.add_argument("--iterations", type=int, default=2000, help="calls per round and side")
    args = parser.parse_args()
    began = time.perf_counter()
    results = asyncio.run(run_point_reads(args.rounds, args.iterations))
    print(f"{'SQLite point read':<18} {'store µs':>9} {'sqlite3 µs':>11} {'ratio':>6}")
    for r in results:
        print(f"{r.name:<18} {r.store_us:>9.1f} {r.raw_us:>11.1f} {r.ratio:>6.2f}")
    worst = max(results, key=lambda r: r.ratio)
    verdict = "met" if worst.ratio <= TARGET else "MISSED"
    print(
        f"worst point read {worst.name} {worst.ratio:.2f}x sync sqlite3, "
        f"target <= {TARGET:.1f}x: {verdict}"
    )
    print(f"{time.perf_counter() - began:.1f} s in all")


if __name__ == "__main__":
    main()
