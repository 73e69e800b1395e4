"""Eight processes open one fresh SQLite file at once: all succeed, each migration once.

The children import everything first and wait on stdin, so that the parent releases
them together and their opens (creating the file, switching it to WAL, migrating)
overlap as closely as processes can.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import pytest

from skillbox_store.migrations import latest_version

PROCESSES: Final = 8
# Opening is milliseconds; a child still running after this is a hang.
CHILD_LIMIT: Final = 60.0

_CHILD = """
import asyncio, sys
from skillbox_store import Execution, open_store

async def main(path):
    async with open_store("sqlite:///" + path, busy_timeout=30) as store:
        version = await store.schema_version()
        await store.create_execution(Execution(tenant_id="t", skill_name="s", skill_version="1"))
        print(version, flush=True)

print("ready", flush=True)
sys.stdin.readline()
asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.slow
def test_processes_opening_one_fresh_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
        assert not path.exists()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        deadline = time.monotonic() + CHILD_LIMIT
        results = [
            child.communicate(timeout=max(0.1, deadline - time.monotonic())) for child in children
        ]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    latest = latest_version("sqlite")
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert out.strip() == str(latest)
    conn = sqlite3.connect(path)
    try:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        assert sorted(versions) == list(range(1, latest + 1))
        assert conn.execute("SELECT count(*) FROM executions").fetchone() == (PROCESSES,)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
