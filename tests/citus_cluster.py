"""A throwaway Citus cluster for tests: a coordinator and two workers on loopback ports.

Debian carries no Citus, so when the extension is missing from the PostgreSQL server
the tests use, `ensure_citus` builds it from source: ``SKILLBOX_CITUS_SOURCE`` (a
directory or a ``.tar.gz``) or else the unmodified v13.2.2 archive in
``../shared/vendor/citus/`` (see its README for the measured facts). Its build
dependencies are installed with apt-get first when missing, pinned to the versions of
the installed server and zstd library: an unpinned install upgrades ``postgresql-15``
under running clusters.

Each node is a private throwaway server of `skillbox_store.testing_postgres` with
``shared_preload_libraries=citus``; `citus_cluster` creates the extension on each, names
the coordinator and adds the workers. Nothing is ever skipped: `PostgresUnavailable`
says why the cluster could not be had, and the tests fail with it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psycopg

from skillbox_store.testing_postgres import (
    PostgresUnavailable,
    PrivateServer,
    _find_binary,
    private_server,
)

__all__ = ["SOURCE_ENV", "CitusCluster", "citus_cluster", "ensure_citus"]

SOURCE_ENV: Final = "SKILLBOX_CITUS_SOURCE"
_ARCHIVE: Final = (
    Path(__file__).resolve().parents[2] / "shared" / "vendor" / "citus" / "citus-v13.2.2.tar.gz"
)
# The packages Debian's image lacks for the build (configure stops on libcurl, make on
# gssapi/gssapi.h); the two pinned ones would otherwise pull a newer server or zstd.
_UNPINNED: Final = ("libcurl4-openssl-dev", "liblz4-dev", "libkrb5-dev")
_PINNED: Final = (
    ("postgresql-server-dev-{major}", "postgresql-{major}"),
    ("libzstd-dev", "libzstd1"),
)
_BUILD_TIMEOUT: Final = 1200
_SETTINGS: Final = ("shared_preload_libraries=citus",)
_HOST: Final = "127.0.0.1"


def _sibling(name: str) -> str:
    """The binary ``name`` of the same installation as the servers the tests start."""
    # pg_ctl on PATH may be a link (/usr/local/bin): its real directory has pg_config.
    return str(Path(_find_binary("pg_ctl")).resolve().with_name(name))


def _installed(pg_config: str) -> bool:
    if not Path(pg_config).exists():
        return False  # comes with the server's dev package, a build dependency
    try:
        share = subprocess.run(
            [pg_config, "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        lib = subprocess.run(
            [pg_config, "--pkglibdir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PostgresUnavailable(f"{pg_config} failed: {exc}") from exc
    return (Path(share) / "extension" / "citus.control").exists() and (
        Path(lib) / "citus.so"
    ).exists()


def _version(package: str) -> str | None:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status} ${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    status = done.stdout.split()
    if done.returncode != 0 or status[:3] != ["install", "ok", "installed"]:
        return None
    return status[3]


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    try:
        subprocess.run(
            command,
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except subprocess.CalledProcessError as exc:
        output = ((exc.stdout or "") + (exc.stderr or "")).strip()[-3000:]
        raise PostgresUnavailable(f"{what} failed:\n{output}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresUnavailable(f"{what} failed: {exc}") from exc


def _install_build_dependencies(major: str) -> None:
    wanted = [package for package in _UNPINNED if _version(package) is None]
    for package, installed_by in _PINNED:
        package = package.format(major=major)
        if _version(package) is not None:
            continue
        version = _version(installed_by.format(major=major))
        wanted.append(package if version is None else f"{package}={version}")
    if not wanted:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise PostgresUnavailable(
            f"Citus is not installed and its build dependencies are missing "
            f"({' '.join(wanted)}); install them (apt-get, as root) or Citus itself"
        )
    _run(["apt-get", "update", "-qq"], "apt-get update")
    _run(["apt-get", "install", "-y", "-qq", "--no-upgrade", *wanted], "apt-get install")


def _source(work: Path) -> Path:
    given = os.environ.get(SOURCE_ENV, "").strip()
    source = Path(given) if given else _ARCHIVE
    if source.is_dir():
        return source
    if not source.is_file():
        raise PostgresUnavailable(
            f"Citus is not installed and its source is missing: {source} (set {SOURCE_ENV} "
            "to a Citus source directory or .tar.gz)"
        )
    with tarfile.open(source) as archive:
        archive.extractall(work, filter="data")
    # GitHub's archives have one top directory; a plain `git archive` has none.
    configures = sorted([*work.glob("configure"), *work.glob("*/configure")])
    if not configures:
        raise PostgresUnavailable(f"{source} holds no configure script")
    return configures[0].parent


def ensure_citus() -> None:
    """Build and install Citus into the tests' PostgreSQL unless it is there already.

    Several test processes may ask at once: a file lock lets one build while the others
    wait, and they then find it installed.

    Raises:
        PostgresUnavailable: Citus could not be built or installed; the message says why.
    """
    pg_config = _sibling("pg_config")
    if _installed(pg_config):
        return
    with open(os.path.join(tempfile.gettempdir(), "skillbox-citus-build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(pg_config):
            return
        major = Path(pg_config).parts[-3]
        _install_build_dependencies(major)
        with tempfile.TemporaryDirectory(prefix="skillbox-citus-") as work:
            source = _source(Path(work))
            _run(["./configure", f"PG_CONFIG={pg_config}"], "Citus configure", cwd=source)
            _run(["make", f"-j{os.cpu_count() or 2}"], "Citus make", cwd=source)
            _run(["make", "install"], "Citus make install", cwd=source)
        if not _installed(pg_config):
            raise PostgresUnavailable("Citus was built and installed but pg_config does not see it")


@dataclass(slots=True)
class CitusCluster:
    """A running coordinator and its workers; the store connects to ``url`` only."""

    coordinator: PrivateServer
    workers: list[PrivateServer]

    @property
    def url(self) -> str:
        return self.coordinator.url

    def add_worker(self, stack: ExitStack) -> PrivateServer:
        """Start one more worker, kept until ``stack`` closes, and add it to the cluster."""
        worker = stack.enter_context(private_server(_SETTINGS))
        _create_extension(worker.url)
        _execute(self.url, "SELECT citus_add_node(%s, %s)", (_HOST, _port(worker.url)))
        self.workers.append(worker)
        return worker


def _execute(url: str, statement: str, params: tuple[object, ...] = ()) -> None:
    # Bytes: the statements are this module's constants, never composed from input.
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement.encode(), params)
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"{statement} on {url} failed: {exc}") from exc


def _create_extension(url: str) -> None:
    _execute(url, "CREATE EXTENSION IF NOT EXISTS citus")


def _port(url: str) -> int:
    return int(url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


@contextmanager
def citus_cluster(workers: int = 2) -> Iterator[CitusCluster]:
    """Yield a coordinator with ``workers`` workers, all stopped and removed on exit.

    Raises:
        PostgresUnavailable: Citus could not be built or a node could not be started.
    """
    ensure_citus()
    with ExitStack() as stack:
        coordinator = stack.enter_context(private_server(_SETTINGS))
        _create_extension(coordinator.url)
        _execute(
            coordinator.url,
            "SELECT citus_set_coordinator_host(%s, %s)",
            (_HOST, _port(coordinator.url)),
        )
        cluster = CitusCluster(coordinator, [])
        for _ in range(workers):
            cluster.add_worker(stack)
        yield cluster
