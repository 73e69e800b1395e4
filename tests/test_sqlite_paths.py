"""SQLite paths are literal, bad ones are refused clearly, and unit faults say what they are.

Each once went wrong: a path starting with ``file:`` was taken as a URI, bad paths
raised builtin exceptions, and any ``ValueError`` in a unit of work was reported as "the
connection is closed".
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from skillbox_store import (
    Execution,
    InvalidArgumentError,
    StoreError,
    UnavailableError,
    open_store,
)
from skillbox_store.backends.sqlite import SqliteStore, units
from skillbox_store.backends.sqlite.connection import file_uri

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _execution() -> Execution:
    return Execution(tenant_id="t", skill_name="s", skill_version="1")


async def _write_and_read_back(url: str, readers: int = 1) -> None:
    """Write through the writer, read through the readers: both must open the same file."""
    async with open_store(url, readers=readers) as store:
        stored = await store.create_execution(_execution())
        for _ in range(readers + 1):
            assert (await store.get_execution("t", stored.id)).id == stored.id
        assert [e.id for e in await store.list_executions("t")] == [stored.id]


# -- Item 6: paths are literal --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "file::memory:",
        "file:x%20y.db",
        "sp ace é%41.db",
        "mode=ro&cache=shared.db",
        "%00.db",
        ":memory:.db",
    ],
)
def test_a_path_is_the_file_it_names(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///file::memory:`` used to open a private memory database per
    connection (reads failed with "no such table"), and ``file:x%20y.db`` made
    ``x y.db``."""
    monkeypatch.chdir(tmp_path)
    run(_write_and_read_back(f"sqlite:///{name}", readers=2))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        name
    ]
    raw = sqlite3.connect(tmp_path / name)
    try:
        assert raw.execute("SELECT count(*) FROM executions").fetchone() == (1,)
    finally:
        raw.close()


def test_a_query_in_the_path_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="query"):
        run(_write_and_read_back(f"sqlite:///{tmp_path}/file:x.db?mode=memory"))


def test_absolute_paths_with_leading_double_slash_open_the_same_file(tmp_path: Path) -> None:
    run(_write_and_read_back(f"sqlite:////{tmp_path}/double.db"))
    assert (tmp_path / "double.db").is_file()


def test_the_uri_built_for_a_path_quotes_every_special_character() -> None:
    assert file_uri("/a b/%/?#/é") == "file:///a%20b/%25/%3F%23/%C3%A9"
    assert file_uri("//host/x") == "file:////host/x"


# -- Item 12: bad paths are refused with a clear error, never a builtin -----------------------


@pytest.mark.parametrize(
    ("path", "expected", "message"),
    [
        ("x" * 5_000 + ".db", InvalidArgumentError, "too long"),
        ("dir/" * 1_500 + "x.db", InvalidArgumentError, "too long"),
        ("n" * 300 + ".db", InvalidArgumentError, "too long"),
        ("a\x00b.db", InvalidArgumentError, "NUL"),
        ("a\udc80b.db", InvalidArgumentError, "surrogate"),
        ("a\ud800.db", InvalidArgumentError, "surrogate"),
        ("missing/x.db", InvalidArgumentError, "does not exist"),
        (".", InvalidArgumentError, "directory"),
        ("/proc/x.db", UnavailableError, "cannot open"),
    ],
)
def test_bad_paths_are_store_errors_saying_why(
    path: str,
    expected: type[StoreError],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(expected, match=message) as caught:
        run(_write_and_read_back(f"sqlite:///{path}"))
    assert type(caught.value) is expected
    str(caught.value).encode("utf-8")  # printable as it is, by the CLI too
    assert len(str(caught.value)) < 400


def test_a_file_under_a_regular_file_is_an_invalid_argument(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        run(_write_and_read_back(f"sqlite:///{tmp_path}/plain/x.db"))


# -- Item 13: faults of a unit of work say what they are --------------------------------------


def test_a_value_error_in_a_unit_is_reported_as_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> object:
        raise ValueError("the unit tripped over a value")

    async def body() -> None:
        async with open_store(f"sqlite:///{tmp_path / 'faults.db'}") as store:
            stored = await store.create_execution(_execution())
            with monkeypatch.context() as patch:
                patch.setattr(units, "get_execution", broken)
                patch.setattr(units, "insert_execution", broken)
                for call in (
                    store.get_execution("t", stored.id),
                    store.create_execution(_execution()),
                ):
                    with pytest.raises(StoreError) as caught:
                        await call
                    assert type(caught.value) is StoreError
                    assert "tripped over a value" in str(caught.value)
                    assert "ValueError" in str(caught.value)
                    assert "closed" not in str(caught.value)
            # The connection is fine: the next calls work, and nothing half-written stayed.
            assert (await store.get_execution("t", stored.id)).id == stored.id
            assert len(await store.list_executions("t")) == 1

    run(body())


def test_only_a_closed_connection_is_reported_closed(tmp_path: Path) -> None:
    async def body() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'closed.db'}")
        assert isinstance(store, SqliteStore)
        try:
            await store.connection.close()  # underneath the store
            with pytest.raises(StoreError, match="connection is closed"):
                await store.create_execution(_execution())
        finally:
            await store.close()

    run(body())
