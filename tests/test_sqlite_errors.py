"""The SQLite error mapping: result codes to the contract's errors, never message text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from skillbox_store import (
    ConflictError,
    InvalidArgumentError,
    StoreError,
    UnavailableError,
)
from skillbox_store.backends.sqlite.errors import map_error


def _raised(conn: sqlite3.Connection, statement: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute(statement)
    return caught.value


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n INTEGER NOT NULL CHECK (n >= 0))"
    )
    conn.execute("CREATE TABLE c (p INTEGER REFERENCES p (id))")
    conn.execute("INSERT INTO p VALUES (1, 'a', 0)")
    yield conn
    conn.close()


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("INSERT INTO p VALUES (2, 'a', 0)", ConflictError),
        ("INSERT INTO p VALUES (1, 'b', 0)", ConflictError),
        ("INSERT INTO c VALUES (9)", ConflictError),
        ("INSERT INTO p VALUES (3, 'c', -1)", InvalidArgumentError),
        ("INSERT INTO p VALUES (3, 'c', NULL)", InvalidArgumentError),
        ("SELECT * FROM missing_table", StoreError),
    ],
)
def test_constraint_codes(conn: sqlite3.Connection, statement: str, expected: type) -> None:
    error = map_error(_raised(conn, statement), "test.db")
    assert type(error) is expected
    assert "test.db" in str(error)


def test_busy_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    try:
        error = map_error(_raised(waiter, "BEGIN IMMEDIATE"), "busy.db")
    finally:
        holder.close()
        waiter.close()
    assert isinstance(error, UnavailableError)


def test_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    path.write_bytes(b"plain text, not SQLite " * 50)
    conn = sqlite3.connect(path)
    try:
        error = map_error(_raised(conn, "SELECT * FROM sqlite_master"), "text.db")
    finally:
        conn.close()
    assert isinstance(error, UnavailableError)
    assert "not a SQLite database" in str(error)


def test_errors_without_a_result_code_are_store_errors() -> None:
    conn = sqlite3.connect(":memory:")
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError) as caught:
        conn.execute("SELECT 1")
    assert type(map_error(caught.value, "closed.db")) is StoreError
