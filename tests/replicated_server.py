"""A PostgreSQL primary with a synchronous streaming standby, for failover tests.

Both are throwaway clusters on free loopback ports, made with the same binaries as the
tests' other servers (``initdb``, ``pg_basebackup``, ``pg_ctl``; as the ``postgres`` user
when root). The standby is cloned with ``pg_basebackup -R`` and named in the primary's
``synchronous_standby_names``, so a commit is acknowledged only once the standby has it:
what a client was told is committed survives the primary's death. The test kills the
primary (``pg_ctl stop -m immediate``) and promotes the standby.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psycopg

from skillbox_store.testing_postgres import (
    PostgresUnavailable,
    _call,
    _find_binary,
    _free_port,
    _run_as_user,
)

__all__ = ["ReplicatedServers", "replicated_servers"]

_DATABASE: Final = "skillbox_test"
_STANDBY_NAME: Final = "standby1"
_SETTINGS: Final = (
    "fsync=off",
    "full_page_writes=off",
    "max_connections=100",
    "shared_buffers=32MB",
    "TimeZone=UTC",
    "wal_level=replica",
    "max_wal_senders=4",
    "hot_standby=on",
    "wal_sender_timeout=5s",
    "wal_receiver_status_interval=1s",
)
_READY_TIMEOUT: Final = 60.0


@dataclass(slots=True)
class _Node:
    data: Path
    log: Path
    port: int

    def options(self) -> str:
        return " ".join(
            [f"-p {self.port}", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories="]
            + [f"-c {setting}" for setting in _SETTINGS]
        )

    def url(self, database: str = _DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@dataclass(slots=True)
class ReplicatedServers:
    """A running primary and standby; ``url`` names both, the writable one chosen."""

    primary: _Node
    standby: _Node
    pg_ctl: str

    @property
    def url(self) -> str:
        """A multi-host URL that connects to whichever node accepts writes."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
            f"/{_DATABASE}?target_session_attrs=read-write"
        )

    def kill_primary(self) -> None:
        """Stop the primary at once, as a crash would (no shutdown checkpoint)."""
        _call(
            [
                *_run_as_user(),
                self.pg_ctl,
                "-D",
                str(self.primary.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            "pg_ctl stop -m immediate (primary)",
        )

    def promote_standby(self) -> None:
        """Promote the standby and wait until it accepts writes."""
        _call(
            [*_run_as_user(), self.pg_ctl, "-D", str(self.standby.data), "-w", "promote"],
            "pg_ctl promote (standby)",
        )

    def log_tail(self) -> str:
        """The end of both servers' logs, for a failing test's message."""
        parts = []
        for name, node in (("primary", self.primary), ("standby", self.standby)):
            text = node.log.read_text(errors="replace")[-1500:] if node.log.exists() else ""
            parts.append(f"--- {name} log\n{text}")
        return "\n".join(parts)


def _start_node(pg_ctl: str, node: _Node) -> None:
    _call(
        [
            *_run_as_user(),
            pg_ctl,
            "-D",
            str(node.data),
            "-l",
            str(node.log),
            "-o",
            node.options(),
            "-w",
            "-t",
            "60",
            "start",
        ],
        f"pg_ctl start (port {node.port})",
    )


def _wait_for_sync_standby(primary: _Node) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                (_STANDBY_NAME,),
            ).fetchone()
            if row is not None and row[0] == "sync":
                return
            time.sleep(0.1)
    raise PostgresUnavailable("the standby did not become a synchronous standby in time")


@contextmanager
def replicated_servers() -> Iterator[ReplicatedServers]:
    """Yield a primary with a synchronous standby; both are stopped and removed on exit.

    Raises:
        PostgresUnavailable: a server could not be made or started; the message says why.
    """
    initdb, pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
    basebackup = _find_binary("pg_basebackup")
    prefix = _run_as_user()
    root = Path(tempfile.mkdtemp(prefix="skillbox-replicated-"))
    started: list[_Node] = []
    try:
        if prefix:
            _call(["chown", "postgres", str(root)], "chown of the servers' directory")
        primary = _Node(root / "primary", root / "primary.log", _free_port())
        standby = _Node(root / "standby", root / "standby.log", _free_port())
        _call(
            [
                *prefix,
                initdb,
                "-D",
                str(primary.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb (primary)",
        )
        _start_node(pg_ctl, primary)
        started.append(primary)
        with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {_DATABASE}")
        _call(
            [
                *prefix,
                basebackup,
                "-D",
                str(standby.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            "pg_basebackup (standby)",
        )
        # Its own primary_conninfo, with the name the primary waits for.
        conninfo = (
            f"host=127.0.0.1 port={primary.port} user=postgres application_name={_STANDBY_NAME}"
        )
        _call(
            [
                *prefix,
                "sh",
                "-c",
                f"echo \"primary_conninfo = '{conninfo}'\" >> {standby.data}/postgresql.auto.conf"
                f" && touch {standby.data}/standby.signal",
            ],
            "configuring the standby",
        )
        _start_node(pg_ctl, standby)
        started.append(standby)
        with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{_STANDBY_NAME}'")
            conn.execute("SELECT pg_reload_conf()")
        _wait_for_sync_standby(primary)
        yield ReplicatedServers(primary, standby, pg_ctl)
    finally:
        for node in started:
            subprocess.run(
                [*prefix, pg_ctl, "-D", str(node.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
