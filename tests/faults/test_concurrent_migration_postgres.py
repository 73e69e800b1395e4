"""Eight processes open one fresh PostgreSQL schema at the same instant.

All of them succeed, and each migration is applied and recorded exactly once: the
advisory lock keyed by the schema serializes them, and a process that waited finds the
work done.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import psycopg
import pytest
from psycopg import sql

from skillbox_store.migrations import latest_version, load_migrations

pytestmark = pytest.mark.postgres

PROCESSES: Final = 8
PROCESS_LIMIT: Final = 60.0

# Each process imports everything, says it is ready, waits for the go, then opens: all
# eight open within milliseconds of each other, however slow the imports were.
_OPENER: Final = """
import asyncio, os, sys, time
from skillbox_store import open_store

async def main(url, schema, barrier):
    open(os.path.join(barrier, f"ready-{os.getpid()}"), "w").close()
    while not os.path.exists(os.path.join(barrier, "go")):
        await asyncio.sleep(0.005)
    options = dict(schema=schema, min_size=1, max_size=1, connect_timeout=20.0)
    async with open_store(url, **options) as store:
        print(await store.schema_version())

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


def _wait_until_ready(
    barrier: Path, processes: list[subprocess.Popen[str]], deadline: float
) -> None:
    while len(list(barrier.glob("ready-*"))) < len(processes):
        if any(process.poll() is not None for process in processes):
            return  # one died early: its error is reported below
        if time.monotonic() > deadline:
            raise AssertionError("the processes did not all start in time")
        time.sleep(0.01)


def test_eight_processes_migrate_a_fresh_schema_once(
    postgres_url: str, pg_schema: str, tmp_path: Path
) -> None:
    deadline = time.monotonic() + PROCESS_LIMIT
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, postgres_url, pg_schema, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        _wait_until_ready(tmp_path, processes, deadline)
        (tmp_path / "go").touch()
        outcomes = [
            process.communicate(timeout=max(0.1, deadline - time.monotonic()))
            for process in processes
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == str(latest_version("postgres"))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        recorded = conn.execute(
            sql.SQL(
                "SELECT version, name, checksum FROM {}.schema_migrations ORDER BY version"
            ).format(sql.Identifier(pg_schema))
        ).fetchall()
    assert recorded == [(m.version, m.name, m.checksum) for m in load_migrations("postgres")]
