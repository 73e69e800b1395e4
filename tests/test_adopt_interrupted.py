"""An adoption interrupted mid-way leaves the Go database as it was; running it again completes it.

Four interruptions: the server ends the adopting session during the copy
(pg_terminate_backend, as a restart or an operator would) and inside a migration file
while the staging schema is built, the adopting process is killed (SIGKILL) during the
copy, and the session is ended while it waits, its checks done and the Go tables
locked, for the staging schema's migration lock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from adopt_helpers import fingerprint, fresh_database, locks_held
from go_schema import build_go_database, fill

from skillbox_store import UnavailableError, adopt_go_database
from skillbox_store import migrations as shared_migrations
from skillbox_store.adopt.run import APPLICATION_NAME, _staging_name
from skillbox_store.migrations import Dialect, Migration, load_migrations

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXECUTIONS = 300_000

_BULK = """
INSERT INTO sandbox.executions (tenant_id, skill_name, skill_version, status, input, logs,
    duration_ms, created_at, finished_at)
SELECT 'bulk-' || (n %% 50), 'skill', '1.0.0', 'success', jsonb_build_object('n', n),
    'log ' || n, n, now() - n * interval '1 second', now()
FROM generate_series(1, %s) AS n
"""


@pytest.fixture
def big_go_url(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        build_go_database(url)
        fill(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_BULK, (EXECUTIONS,))
            conn.execute("ANALYZE")
        yield url


def _adopting_pid(conn: psycopg.Connection[tuple[object, ...]], query_start: str) -> int | None:
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND state = 'active' "
        "AND query LIKE %s",
        (APPLICATION_NAME, query_start + "%"),
    ).fetchone()
    return None if row is None else int(str(row[0]))


def _wait_for(url: str, query_start: str, timeout: float = 60.0) -> int:
    """Return the adopting backend's pid once it runs a statement starting so."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            pid = _adopting_pid(conn, query_start)
            if pid is not None:
                return pid
            time.sleep(0.002)
    raise AssertionError(f"the adoption never ran {query_start!r}")


def _wait_gone(url: str, timeout: float = 60.0) -> None:
    """Wait until no adopting session is left (a killed client's backend ends later)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,),
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError("the adopting session never ended")


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _copying() -> str:
    # The copy of the executions: the biggest table, the longest statement. Named in
    # full: the migrator's tracking rows go into the same staging schema, and a pid
    # caught at one of those would be ended during a migration instead.
    return f'INSERT INTO "{_staging_name("sandbox")}".executions '


def _rerun_completes(url: str) -> None:
    report = asyncio.run(adopt_go_database(url))
    assert report.outcome == "adopted"
    assert report.counts["executions"] == EXECUTIONS + 4


def test_terminated_during_the_copy(big_go_url: str) -> None:
    before = fingerprint(big_go_url)
    errors: list[BaseException] = []

    def adopt() -> None:
        try:
            asyncio.run(adopt_go_database(big_go_url))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=adopt)
    thread.start()
    pid = _wait_for(big_go_url, _copying())
    _terminate(big_go_url, pid)
    thread.join(120)
    assert len(errors) == 1
    assert isinstance(errors[0], UnavailableError)
    assert "interrupted" in str(errors[0])
    _wait_gone(big_go_url)
    assert fingerprint(big_go_url) == before
    assert locks_held(big_go_url) == []
    _rerun_completes(big_go_url)


def test_terminated_while_the_migrations_build(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session ends inside a migration file, before any row is copied: the same
    # "interrupted, run it again" as during the copy, not a migration that failed.
    real = load_migrations("postgres")
    ended = replace(
        real[-1],
        version=real[-1].version + 1,
        name=f"{real[-1].version + 1:04d}_session_ended.sql",
        sql="SELECT pg_terminate_backend(pg_backend_pid());\n",
        checksum="e" * 64,
    )

    def with_ended(dialect: Dialect) -> tuple[Migration, ...]:
        return (*real, ended) if dialect == "postgres" else load_migrations(dialect)

    with fresh_database(postgres_url) as url:
        build_go_database(url)
        fill(url)
        before = fingerprint(url)
        with monkeypatch.context() as patched:
            patched.setattr(shared_migrations, "load_migrations", with_ended)
            with pytest.raises(UnavailableError, match="interrupted"):
                asyncio.run(adopt_go_database(url))
        _wait_gone(url)
        assert fingerprint(url) == before
        assert locks_held(url) == []
        assert asyncio.run(adopt_go_database(url)).outcome == "adopted"


def test_process_killed_during_the_copy(big_go_url: str) -> None:
    before = fingerprint(big_go_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "skillbox_store", "adopt", big_go_url, "--yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(big_go_url, _copying())
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(60)
    assert process.returncode == -signal.SIGKILL
    # The server rolls the transaction back once it finds the client gone.
    _wait_gone(big_go_url)
    assert fingerprint(big_go_url) == before
    _rerun_completes(big_go_url)


def test_terminated_with_the_go_tables_locked(big_go_url: str) -> None:
    before = fingerprint(big_go_url)
    errors: list[BaseException] = []

    def adopt() -> None:
        try:
            asyncio.run(adopt_go_database(big_go_url))
        except BaseException as exc:
            errors.append(exc)

    # Holding the staging schema's migration lock stops the adoption after its checks,
    # inside its transaction: the Go tables locked, nothing built yet.
    with psycopg.connect(big_go_url, autocommit=True) as holder:
        holder.execute(
            "SELECT pg_advisory_lock(hashtextextended(%s, 0))", (_staging_name("sandbox"),)
        )
        thread = threading.Thread(target=adopt)
        thread.start()
        pid = _wait_for(big_go_url, "SELECT pg_advisory_xact_lock")
        # The Go service cannot write meanwhile: its tables are locked.
        with psycopg.connect(big_go_url, autocommit=True) as writer:
            writer.execute("SET lock_timeout = '100ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                writer.execute(
                    "INSERT INTO sandbox.sessions (tenant_id, external_id) VALUES ('a', 'b')"
                )
        _terminate(big_go_url, pid)
        thread.join(120)
    assert len(errors) == 1, errors
    assert isinstance(errors[0], UnavailableError)
    _wait_gone(big_go_url)
    assert fingerprint(big_go_url) == before
    _rerun_completes(big_go_url)
