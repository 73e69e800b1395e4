"""PgBouncer in front of a test's PostgreSQL server, as an operator would put it there.

Debian's ``pgbouncer`` package, stock settings but for what a throwaway setup needs: a
free loopback port, ``auth_type = any`` (the server behind trusts loopback), and the
pool mode under test. No ``ignore_startup_parameters``: a client that sends a start-up
parameter stock PgBouncer refuses must fail here as it would in production. PgBouncer
refuses to run as root, so as root it runs as the ``postgres`` user, like the server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from skillbox_store.testing_postgres import PostgresUnavailable

__all__ = ["PgBouncer", "PoolMode", "find_pgbouncer", "pgbouncer"]

PoolMode = Literal["transaction", "session"]

_OS_USER: Final = "postgres"
_START_TIMEOUT: Final = 30.0
_SEARCH_PATH: Final = ("/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin")


@dataclass(frozen=True, slots=True)
class PgBouncer:
    """A running PgBouncer: the URL that reaches the server's database through it."""

    url: str
    port: int
    log: Path

    def log_tail(self) -> str:
        """The end of PgBouncer's log, for a failing test's message."""
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def find_pgbouncer() -> str:
    """Return the path of the ``pgbouncer`` binary.

    Raises:
        PostgresUnavailable: it is not installed; the message says how to install it.
    """
    found = shutil.which("pgbouncer") or shutil.which(
        "pgbouncer", path=os.pathsep.join(_SEARCH_PATH)
    )
    if found is None:
        raise PostgresUnavailable(
            "pgbouncer not found on PATH nor in /usr/sbin: install Debian's pgbouncer "
            "(apt-get install pgbouncer); .ci/run does"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_postgres_user(root: Path) -> list[str]:
    """The command prefix that runs PgBouncer as non-root, owning ``root``."""
    if os.geteuid() != 0:
        return []
    entry = pwd.getpwnam(_OS_USER)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    return ["runuser", "-u", _OS_USER, "--"]


def _wait_until_accepting(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PostgresUnavailable(
                f"pgbouncer exited with {process.returncode}: "
                f"{log.read_text(errors='replace')[-2000:] if log.exists() else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise PostgresUnavailable(f"pgbouncer did not accept on port {port} in {_START_TIMEOUT} s")


@contextmanager
def pgbouncer(server_url: str, pool_mode: PoolMode, *, pool_size: int = 20) -> Iterator[PgBouncer]:
    """Run PgBouncer in front of the server of ``server_url``; yield how to reach it.

    ``pool_size`` is PgBouncer's ``default_pool_size``: server connections per
    database and user (1 makes every client share one server connection).

    Raises:
        PostgresUnavailable: PgBouncer is missing or did not start; the message says why.
    """
    binary = find_pgbouncer()
    server = urlsplit(server_url)
    database = server.path.lstrip("/") or "postgres"
    user = server.username or "postgres"
    root = Path(tempfile.mkdtemp(prefix="skillbox-pgbouncer-"))
    try:
        prefix = _as_postgres_user(root)
        port = _free_port()
        log = root / "pgbouncer.log"
        config = root / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"{database} = host={server.hostname} port={server.port or 5432} "
            f"dbname={database} user={user}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "auth_type = any\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 1000\n"
            f"logfile = {log}\n"
            f"pidfile = {root / 'pgbouncer.pid'}\n"
        )
        os.chmod(config, 0o644)
        process = subprocess.Popen(
            [*prefix, binary, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_accepting(port, process, log)
            yield PgBouncer(f"postgresql://{user}@127.0.0.1:{port}/{database}", port, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
