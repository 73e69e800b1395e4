"""`SqliteProbe` answers as `SqliteStore` does, and ``status`` prints the same through it.

The probe reads a SQLite store's ping, schema version and counts without importing the
records, for ``skillbox-store status`` (issue #22); it stands in for the store there, so
every answer and every failure must be the store's.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Coroutine
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from skillbox_store import StoreError, hash_key, open_store
from skillbox_store.backends.sqlite import SqliteStore
from skillbox_store.backends.sqlite import open as sqlite_open
from skillbox_store.backends.sqlite.probe import BUSY_TIMEOUT, STORE_CLASS, open_probe
from skillbox_store.cli import admin
from skillbox_store.cli.app import cli
from skillbox_store.migrations import latest_version
from skillbox_store.stats import TABLES

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _migrated(path: Path) -> str:
    url = f"sqlite:///{path}"

    async def fill() -> None:
        async with open_store(url) as store:
            await store.create_key("t", "n", hash_key("sk-probe"))

    run(fill())
    return url


def _newer(path: Path) -> str:
    url = _migrated(path)
    # What a newer skillbox-store would leave behind: a migration this code lacks.
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
            "VALUES (9999, '9999_future.sql', 'x', '2030-01-01T00:00:00.000000Z')"
        )
    return url


def _not_a_database(path: Path) -> str:
    path.write_bytes(b"not a database, " * 512)
    return f"sqlite:///{path}"


URLS: dict[str, Callable[[Path], str]] = {
    "migrated": _migrated,
    "newer": _newer,
    "fresh file": lambda path: f"sqlite:///{path}",
    "memory": lambda _: "sqlite:///:memory:",
    "not a database": _not_a_database,
    "missing directory": lambda path: f"sqlite:///{path.parent / 'no' / 'such.db'}",
    "no host slash": lambda _: "sqlite://store.db",
    "a query": lambda path: f"sqlite:///{path}?mode=ro",
}


def test_the_probe_names_the_store_and_opens_with_its_default_timeout() -> None:
    assert f"{SqliteStore.__module__}.{SqliteStore.__qualname__}" == STORE_CLASS
    assert sqlite_open.DEFAULT_BUSY_TIMEOUT == BUSY_TIMEOUT


async def _store_answers(url: str) -> tuple[int, dict[str, int] | None]:
    async with open_store(url, migrate=False, check_schema=False) as store:
        await store.ping()
        version = await store.schema_version()
        return version, await store.table_counts() if version else None  # type: ignore[attr-defined]


async def _probe_answers(url: str) -> tuple[int, dict[str, int] | None]:
    async with open_probe(url) as probe:
        await probe.ping()
        version = await probe.schema_version()
        return version, await probe.table_counts() if version else None


def _outcome(answers: Coroutine[Any, Any, Any]) -> object:
    try:
        return run(answers)
    except StoreError as exc:
        return type(exc), str(exc)


@pytest.mark.parametrize("kind", list(URLS))
def test_the_probe_answers_or_fails_as_the_store_does(tmp_path: Path, kind: str) -> None:
    url = URLS[kind](tmp_path / "store.db")
    probed = _outcome(_probe_answers(url))
    assert probed == _outcome(_store_answers(url))
    if kind == "migrated":
        assert probed == (latest_version(), {**dict.fromkeys(TABLES, 0), "api_keys": 1})


def _status(args: list[str], *, probe: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """Run ``status`` in-process, through the probe (or else through the store).

    Returns the exit status, the output with the ping's time masked, and whether the
    probe answered (or failed) instead of leaving it to the store.
    """
    probed_health = admin._probed_health
    # Per call: whether the probe answered; None while it runs, and so if it raised.
    answered: list[bool | None] = []

    def spy(settings: Any) -> Any:
        answered.append(None)
        health = probed_health(settings) if probe else None
        answered[-1] = health is not None
        return health

    with monkeypatch.context() as patched:
        patched.setattr(admin, "_probed_health", spy)
        patched.delenv("SKILLBOX_STORE_URL", raising=False)
        done = CliRunner().invoke(cli, args)
    # The ping's time is the one thing that may differ between two runs.
    shown = re.sub(r'(ping(?:_ms)?"?:\s*)[0-9.]+', r"\1<ms>", done.output)
    return done.exit_code, shown, answered in ([True], [None])


@pytest.mark.parametrize("output", [[], ["--json"]], ids=["text", "json"])
@pytest.mark.parametrize("kind", list(URLS))
def test_status_prints_the_same_through_the_probe_as_through_the_store(
    tmp_path: Path, kind: str, output: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off, as from a shell: a tracer provider another test set in this process would
    # otherwise turn telemetry on, and that opens the store (the test below).
    monkeypatch.setenv("SKILLBOX_STORE_TELEMETRY", "off")
    url = URLS[kind](tmp_path / "store.db")
    args = ["--url", url, "status", *output]
    code, shown, by_probe = _status(args, probe=True, monkeypatch=monkeypatch)
    assert by_probe
    assert (code, shown, False) == _status(args, probe=False, monkeypatch=monkeypatch)
    assert ("<ms>" in shown) == (code == 0)


def test_status_opens_the_store_when_telemetry_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telemetry's spans come from the instrumented store, which the probe is not."""
    pytest.importorskip("opentelemetry")
    monkeypatch.setenv("SKILLBOX_STORE_TELEMETRY", "on")
    url = _migrated(tmp_path / "store.db")
    code, shown, by_probe = _status(["--url", url, "status"], probe=True, monkeypatch=monkeypatch)
    assert code == 0
    assert not by_probe
    assert "skillbox_store.telemetry.proxy." in shown
