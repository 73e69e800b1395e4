"""What the SQLite backend's own tests look at: thread hops, and read transactions left open."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from skillbox_store.backends.sqlite import connection as sqlite_connection


def count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, append one entry per unit queued to a connection's thread (a hop)."""
    hops: list[str] = []
    real = sqlite_connection._queue

    def counting(connection: Any, function: Any) -> Any:
        hops.append("hop")
        return real(connection, function)

    monkeypatch.setattr(sqlite_connection, "_queue", counting)
    return hops


def assert_no_reader(path: Path) -> None:
    """A checkpoint by another connection finds no reader: the WAL can be emptied."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        other.close()
    assert busy == 0
    assert path.with_name(path.name + "-wal").stat().st_size == 0
