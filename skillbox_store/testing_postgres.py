"""A throwaway PostgreSQL server for tests, on any machine that has the PostgreSQL binaries.

`provide_postgres()` yields a ``postgresql://`` URL: ``SKILLBOX_TEST_POSTGRES_URL`` when
it is set, else a private throwaway cluster made with ``initdb`` and started with
``pg_ctl`` (found on ``PATH``, else the newest ``/usr/lib/postgresql/*/bin``) in a
temporary directory, on a free loopback port, tuned for speed (no fsync: its data is
thrown away). When the tests run as root the cluster runs as the ``postgres`` OS user,
since PostgreSQL refuses to run as root.

It lives in the library, not in the contract suite, because the pytest plugin
`skillbox_store.testing` starts it for ``postgresql+throwaway://`` and the library never
imports its test suite. The suite and the project's own tests use it from here.

One cluster serves the whole process: the plugin's fixture, the contract suite's and the
unit tests' all call `provide_postgres`, which starts the cluster on first use and stops
it when the last user leaves (and, whatever happens, at interpreter exit). If no server
can be had, `PostgresUnavailable` says why; nothing is ever skipped silently.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "APPLICATION_DATABASE",
    "APPLICATION_ROLE",
    "URL_ENV",
    "PostgresUnavailable",
    "PrivateServer",
    "application_url",
    "data_directory",
    "private_server",
    "provide_postgres",
    "restart_server",
]

URL_ENV: Final = "SKILLBOX_TEST_POSTGRES_URL"

_DATABASE: Final = "skillbox_test"
_OS_USER: Final = "postgres"
_START_TIMEOUT: Final = 60
_SETTINGS: Final = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
    "shared_buffers=64MB",
    "TimeZone=UTC",
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be provided; the message says why."""


@dataclass(slots=True)
class _Cluster:
    """A running throwaway cluster."""

    root: Path
    pg_ctl: str
    url: str
    users: int = 0
    options: str = ""


_lock = threading.Lock()
_cluster: _Cluster | None = None


def _find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise PostgresUnavailable(
        f"{name} not found on PATH nor in /usr/lib/postgresql/*/bin; install PostgreSQL "
        f"(apt-get install postgresql) or set {URL_ENV}"
    )


def _run_as_user() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a non-root user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_OS_USER)
    except KeyError:
        try:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", _OS_USER],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise PostgresUnavailable(
                f"running as root, and the {_OS_USER!r} OS user that PostgreSQL must run as "
                f"does not exist and could not be created: {exc}"
            ) from exc
    if shutil.which("runuser"):
        return ["runuser", "-u", _OS_USER, "--"]
    raise PostgresUnavailable("running as root, and runuser is missing to drop to postgres")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _call(command: list[str], what: str) -> None:
    try:
        subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError as exc:
        raise PostgresUnavailable(f"{what} failed: {(exc.stderr or exc.stdout).strip()}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresUnavailable(f"{what} failed: {exc}") from exc


def _start(settings: tuple[str, ...] = ()) -> _Cluster:
    initdb = _find_binary("initdb")
    pg_ctl = _find_binary("pg_ctl")
    prefix = _run_as_user()
    root = Path(tempfile.mkdtemp(prefix="skillbox-pg-"))
    try:
        if prefix:
            entry = pwd.getpwnam(_OS_USER)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        data, sockets = root / "data", root / "sockets"
        _call(
            [
                *prefix,
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb",
        )
        _call([*prefix, "mkdir", "-m", "700", str(sockets)], "creating the socket directory")
        last_error: PostgresUnavailable | None = None
        # Another process can take the free port between probing and binding: retry.
        for _ in range(3):
            port = _free_port()
            options = " ".join(
                [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {sockets}"]
                + [f"-c {setting}" for setting in (*_SETTINGS, *settings)]
            )
            try:
                _call(
                    [
                        *prefix,
                        pg_ctl,
                        "-D",
                        str(data),
                        "-l",
                        str(root / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        str(_START_TIMEOUT),
                        "start",
                    ],
                    "pg_ctl start",
                )
            except PostgresUnavailable as exc:
                last_error = exc
                continue
            cluster = _Cluster(
                root, pg_ctl, f"postgresql://postgres@127.0.0.1:{port}/{_DATABASE}", options=options
            )
            try:
                _create_database(port)
            except BaseException:
                _stop(cluster)
                raise
            return cluster
        log = root / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise PostgresUnavailable(f"{last_error}\n{detail}")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _create_database(port: int) -> None:
    import psycopg

    try:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True, connect_timeout=10
        ) as conn:
            conn.execute(f"CREATE DATABASE {_DATABASE}")
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"creating database {_DATABASE} failed: {exc}") from exc


def _stop(cluster: _Cluster) -> None:
    """Stop the server (immediately: its data is thrown away) and remove its files."""
    prefix = _run_as_user()
    # Ctrl-C during the stop must not leave a server running: finish it first.
    previous = signal.getsignal(signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        subprocess.run(
            [
                *prefix,
                cluster.pg_ctl,
                "-D",
                str(cluster.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=_START_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        shutil.rmtree(cluster.root, ignore_errors=True)


def _stop_at_exit() -> None:
    global _cluster
    with _lock:
        cluster, _cluster = _cluster, None
    if cluster is not None:
        _stop(cluster)


atexit.register(_stop_at_exit)


@contextmanager
def provide_postgres() -> Iterator[str]:
    """Yield the URL of a PostgreSQL database the tests may use freely.

    Raises:
        PostgresUnavailable: no server could be found or started; the message says why.
    """
    global _cluster
    external = os.environ.get(URL_ENV, "").strip()
    if external:
        yield external
        return
    with _lock:
        if _cluster is None:
            _cluster = _start()
        cluster = _cluster
        cluster.users += 1
    try:
        yield cluster.url
    finally:
        with _lock:
            cluster.users -= 1
            last = cluster.users == 0 and _cluster is cluster
            if last:
                _cluster = None
        if last:
            _stop(cluster)


def data_directory() -> Path | None:
    """Return the running throwaway cluster's data directory (for restart tests), if any."""
    cluster = _cluster
    return None if cluster is None else cluster.root / "data"


def restart_server() -> None:
    """Restart the throwaway cluster in place (same port), for reconnection tests.

    Raises:
        PostgresUnavailable: there is no throwaway cluster (an external URL is in use).
    """
    cluster = _cluster
    if cluster is None:
        raise PostgresUnavailable(f"no throwaway cluster to restart (is {URL_ENV} set?)")
    _call(
        [
            *_run_as_user(),
            cluster.pg_ctl,
            "-D",
            str(cluster.root / "data"),
            "-l",
            str(cluster.root / "server.log"),
            "-m",
            "fast",
            "-w",
            "-t",
            str(_START_TIMEOUT),
            "restart",
        ],
        "pg_ctl restart",
    )


@dataclass(slots=True)
class PrivateServer:
    """A cluster of one test's own, which it may stop and start again (same port)."""

    url: str
    _cluster: _Cluster

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``pg_ctl stop -m mode``), waiting until it is down."""
        cluster = self._cluster
        _call(
            [
                *_run_as_user(),
                cluster.pg_ctl,
                "-D",
                str(cluster.root / "data"),
                "-m",
                mode,
                "-w",
                "-t",
                str(_START_TIMEOUT),
                "stop",
            ],
            "pg_ctl stop",
        )

    def start(self) -> None:
        """Start the stopped server again on its port, waiting until it accepts."""
        cluster = self._cluster
        _call(
            [
                *_run_as_user(),
                cluster.pg_ctl,
                "-D",
                str(cluster.root / "data"),
                "-l",
                str(cluster.root / "server.log"),
                "-o",
                cluster.options,
                "-w",
                "-t",
                str(_START_TIMEOUT),
                "start",
            ],
            "pg_ctl start",
        )


@contextmanager
def private_server(settings: tuple[str, ...] = ()) -> Iterator[PrivateServer]:
    """Yield a throwaway cluster no one else uses; it is stopped and removed on exit.

    Never the shared cluster of `provide_postgres` nor ``SKILLBOX_TEST_POSTGRES_URL``:
    tests that stop or restart the server need one of their own. ``settings``
    (``name=value``) are added to the server's own, e.g. a Citus node's
    ``shared_preload_libraries=citus``.

    Raises:
        PostgresUnavailable: the cluster could not be started; the message says why.
    """
    cluster = _start(settings)
    try:
        yield PrivateServer(cluster.url, cluster)
    finally:
        _stop(cluster)


APPLICATION_ROLE: Final = "skillbox_app"
APPLICATION_DATABASE: Final = "skillbox_app"


def application_url(
    url: str, role: str = APPLICATION_ROLE, *, database: str | None = APPLICATION_DATABASE
) -> str:
    """Return a URL of the throwaway cluster for an application role: no superuser.

    A superuser (or a role with BYPASSRLS) escapes row-level security, so the stores
    that prove it run as a plain role, as production should: created here if missing
    (``LOGIN``, no password: the cluster trusts loopback), in ``database``, a database
    of its own that it owns (made if missing), so that no schema a superuser's test
    made first (``sandbox``, by default) stands in its way. ``database=None`` keeps
    ``url``'s database, where the role may create schemas (a Citus coordinator's, whose
    extension a new database would lack). A URL given in ``SKILLBOX_TEST_POSTGRES_URL``
    is used as given: its operator chose its role.

    Raises:
        PostgresUnavailable: the role or its database could not be made; the message
            says why.
    """
    import psycopg
    from psycopg import sql

    if os.environ.get(URL_ENV, "").strip():
        return url
    parts = urlsplit(url)
    target = database or parts.path.lstrip("/")
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if exists is None:
                # Another process of the same run may make it first.
                with contextlib.suppress(psycopg.errors.DuplicateObject):
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            if database is None:
                conn.execute(
                    sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                        sql.Identifier(target), sql.Identifier(role)
                    )
                )
            elif (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone()
                is None
            ):
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(target), sql.Identifier(role)
                        )
                    )
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"making the application role {role!r} failed: {exc}") from exc
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}", path=f"/{target}"))
